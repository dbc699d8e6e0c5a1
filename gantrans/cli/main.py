"""The ``gantrans`` command.

Exit codes: 0 success, 1 failure (one line on stderr; the traceback only with ``--debug``),
2 usage error, 130 interrupted. Subcommand modules build their parsers without importing
torch, so ``gantrans translate`` and ``gantrans --help`` stay fast and torch-free.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from gantrans import __version__
from gantrans.errors import GantransError

# Core subcommand modules; each exposes ``add_parsers(subparsers)``.
CORE_COMMAND_MODULES = (
    "gantrans.cli.plugins_cmd",
    "gantrans.cli.data_cmd",
    "gantrans.cli.train_cmd",
    "gantrans.cli.bench_cmd",
    "gantrans.cli.export_cmd",
    "gantrans.cli.infer_cmd",
    "gantrans.cli.demo_cmd",
)


class _Parser(argparse.ArgumentParser):
    """argparse with exit code 2 and a one-line message for usage errors."""

    def error(self, message: str):  # type: ignore[override]
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


def _add_plugin_commands(sub: argparse._SubParsersAction) -> None:
    from gantrans.plugins import get_plugin_manager

    try:
        manager = get_plugin_manager()
    except GantransError as exc:  # strict mode: report, keep the core commands usable
        print(f"gantrans: {exc}", file=sys.stderr)
        return
    manager.call_each("register_commands", subparsers=lambda origin: sub, context=lambda origin: {})


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
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, debug = _take_debug(argv)
    debug = debug or os.environ.get("GANTRANS_DEBUG") == "1"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        func = getattr(args, "func", None)
        if func is None:
            # ``gantrans`` alone or a command group without its subcommand.
            target = getattr(args, "_group_parser", parser)
            target.print_help(sys.stderr)
            return 2
        code = func(args)
        return int(code or 0)
    except GantransError as exc:
        if debug:
            traceback.print_exc()
        print(f"gantrans: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gantrans: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # argparse --help / usage errors
        return int(exc.code or 0) if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line unless --debug
        if debug:
            traceback.print_exc()
        else:
            msg = str(exc).splitlines()[0] if str(exc) else ""
            print(f"gantrans: internal error: {type(exc).__name__}: {msg} (run with --debug for the traceback)",
                  file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
