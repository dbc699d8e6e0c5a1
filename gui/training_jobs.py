"""The trainings this GUI started: one :class:`JobRunner` per run, shared by the views.

Trainings are started detached (their events go to a log that is tailed), so closing the
window can leave them running on purpose; :class:`CloseGuard` asks whether to stop them or
leave them running when the main window is closed.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog

from gantrans_gui.job_runner import JobRunner


def jobs_log_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(base or Path.home() / ".gantrans") / "jobs"


def _log_prefix(run_name: str) -> Path:
    """Where a start of ``run_name`` writes its console output (``.log``) and events."""
    return jobs_log_dir() / f"{run_name}-{time.strftime('%Y%m%d-%H%M%S')}"


def last_job_log(run_name: str) -> Path | None:
    """The console output of the last start of ``run_name`` from this app, if it is still kept."""
    own = re.compile(re.escape(run_name) + r"-\d{8}-\d{6}\.log")
    try:
        logs = [p for p in jobs_log_dir().glob("*.log") if own.fullmatch(p.name)]
        return max(logs, key=lambda p: p.stat().st_mtime, default=None)
    except OSError:
        return None


def report_job_failure(window: Any, job: TrainingJob, code: int, doing: str) -> bool:
    """Show a training child that failed in the window's one error dialog; True if it failed.

    The message is the command's one-line error, the details its last lines of output. Exit 0
    and 130 (stopped: a checkpoint was saved) are not failures.
    """
    from gantrans_gui import view_support

    if code in (0, 130):
        return False
    view_support.show_error(window, f"{doing} {job.name} failed: {job.error or f'exit code {code}'}",
                            "\n".join(job.output[-40:]))
    return True


def _prune_logs(folder: Path, keep: int = 40) -> None:
    """Keep the newest event logs of detached trainings; the runs themselves hold the record."""
    try:
        logs = sorted(folder.glob("*.events.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in logs[keep:]:
        for f in (old, old.with_name(old.name.replace(".events.jsonl", ".log"))):
            try:
                f.unlink()
            except OSError:
                pass


class TrainingJob(QObject):
    """One training child: its run folder, latest progress and losses, and what it said.

    ``output`` holds the lines a person would have seen on the terminal — messages, warnings,
    the error and any other output — for every view that shows this job, wherever it started.
    """

    stopping = Signal()  # asked to stop (Ctrl+C): it saves a checkpoint, then finishes with 130

    def __init__(self, run_dir: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.run_dir = Path(run_dir)
        self.runner = JobRunner(self)
        self.last_progress: dict[str, Any] = {}
        self.exit_code: int | None = None
        self.error: str = ""
        self.output: list[str] = []  # the last 200 lines
        self.lines = 0  # every line said so far: a view can tell new lines from the capped list
        self.runner.progress.connect(self._progress)
        self.runner.message.connect(self._output)
        self.runner.warning.connect(lambda text: self._output(f"warning: {text}"))
        self.runner.error.connect(self._error)
        self.runner.output.connect(self._output)
        self.runner.finished.connect(self._finished)

    @property
    def name(self) -> str:
        return self.run_dir.name

    def _progress(self, data: dict) -> None:
        self.last_progress = data

    def _error(self, text: str) -> None:
        self.error = text
        self._output(f"error: {text}")

    def _output(self, text: str) -> None:
        self.output = (self.output + [text])[-200:]
        self.lines += 1

    def stop(self) -> bool:
        """Ask the training to stop (it saves a checkpoint first); False when it is not running."""
        if not self.runner.running():
            return False
        self.runner.cancel()
        self.stopping.emit()
        return True

    def _finished(self, code: int) -> None:
        self.exit_code = code


class TrainingJobs(QObject):
    """Registry of trainings started from this window, keyed by run folder."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.jobs: dict[Path, TrainingJob] = {}

    def start(self, args: list[str], run_dir: str | Path) -> TrainingJob:
        """Run ``gantrans ARGS`` (a ``train`` command) whose run folder will be ``run_dir``."""
        run_dir = Path(run_dir).resolve()
        old = self.jobs.get(run_dir)
        if old is not None and old.runner.running():
            raise RuntimeError(f"{run_dir.name} is already training")
        job = TrainingJob(run_dir, self)
        job.runner.finished.connect(lambda _c: self.changed.emit())
        self.jobs[run_dir] = job
        _prune_logs(jobs_log_dir())
        job.runner.start(args, detached_log=_log_prefix(run_dir.name))
        self.changed.emit()
        return job

    def resume(self, run_dir: str | Path) -> TrainingJob:
        return self.start(["train", "--resume", str(run_dir)], run_dir)

    def get(self, run_dir: str | Path) -> TrainingJob | None:
        return self.jobs.get(Path(run_dir).resolve())

    def running(self) -> list[TrainingJob]:
        return [j for j in self.jobs.values() if j.runner.running()]

    def stop(self, run_dir: str | Path) -> bool:
        job = self.get(run_dir)
        return job is not None and job.stop()

    def stop_all(self, wait_ms: int = 60000) -> None:
        """Ctrl+C every training and wait for their checkpoints (window closing)."""
        jobs = self.running()
        for job in jobs:
            job.runner.cancel()
        for job in jobs:
            job.runner.wait(wait_ms)

    def leave_all(self) -> None:
        for job in self.running():
            job.runner.leave_running()


def training_jobs(window: Any) -> TrainingJobs:
    """The window's one :class:`TrainingJobs` (created on first use, with its close guard)."""
    jobs = getattr(window, "_gantrans_training_jobs", None)
    if jobs is None:
        jobs = TrainingJobs(window if isinstance(window, QObject) else None)
        window._gantrans_training_jobs = jobs
        if isinstance(window, QObject):
            guard = CloseGuard(window, jobs)
            window.installEventFilter(guard)
            window._gantrans_close_guard = guard
    return jobs


class CloseGuard(QObject):
    """Asks, when the window closes during a training, whether to stop it or leave it running."""

    #: Test hook: a callable returning "stop", "leave" or "cancel" instead of showing the dialog.
    ask = None
    #: How long "Stop training" waits for the checkpoints before the window closes anyway.
    STOP_WAIT_MS = 120_000

    def __init__(self, window: Any, jobs: TrainingJobs):
        super().__init__(window)
        self.window_ = window
        self.jobs = jobs
        self.note: QProgressDialog | None = None

    def choose(self, names: list[str]) -> str:
        if self.ask is not None:
            return self.ask(names)
        box = QMessageBox(self.window_)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Training in progress")
        which = ", ".join(names)
        box.setText(f"{which} {'is' if len(names) == 1 else 'are'} still training.")
        box.setInformativeText("Stop saves a checkpoint you can resume from. Leave running lets the "
                               "training go on without the window; the Runs view shows it again next time.")
        stop = box.addButton("Stop training", QMessageBox.ButtonRole.DestructiveRole)
        leave = box.addButton("Leave running", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(leave)
        box.exec()
        clicked = box.clickedButton()
        return "stop" if clicked is stop else "leave" if clicked is leave else "cancel"

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        jobs = getattr(self, "jobs", None)  # events can arrive while the guard is being torn down
        if jobs is not None and obj is self.window_ and event.type() == QEvent.Type.Close and jobs.running():
            if self.note is not None:  # already stopping: the note says so, the close comes when they are saved
                event.ignore()
                return True
            answer = self.choose([j.name for j in self.jobs.running()])
            if answer == "cancel":
                event.ignore()
                return True
            if answer == "stop":
                self._stop_then_close()
                event.ignore()
                return True
            self.jobs.leave_all()
        return False

    def _stop_then_close(self) -> None:
        """Ctrl+C every training and close once their checkpoints are saved, the event loop running.

        A step and a checkpoint can take many seconds on a CPU; waiting for them inside the close
        event froze the window. The window stays up behind a busy note until the last training has
        ended; its "Leave running" (or the STOP_WAIT_MS limit) lets them finish without the window.
        """
        stopping = self.jobs.running()
        for job in stopping:
            job.stop()
            job.runner.finished.connect(self._job_ended)
        note = QProgressDialog(self.window_)
        note.setWindowTitle("Stopping training")
        names = ", ".join(j.name for j in stopping)
        note.setLabelText(f"Stopping {names}: saving {'a checkpoint' if len(stopping) == 1 else 'checkpoints'}. "
                          f"The window closes when {'it is' if len(stopping) == 1 else 'they are'} saved.")
        note.setCancelButtonText("Leave running")
        note.setRange(0, 0)
        note.setMinimumDuration(0)
        note.setWindowModality(Qt.WindowModality.WindowModal)
        note.canceled.connect(self._close_now)
        self.note = note
        note.show()
        QTimer.singleShot(self.STOP_WAIT_MS, note, self._close_now)

    def _job_ended(self, code: int = 0) -> None:
        if self.note is None:
            return
        if code not in (0, 130):  # the stop did not save: the window stays, with the failure on screen
            self._drop_note()
        elif not self.jobs.running():
            self._close_now()

    def _close_now(self) -> None:
        """Close the window; a training still saving goes on without it (its run folder tells how)."""
        if self._drop_note():
            self.jobs.leave_all()
            self.window_.close()

    def _drop_note(self) -> bool:
        """Take the stopping note down; False when there was none (already closed or dropped)."""
        note, self.note = self.note, None
        if note is None:
            return False
        note.canceled.disconnect(self._close_now)
        note.close()
        note.deleteLater()
        return True
