"""The ``gantrans`` command.

Exit codes: 0 success, 1 failure (one line on stderr; the traceback only with ``--debug``),
2 usage error, 130 interrupted (Ctrl+C / SIGINT), 143 stopped by SIGTERM. Subcommand modules
build their parsers without importing torch, so ``gantrans translate`` and ``gantrans --help``
stay fast and torch-free.

``--progress json`` (on long commands) switches stdout to the JSON event stream of
:mod:`gantrans.events` before anything else runs; this module reports the ``error`` and the
final ``done`` of every such command, and turns SIGTERM into a clean cancel (exit 143).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import os
import signal
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any

from gantrans import __version__, events
from gantrans.errors import GantransError, UsageError
from gantrans.extras import missing_extra

# Core subcommand modules; each exposes ``add_parsers(subparsers)``.
CORE_COMMAND_MODULES = (
    "gantrans.cli.plugins_cmd",
    "gantrans.cli.data_cmd",
    "gantrans.cli.train_cmd",
    "gantrans.cli.bench_cmd",
    "gantrans.cli.export_cmd",
    "gantrans.cli.infer_cmd",
    "gantrans.cli.eval_cmd",
    "gantrans.cli.demo_cmd",
    "gantrans.cli.runs_cmd",
)


class _Parser(argparse.ArgumentParser):
    """argparse with exit code 2 and a one-line message for usage errors."""

    def error(self, message: str):  # type: ignore[override]
        events.active().error(f"{self.prog}: {message}")
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gantrans",
        description="Train GANs for image-to-image translation, export them to ONNX and translate images.",
    )
    parser.add_argument("--version", action="version", version=f"gantrans {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module_name in CORE_COMMAND_MODULES:
        importlib.import_module(module_name).add_parsers(sub)
    _add_plugin_commands(sub)
    return parser


def _command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the (sub-)command ``args`` were parsed for: ``gantrans data make``'s, ..."""
    current, dest = parser, "command"
    while True:
        actions = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        chosen = getattr(args, dest, None) if actions else None
        if not chosen or chosen not in actions[0].choices:
            return current
        current, dest = actions[0].choices[chosen], f"{chosen}_command"


def _add_plugin_commands(sub: argparse._SubParsersAction) -> None:
    from gantrans.plugins import get_plugin_manager

    try:
        manager = get_plugin_manager()
    except GantransError as exc:  # strict mode: report, keep the core commands usable
        print(f"gantrans: {exc}", file=sys.stderr)
        _said_at_start.add(str(exc))
        return
    manager.add_commands(sub)


#: Errors already printed while the command line was built (strict mode): a command meeting the
#: same one exits 1 without printing it a second time.
_said_at_start: set[str] = set()


def _command_name(args: argparse.Namespace | None, argv: Sequence[str]) -> str | None:
    """``train``, ``data make``, ``plugins install`` ...: what a ``start`` event names."""
    if args is not None and getattr(args, "command", None):
        sub = getattr(args, f"{args.command}_command", None)
        return f"{args.command} {sub}" if sub else str(args.command)
    words = [a for a in argv if not a.startswith("-")]
    groups = ("data", "plugins", "bench", "runs")
    return " ".join(words[:2] if words[:1] and words[0] in groups else words[:1]) or None


_cancel_signal: list[int] = []


def _cancel_on_sigterm(signum, frame) -> None:  # noqa: ARG001
    """JSON mode: SIGTERM cancels like Ctrl+C, so the stream still ends with ``done``."""
    _cancel_signal.append(signum)
    raise KeyboardInterrupt


def _break_as_interrupt(signum, frame) -> None:  # noqa: ARG001
    """Windows: CTRL_BREAK reaches whatever handles Ctrl+C now (the trainer's, or KeyboardInterrupt)."""
    signal.raise_signal(signal.SIGINT)


def _report_plugin_failures() -> None:
    """One line on stderr when plugins failed to load or register, once per command."""
    from gantrans import console
    from gantrans.plugins import get_plugin_manager

    manager = get_plugin_manager()
    manager.registries  # noqa: B018 - hook failures are known once the registries are built
    manager.report_failures(lambda line: console.warning(line.removeprefix("warning: ")))


def _install_warning_line() -> None:
    """gantrans's own warnings as one ``gantrans: warning:`` line (a ``warning`` event in JSON mode);
    other warnings go to whatever handler was in place."""
    from gantrans import console
    from gantrans.recipe import NetworkOptionWarning

    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        if issubclass(category, NetworkOptionWarning):
            console.warning(str(message))
        else:
            previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def _take_debug(argv: list[str]) -> tuple[list[str], bool]:
    """``--debug`` is global but may come anywhere (``gantrans train ... --debug``): take it out.

    Arguments after ``--`` are left alone; ``--debug`` before the subcommand stays where
    argparse expects it.
    """
    end = argv.index("--") if "--" in argv else len(argv)
    if "--debug" not in argv[:end]:
        return argv, False
    first = next((i for i, a in enumerate(argv[:end]) if not a.startswith("-")), end)
    kept = [a for i, a in enumerate(argv[:end]) if a != "--debug" or i < first]
    return kept + argv[end:], True


def main(argv: Sequence[str] | None = None) -> int:
    from_command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if events.progress_mode(argv) != "json" or os.environ.get("RANK", "0") != "0":
        return _main(argv)  # under torchrun only rank 0 speaks JSON
    reporter = events.enable_json(_command_name(None, argv))
    # SIGINT is how a driving program cancels (Job.cancel, the GUI), so it must reach us even
    # where our parent was started with SIGINT ignored — as a shell does for a job run with
    # '&' — which every child would otherwise inherit: the cancel would be lost.
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    old_term = signal.signal(signal.SIGTERM, _cancel_on_sigterm)
    sigbreak = getattr(signal, "SIGBREAK", None)  # Windows: Job.cancel() sends CTRL_BREAK_EVENT
    old_break = signal.signal(sigbreak, _break_as_interrupt) if sigbreak is not None else None
    code = 1
    try:
        code = _main(argv, reporter)
    finally:
        if from_command_line:  # before done is written: a reader may cancel the moment it reads it
            _ignore_cancels_after_done()
        else:
            signal.signal(signal.SIGTERM, old_term)
            signal.signal(signal.SIGINT, old_int)
        if sigbreak is not None:
            signal.signal(sigbreak, old_break)
        reporter.done(code)
        events.disable_json()
    return code


def _ignore_cancels_after_done() -> None:
    """From ``done`` on, a cancel is ignored: the work it would have cancelled is finished, and
    the process, which exits on its own once the interpreter is torn down (torch's teardown
    takes a moment), must exit with the code the stream announced, as the docs promise.

    Ignored rather than handled: a Python handler runs only while the interpreter runs bytecode,
    and finalization puts SIGTERM and SIGINT back to their default (death by the signal, 143)
    unless they are ignored; a clean-clone CI run still saw -15 with a handler calling
    ``os._exit(code)``."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


class _ErrorDocument:
    """The reporter of a command given ``--json`` (a document on stdout, not a stream): it keeps
    the error it is told, so a failure still prints a JSON document, ``{"error", "exit_code"}``,
    where a script parses one (docs/progress-json.md, "--json documents")."""

    def __init__(self, reporter: events.Reporter):
        self._reporter, self.errors, self.wanted = reporter, [], False

    def error(self, message: str) -> None:
        self.errors.append(message)
        self._reporter.error(message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reporter, name)

    def finish(self, code: int) -> None:
        if self.wanted and code != 0:
            message = self.errors[-1] if self.errors else "interrupted" if code >= 128 else f"exit code {code}"
            print(json.dumps({"error": message, "exit_code": code}))


def _main(argv: list[str], reporter: events.Reporter | None = None) -> int:
    reporter = reporter or events.active()
    if isinstance(reporter, events.JsonReporter):  # the stream says it
        return _run_command(argv, reporter)
    document = _ErrorDocument(reporter)
    code = _run_command(argv, document)
    document.finish(code)
    return code


def _run_command(argv: list[str], reporter: Any) -> int:
    _install_warning_line()
    argv, debug = _take_debug(argv)
    debug = debug or os.environ.get("GANTRANS_DEBUG") == "1"
    try:
        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # said by the command they were given to, with its usage, not the top level's
            _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
        if isinstance(reporter, events.JsonReporter):
            reporter.command = _command_name(args, argv)
        elif isinstance(reporter, _ErrorDocument):
            reporter.wanted = getattr(args, "json", False) is True
        func = getattr(args, "func", None)
        if func is None:
            # ``gantrans`` alone or a command group without its subcommand.
            target = getattr(args, "_group_parser", parser)
            target.print_help(sys.stderr)
            return 2
        if args.command != "plugins":  # 'plugins' commands show failures themselves
            _report_plugin_failures()
        code = func(args)
        return int(code or 0)
    except UsageError as exc:  # worded and numbered as argparse's own usage errors
        prog = " ".join(["gantrans", *filter(None, [_command_name(None, argv)])])
        print(f"{prog}: error: {exc}", file=sys.stderr)
        reporter.error(f"{prog}: {exc}")
        return 2
    except GantransError as exc:
        if debug:
            traceback.print_exc()
        if str(exc) not in _said_at_start:
            print(f"gantrans: error: {exc}", file=sys.stderr)
        reporter.error(str(exc))
        return 1
    except ImportError as exc:
        extra = missing_extra(exc)
        if extra is None:
            raise
        if debug:
            traceback.print_exc()
        command = next((a for a in argv if not a.startswith("-")), "")
        message = f"'gantrans {command}' needs {exc.name}, which is not installed: pip install 'gantrans[{extra}]'"
        print(f"gantrans: error: {message}", file=sys.stderr)
        reporter.error(message)  # a parent reading --progress json learns why, not just the exit code
        return 1
    except KeyboardInterrupt:
        print("gantrans: interrupted", file=sys.stderr)
        reporter.message("interrupted")
        return 128 + _cancel_signal.pop() if _cancel_signal else 130
    except SystemExit as exc:  # argparse --help / usage errors
        return int(exc.code or 0) if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, getattr(errno, "EDQUOT", None)):
            return _internal_error(exc, debug, reporter)
        if debug:
            traceback.print_exc()
        where = f" while writing {exc.filename}" if exc.filename else ""
        print(f"gantrans: error: no space left on device{where}", file=sys.stderr)
        reporter.error(f"no space left on device{where}")
        return 1
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line unless --debug
        return _internal_error(exc, debug, reporter)


def _internal_error(exc: BaseException, debug: bool, reporter: events.Reporter) -> int:
    if debug:
        traceback.print_exc()
    else:
        msg = str(exc).splitlines()[0] if str(exc) else ""
        print(f"gantrans: internal error: {type(exc).__name__}: {msg} (run with --debug for the traceback)",
              file=sys.stderr)
    reporter.error(f"internal error: {type(exc).__name__}: {str(exc).strip()[:500]}")
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
