"""Run one ``gantrans`` command in a child process and turn its JSON progress into Qt signals.

The GUI never runs long work (training, export, import, plugin installs) in its own process:
it starts the CLI with ``--progress json`` in a :class:`QProcess` and listens. The argv and the
event parsing come from :mod:`gantrans.jobs` (the one owner of that protocol); this module only
adds the Qt plumbing and the POSIX cancel (SIGINT, so training saves a checkpoint first).
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from gantrans.jobs import cli_error
from gantrans.jobs import command_argv as _command_argv
from gantrans.jobs import parse_event as _parse_event

#: Environment variable naming another interpreter to run ``gantrans`` with (tests use a venv).
PYTHON_ENV = "GANTRANS_GUI_PYTHON"


def gantrans_argv(args: list[str], *, progress: bool = True) -> list[str]:
    """The argv of ``gantrans ARGS [--progress json]``, with this or the configured interpreter."""
    argv = list(_command_argv(list(args)))
    if not progress:
        # command_argv appends the progress flag; plain commands (``--json`` listings) do not want it.
        for k in range(len(argv) - 1):
            if argv[k] == "--progress" and argv[k + 1] == "json":
                del argv[k:k + 2]
                break
    other = os.environ.get(PYTHON_ENV)
    if other and argv and argv[0] == sys.executable:
        argv[0] = other
    return argv


@functools.cache  # asked on every poll of the Runs view; an install takes a restart of the app
def can_train() -> bool:
    """Whether the ``gantrans`` the GUI runs can train, resume and export (its ``train`` extra:
    torch, onnx), checked without importing them: a translate-only install is told before a click."""
    if os.environ.get(PYTHON_ENV) and os.environ[PYTHON_ENV] != sys.executable:
        return True  # another interpreter: its own import error will say so
    from gantrans.extras import missing_extras

    return "train" not in missing_extras()


#: What a translate-only install lacks for training and export, and how to add it.
TRAIN_INSTALL = "pip install 'gantrans[train]'"


def parse_event(line: str) -> tuple[str, dict[str, Any]] | None:
    ev = _parse_event(line)
    if ev is None:
        return None
    return ev.event, dict(ev.data)


class JobRunner(QObject):
    """One child ``gantrans`` process; signals per event type, then ``finished(exit_code)``.

    Lines on stdout that are not events and everything on stderr arrive through ``output``
    (a person's view of the same command), so a dialog can stream them.
    """

    started = Signal(dict)          # the "start" event
    progress = Signal(dict)         # "progress" events
    message = Signal(str)
    warning = Signal(str)
    result = Signal(dict)
    error = Signal(str)             # the one-line error of the command, or a failure to start
    output = Signal(str)            # any other line (stderr, pip's output, ...)
    finished = Signal(int)          # exit code; 130 after a cancel, -1 when it could not start

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._proc: QProcess | None = None
        self._buf = {QProcess.ProcessChannel.StandardOutput: b"", QProcess.ProcessChannel.StandardError: b""}
        self._done_code: int | None = None
        self._error_seen = False
        self._events = True
        self._error_lines: list[str] = []
        self._detached_pid: int | None = None
        self.args: list[str] = []
        self.cancelled = False

    # -- control -----------------------------------------------------------------------------
    def start(self, args: list[str], *, cwd: str | None = None, progress: bool = True,
              env: dict[str, str] | None = None, detached_log: str | os.PathLike | None = None) -> None:
        """Start ``gantrans ARGS``.

        With ``detached_log`` (a path prefix) the child is started detached, its stdout and
        stderr going to ``PREFIX.events.jsonl`` / ``PREFIX.log``, which are tailed: such a job
        (a training) survives the GUI closing and can be left running on purpose.
        """
        if self.running():
            raise RuntimeError("a job is already running in this runner")
        self.args, self.cancelled, self._done_code, self._error_seen = list(args), False, None, False
        self._events, self._error_lines = progress, []
        self._buf = {k: b"" for k in self._buf}
        argv = gantrans_argv(args, progress=progress)
        proc = self._proc = QProcess(self)
        penv = QProcessEnvironment.systemEnvironment()
        penv.insert("PYTHONUNBUFFERED", "1")
        for k, v in (env or {}).items():
            penv.insert(k, v)
        proc.setProcessEnvironment(penv)
        if cwd:
            proc.setWorkingDirectory(str(cwd))
        proc.setProgram(argv[0])
        proc.setArguments(argv[1:])
        if detached_log is not None:
            self._start_detached(proc, Path(detached_log))
            return
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._failed)
        proc.start()

    def _start_detached(self, proc: QProcess, prefix: Path) -> None:
        # subprocess rather than QProcess: a QProcess kills its child when destroyed, and this
        # child must be able to outlive the window. Its own session keeps a terminal's Ctrl+C
        # aimed at the GUI away from it.
        prefix.parent.mkdir(parents=True, exist_ok=True)
        out = prefix.with_name(prefix.name + ".events.jsonl")
        err = prefix.with_name(prefix.name + ".log")
        self._files = {QProcess.ProcessChannel.StandardOutput: out, QProcess.ProcessChannel.StandardError: err}
        self._offsets = {k: 0 for k in self._files}
        env = {k: proc.processEnvironment().value(k) for k in proc.processEnvironment().keys()}
        try:
            with out.open("wb") as fo, err.open("wb") as fe:
                self._popen = subprocess.Popen([proc.program(), *proc.arguments()], stdout=fo, stderr=fe,
                                               stdin=subprocess.DEVNULL, env=env,
                                               cwd=proc.workingDirectory() or None, start_new_session=True)
        except OSError as exc:
            self._proc = None
            self.error.emit(f"could not start gantrans: {exc}")
            self.finished.emit(-1)
            return
        self._detached_pid = self._popen.pid
        self._timer = QTimer(self)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self._poll_detached)
        self._timer.start()

    def _poll_detached(self) -> None:
        code = self._popen.poll()
        for channel, path in self._files.items():
            try:
                with path.open("rb") as fh:
                    fh.seek(self._offsets[channel])
                    data = fh.read()
            except OSError:
                data = b""
            self._offsets[channel] += len(data)
            self._drain(channel, data, final=code is not None)
        if code is not None:
            self._timer.stop()
            self._detached_pid = None
            self._proc = None
            status = QProcess.ExitStatus.CrashExit if code < 0 else QProcess.ExitStatus.NormalExit
            self._finished(code if code >= 0 else 1, status)

    def running(self) -> bool:
        if self._detached_pid is not None:
            return self._popen.poll() is None
        return self._proc is not None and self._proc.state() != QProcess.ProcessState.NotRunning

    def pid(self) -> int | None:
        if self._detached_pid is not None:
            return self._detached_pid
        return int(self._proc.processId()) if self.running() else None

    def cancel(self) -> None:
        """Ctrl+C semantics: SIGINT on POSIX (training checkpoints first), terminate elsewhere."""
        if not self.running():
            return
        self.cancelled = True
        pid = self.pid()
        if os.name == "posix" and pid:
            os.kill(pid, signal.SIGINT)
        else:  # pragma: no cover - Windows
            self._proc.terminate()

    def kill(self) -> None:
        if self._detached_pid is not None:
            self._popen.kill()
        elif self.running():
            self._proc.kill()

    def leave_running(self) -> None:
        """Stop listening to a detached job; it goes on without the GUI (its run dir tells how)."""
        if self._detached_pid is not None:
            self._timer.stop()
            self._detached_pid = None
            self._proc = None

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the job ends (tests and shutdown only; the GUI listens to signals)."""
        if self._detached_pid is not None:
            from PySide6.QtCore import QDeadlineTimer, QThread

            deadline = QDeadlineTimer(msecs)
            while self._detached_pid is not None and not deadline.hasExpired():
                self._poll_detached()
                QThread.msleep(50)
            return self._detached_pid is None
        return self._proc.waitForFinished(msecs) if self._proc is not None else True

    # -- stream ------------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        self._drain(QProcess.ProcessChannel.StandardOutput, self._proc.readAllStandardOutput())

    def _read_stderr(self) -> None:
        self._drain(QProcess.ProcessChannel.StandardError, self._proc.readAllStandardError())

    def _drain(self, channel, data, final: bool = False) -> None:
        buf = self._buf[channel] + bytes(data)
        *lines, rest = buf.split(b"\n")
        if final and rest:
            lines.append(rest)
            rest = b""
        self._buf[channel] = rest
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            if channel == QProcess.ProcessChannel.StandardOutput:
                self._line(text)
            elif self._events and (message := cli_error(text)) is not None:
                # the error event says it: one line, once, through ``error`` (kept for a child
                # that died before it could send the event)
                self._error_lines.append(message)
            elif text.strip():
                self.output.emit(text)

    def _line(self, text: str) -> None:
        parsed = parse_event(text) if text.lstrip().startswith("{") else None
        if parsed is None:
            if text.strip():
                self.output.emit(text)
            return
        kind, data = parsed
        if kind == "start":
            self.started.emit(data)
        elif kind == "progress":
            self.progress.emit(data)
        elif kind == "message":
            self.message.emit(str(data.get("text", "")))
        elif kind == "warning":
            self.warning.emit(str(data.get("text", "")))
        elif kind == "result":
            self.result.emit(data)
        elif kind == "error":
            self._error_seen = True
            self.error.emit(str(data.get("message", "")))
        elif kind == "done":
            self._done_code = int(data.get("exit_code", 0))

    def _finished(self, code: int, status) -> None:
        proc = self._proc
        if proc is not None:
            self._drain(QProcess.ProcessChannel.StandardOutput, proc.readAllStandardOutput(), final=True)
            self._drain(QProcess.ProcessChannel.StandardError, proc.readAllStandardError(), final=True)
        if self._done_code is not None:
            code = self._done_code
        elif status == QProcess.ExitStatus.CrashExit:
            code = 130 if self.cancelled else (code or 1)
        if not self._error_seen and self._error_lines:
            self._error_seen = True
            self.error.emit(self._error_lines[-1])
        if code not in (0, 130) and not self._error_seen:
            self.error.emit(f"'gantrans {' '.join(self.args[:2])}' stopped with exit code {code}")
        self.finished.emit(int(code))

    def _failed(self, err) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            self.error.emit(f"could not start gantrans: {self._proc.errorString()}")
            self.finished.emit(-1)
