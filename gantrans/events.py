"""Machine-readable progress: the ``--progress json`` event stream of long commands.

One JSON object per line on stdout, nothing else on stdout (the schema, version
:data:`SCHEMA_VERSION`, is documented in ``docs/progress-json.md`` and
``docs/progress-json.schema.json``). In the default, human mode the reporter is a
:class:`Reporter` whose methods do nothing: commands print their prose and progress bars as
before. :func:`enable_json` swaps in a :class:`JsonReporter` and sends everything else that
would reach stdout (prints, child processes such as pip) to stderr instead, at the file
descriptor level, so the stream stays clean whatever a library prints.

Torch-free and Qt-free.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
import warnings
from collections import deque
from typing import IO, Any

SCHEMA_VERSION = 1
EVENTS = ("start", "progress", "message", "warning", "result", "error", "done")
PROGRESS_MODES = ("bar", "json")

# Exit codes a ``done`` event carries (and the process exits with).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SIGINT, EXIT_SIGTERM = 0, 1, 2, 130, 143


class Reporter:
    """The human-mode reporter: every method is a no-op (commands print for people themselves)."""

    json = False

    def expect(self, command: str, unit: str) -> None:
        """What the stream's ``start`` names should a message or warning come before it."""

    def start(self, command: str | None = None, total: int | None = None, unit: str = "item",
              **extra: Any) -> None:
        pass

    def progress(self, done: int, total: int | None = None, *, rate: float | None = None,
                 eta_s: float | None = None, force: bool = False, **extra: Any) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def warning(self, text: str) -> None:
        pass

    def result(self, files: list[str] | None = None, figures: dict[str, Any] | None = None,
               **extra: Any) -> None:
        pass

    def error(self, message: str) -> None:
        pass

    def done(self, exit_code: int) -> None:
        pass


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become null (JSON has no NaN), paths become strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


class JsonReporter(Reporter):
    """Writes one JSON event per line to ``stream``; thread-safe; ``progress`` throttled.

    A stream always starts with ``start`` and ends with ``done``: an ``error`` or ``done``
    before any ``start`` (a usage error, say) emits a ``start`` with ``total: null`` first.
    """

    json = True

    def __init__(self, stream: IO[str], command: str | None = None, min_interval: float = 0.2):
        self.stream = stream
        self.command = command
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._started = False
        self._finished = False
        self._last_progress = -math.inf
        self._unit = "item"

    def emit(self, event: str, **fields: Any) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown progress event {event!r}")
        # ASCII with \u escapes: a file name that is not valid UTF-8 (Python keeps its bytes as
        # lone surrogates) or a stream in an ASCII locale cannot fail the write and lose the
        # event, and a reader gets the name back exactly (os.fsencode of the decoded string).
        line = json.dumps({"v": SCHEMA_VERSION, "event": event, **_clean(fields)}, ensure_ascii=True)
        with self._lock:
            if self._finished:
                return
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError, OSError):  # the reader went away: nothing to tell
                pass

    def _ensure_started(self) -> None:
        if not self._started:
            self.start(self.command, None, self._unit)

    def expect(self, command: str, unit: str) -> None:
        if not self._started:
            self.command, self._unit = command, unit

    def start(self, command: str | None = None, total: int | None = None, unit: str = "item",
              **extra: Any) -> None:
        if self._started:  # begun by an earlier message: the totals and extra fields come as progress
            if unit != self._unit:  # ... and so does what they count, when the start had to guess
                extra = {**extra, "unit": unit}
                self._unit = unit
            if total is not None or extra:
                self.progress(int(extra.get("initial") or 0), total, force=True, **extra)
            return
        self._started = True
        self.command = command or self.command
        self._unit = unit
        self.emit("start", command=self.command, total=total, unit=unit, **extra)

    def progress(self, done: int, total: int | None = None, *, rate: float | None = None,
                 eta_s: float | None = None, force: bool = False, **extra: Any) -> None:
        self._ensure_started()
        clock = time.monotonic()
        if not force and (total is None or done < total) and clock - self._last_progress < self.min_interval:
            return
        self._last_progress = clock
        self.emit("progress", done=int(done), total=total, rate=rate, eta_s=eta_s, **extra)

    def message(self, text: str) -> None:
        self._ensure_started()
        self.emit("message", text=_one_line(text))

    def warning(self, text: str) -> None:
        self._ensure_started()
        self.emit("warning", text=_one_line(text))

    def result(self, files: list[str] | None = None, figures: dict[str, Any] | None = None,
               **extra: Any) -> None:
        self._ensure_started()
        self.emit("result", files=[str(f) for f in files or []], figures=dict(figures or {}), **extra)

    def error(self, message: str) -> None:
        self._ensure_started()
        self.emit("error", message=_one_line(message))

    def done(self, exit_code: int) -> None:
        self._ensure_started()
        self.emit("done", exit_code=int(exit_code))
        with self._lock:
            self._finished = True


def _one_line(text: str) -> str:
    lines = [x.strip() for x in str(text).strip().splitlines() if x.strip()]
    return " ".join(lines) if lines else ""


_active: Reporter = Reporter()


def active() -> Reporter:
    """The reporter of this process (a no-op :class:`Reporter` unless ``--progress json``)."""
    return _active


def json_mode() -> bool:
    return _active.json


def set_reporter(reporter: Reporter) -> Reporter:
    """Install ``reporter`` for this process; returns the previous one (tests restore it)."""
    global _active
    previous, _active = _active, reporter
    return previous


def enable_json(command: str | None = None) -> JsonReporter:
    """Switch this process to the JSON stream on stdout; everything else written to stdout goes to stderr.

    File descriptor 1 is duplicated for the stream and then pointed at stderr, so output
    from C libraries and child processes cannot interleave with the events either.
    """
    saved_fd: int | None = None
    if sys.stdout is None:  # started with stdout closed: nobody reads the stream, the work still runs
        stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    else:
        sys.stdout.flush()
        saved_fd = os.dup(1)
        stream = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1, newline="\n")
        os.dup2(2, 1)
    reporter = JsonReporter(stream, command)
    _saved.append((saved_fd, sys.stdout, set_reporter(reporter), warnings.showwarning))
    sys.stdout = sys.stderr
    warnings.showwarning = _show_warning
    return reporter


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """JSON mode: gantrans's own warnings (a skipped image ...) become ``warning`` events."""
    if getattr(category, "__module__", "").startswith("gantrans"):
        _active.warning(str(message))
    else:
        previous = _saved[-1][3] if _saved else warnings.showwarning
        previous(message, category, filename, lineno, file, line)


def disable_json() -> None:
    """Undo :func:`enable_json` (for in-process callers; a CLI process simply exits)."""
    if not _saved:
        return
    saved_fd, stdout, previous, showwarning = _saved.pop()
    warnings.showwarning = showwarning
    reporter = set_reporter(previous)
    if isinstance(reporter, JsonReporter):
        try:
            reporter.stream.close()
        except OSError:
            pass
    sys.stderr.flush()
    if saved_fd is not None:
        os.dup2(saved_fd, 1)
        os.close(saved_fd)
    sys.stdout = stdout


_saved: list[tuple[int | None, Any, Reporter, Any]] = []


def progress_mode(argv: list[str]) -> str | None:
    """The value of ``--progress`` in ``argv`` (before any ``--``), without a full parse."""
    for i, token in enumerate(argv):
        if token == "--":
            return None
        if token == "--progress" and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith("--progress="):
            return token.split("=", 1)[1]
    return None


def add_progress_argument(parser: Any) -> None:
    """``--progress {bar,json}`` on a long command (read early by the CLI's ``main``)."""
    parser.add_argument("--progress", choices=PROGRESS_MODES, default="bar",
                        help="bar (default): prose and a progress bar for people; json: one JSON event "
                             "per line on stdout (see docs/progress-json.md)")


class Rate:
    """Items per second over a sliding window of the last ``window`` seconds, and the ETA."""

    def __init__(self, window: float = 20.0):
        self.window = window
        self._points: deque[tuple[float, float]] = deque()

    def update(self, done: float, total: float | None = None) -> tuple[float | None, float | None]:
        clock = time.monotonic()
        self._points.append((clock, float(done)))
        while len(self._points) > 2 and clock - self._points[0][0] > self.window:
            self._points.popleft()
        (t0, d0), (t1, d1) = self._points[0], self._points[-1]
        if t1 - t0 <= 0 or d1 <= d0:
            return None, None
        rate = (d1 - d0) / (t1 - t0)
        eta = max(0.0, (total - done) / rate) if total is not None else None
        return rate, eta
