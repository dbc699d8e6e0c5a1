"""Run a ``gantrans`` command as a child process and read its ``--progress json`` stream.

For the GUI (which wraps :func:`command_argv` and :func:`parse_event` in a ``QProcess``) and
for plain Python (:class:`Job`, used by the tests and scripts)::

    job = Job(["export", "runs/horse2zebra"]).start()
    for ev in job.events():
        if ev.event == "progress":
            print(ev.data["done"], ev.data["total"])
    code = job.wait()

Imports neither torch nor Qt. The stream is described in ``docs/progress-json.md``.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gantrans.events import EVENTS, SCHEMA_VERSION


def command_argv(args: Sequence[str]) -> list[str]:
    """The full argv that runs ``gantrans ARGS --progress json`` with this interpreter.

    ``--progress json`` goes before a ``--`` separator when ``args`` has one.
    """
    args = [str(a) for a in args]
    extra = ["--progress", "json"]
    if "--" in args:
        cut = args.index("--")
        args = args[:cut] + extra + args[cut:]
    else:
        args = args + extra
    return [sys.executable, "-m", "gantrans", *args]


#: The command line's error line on stderr (``gantrans: error: ...``; ``gantrans train: error: ...``
#: for a usage error; ``gantrans: internal error: ...``). In ``--progress json`` mode an ``error``
#: event carries the same words.
CLI_ERROR_LINE = re.compile(r"^gantrans(?: [\w-]+)*: (?:internal )?error: ")


def cli_error(line: str) -> str | None:
    """The message of a command's stderr error line (with ``internal error: `` kept), else None."""
    match = CLI_ERROR_LINE.match(line.strip())
    if match is None:
        return None
    rest = line.strip()[match.end():].strip()
    return f"internal error: {rest}" if "internal error: " in match.group(0) else rest


@dataclass(frozen=True)
class JobEvent:
    """One event of the stream: ``event`` is its kind, ``data`` the whole JSON object."""

    event: str
    data: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def parse_event(line: str | bytes) -> JobEvent | None:
    """A line of the stream as a :class:`JobEvent`; None for anything that is not an event.

    Events of a newer schema version are still returned (new fields are additions); a reader
    that needs to know checks ``data["v"]``.
    """
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str) or not isinstance(data.get("v"), int):
        return None
    return JobEvent(data["event"], data)


class Job:
    """``gantrans ARGS --progress json`` in a child process: start, read events, cancel, wait.

    stderr (tracebacks with ``--debug``, library noise) is collected in :attr:`stderr_lines`
    (the last 500 lines) by a background thread, so the child never blocks on a full pipe.
    """

    def __init__(self, args: Sequence[str], cwd: str | os.PathLike | None = None,
                 env: Mapping[str, str] | None = None):
        self.args = [str(a) for a in args]
        self.cwd = Path(cwd) if cwd is not None else None
        self.env = dict(env) if env is not None else None
        self.process: subprocess.Popen[str] | None = None
        self.stderr_lines: collections.deque[str] = collections.deque(maxlen=500)
        self.received: list[JobEvent] = []
        self.stray_lines: list[str] = []  # stdout lines that were not events (there should be none)
        self._stderr_thread: threading.Thread | None = None

    @property
    def argv(self) -> list[str]:
        return command_argv(self.args)

    def start(self) -> Job:
        if self.process is not None:
            raise RuntimeError("job already started")
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONIOENCODING", "utf-8")
        kwargs: dict[str, Any] = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        self.process = subprocess.Popen(self.argv, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        encoding="utf-8", errors="replace", bufsize=1, **kwargs)
        self._stderr_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_thread.start()
        return self

    def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_lines.append(line.rstrip("\n"))

    def events(self) -> Iterator[JobEvent]:
        """The events as they arrive; ends when the child closes its stdout."""
        if self.process is None:
            self.start()
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            event = parse_event(line)
            if event is not None:
                self.received.append(event)
                yield event
            elif line.strip():
                self.stray_lines.append(line.rstrip("\n"))

    def cancel(self) -> None:
        """Ask the command to stop (SIGINT, like Ctrl+C): training saves a checkpoint first."""
        if self.process is None or self.process.poll() is not None:
            return
        if sys.platform == "win32":
            self.process.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
        else:
            self.process.send_signal(signal.SIGINT)

    def wait(self, timeout: float | None = None) -> int:
        """Read what is left of the stream, wait for the exit and return the exit code."""
        if self.process is None:
            raise RuntimeError("job not started")
        if self.process.stdout is not None and not self.process.stdout.closed:
            for _ in self.events():
                pass
        code = self.process.wait(timeout)
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=5)
        return code

    @property
    def exit_code(self) -> int | None:
        """The exit code the ``done`` event reported (None before it arrived)."""
        for event in reversed(self.received):
            if event.event == "done":
                return int(event.data.get("exit_code", 1))
        return None

    def errors(self) -> list[str]:
        return [str(e.data.get("message", "")) for e in self.received if e.event == "error"]


__all__ = ["EVENTS", "SCHEMA_VERSION", "Job", "JobEvent", "command_argv", "parse_event"]
