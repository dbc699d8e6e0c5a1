"""Ask the ``gantrans`` CLI a short question (``plugins list --json``, ``data info --json``).

The answer arrives through a signal; the event loop never waits for the child process.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QObject, QProcess, Signal

from gantrans.jobs import cli_error
from gantrans_gui.job_runner import gantrans_argv


class CliQuery(QObject):
    """Runs ``gantrans ARGS`` and emits ``answered(exit_code, stdout, stderr)``."""

    answered = Signal(int, str, str)

    def __init__(self, args: list[str], parent: QObject | None = None):
        super().__init__(parent)
        self.args = list(args)
        self.proc = QProcess(self)
        self.proc.finished.connect(self._done)
        self.proc.errorOccurred.connect(self._failed)
        self._reported = False

    def start(self) -> CliQuery:
        argv = gantrans_argv(self.args, progress=False)
        self.proc.start(argv[0], argv[1:])
        return self

    def running(self) -> bool:
        return self.proc.state() != QProcess.ProcessState.NotRunning

    def stop(self) -> None:
        """Kill an unanswered question (the window is closing)."""
        if self.running():
            self._reported = True
            self.proc.kill()
            self.proc.waitForFinished(3000)

    def _done(self, code: int, _status) -> None:
        if self._reported:
            return
        self._reported = True
        out = bytes(self.proc.readAllStandardOutput()).decode("utf-8", "replace")
        err = bytes(self.proc.readAllStandardError()).decode("utf-8", "replace")
        self.answered.emit(int(code), out, err)

    def _failed(self, err) -> None:
        if err == QProcess.ProcessError.FailedToStart and not self._reported:
            self._reported = True
            self.answered.emit(-1, "", self.proc.errorString())


def parse_json(stdout: str) -> Any:
    """The JSON document a ``--json`` command printed (None if it printed none)."""
    try:
        return json.loads(stdout)
    except ValueError:
        start = stdout.find("{")
        if start > 0:
            try:
                return json.loads(stdout[start:])
            except ValueError:
                return None
        return None


def last_error_line(stderr: str) -> str:
    """The CLI's one-line error (``gantrans: error: ...``), else the last line it printed."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in reversed(lines):
        message = cli_error(ln)
        if message is not None:
            return message
    return lines[-1] if lines else ""
