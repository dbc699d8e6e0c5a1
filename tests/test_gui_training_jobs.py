"""One training seen from two views: the New training form and the Runs view follow the same job.

A stand-in ``gantrans train`` (a short script speaking the JSON protocol) keeps these fast: it
trains until asked to stop (SIGINT: exit 130, "checkpoint saved") and a resume finishes at once.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui_stubs import StubWindow, isolate_settings  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QPushButton, QTabWidget  # noqa: E402

from gantrans.runs import CONFIG_FILE  # noqa: E402
from gantrans_gui import job_runner  # noqa: E402
from gantrans_gui.runs_view import RunsView  # noqa: E402
from gantrans_gui.training_jobs import training_jobs  # noqa: E402
from gantrans_gui.training_view import TrainingView  # noqa: E402

FAKE_TRAIN = textwrap.dedent("""
    import json, os, signal, sys, time
    def ev(**data):
        print(json.dumps({"v": 1, **data}), flush=True)
    resumed = "--resume" in sys.argv
    ev(event="start", command="train", total=100, unit="step")
    ev(event="message", text="gantrans: training 'fake' " + ("resumed" if resumed else "started"))
    print("a line on stderr", file=sys.stderr, flush=True)
    if resumed:
        ev(event="progress", done=100, total=100, epoch=1)
        ev(event="message", text="gantrans: done: 100 steps")
        ev(event="done", exit_code=0)
        sys.exit(0)
    def stop(*_):
        time.sleep(float(os.environ.get("FAKE_STOP_SECONDS", "0")))  # a slow step and checkpoint
        if os.environ.get("FAKE_STOP_FAILS"):  # the checkpoint could not be saved
            ev(event="error", message="could not save the checkpoint")
            ev(event="done", exit_code=1)
            sys.exit(1)
        ev(event="message", text="gantrans: interrupted at step 7; checkpoint saved")
        ev(event="done", exit_code=130)
        sys.exit(130)
    signal.signal(signal.SIGINT, stop)
    ev(event="progress", done=7, total=100, epoch=0)
    while True:
        time.sleep(0.05)
""")


@pytest.fixture
def views(qtbot, tmp_path, monkeypatch):
    isolate_settings(monkeypatch, tmp_path)
    monkeypatch.setattr(job_runner, "_command_argv", lambda args: [sys.executable, "-c", FAKE_TRAIN, *args])
    monkeypatch.setattr("gantrans_gui.training_jobs.jobs_log_dir", lambda: tmp_path / "jobs")
    window = StubWindow()
    tabs = QTabWidget()
    window.setCentralWidget(tabs)
    training, runs = TrainingView(window), RunsView(window)
    window._gantrans_close_guard.ask = lambda names: "stop"  # closing at teardown never asks
    tabs.addTab(training, "New training")
    tabs.addTab(runs, "Runs")
    qtbot.addWidget(window)
    window.show()
    run = tmp_path / "runs" / "fake"
    run.mkdir(parents=True)
    (run / CONFIG_FILE).write_text(json.dumps({"recipe": "cyclegan", "data": "shapes"}))
    runs.add_folder(run.parent)
    return window, training, runs, run


def test_the_form_follows_a_resume_started_from_the_runs_view(qtbot, views):
    window, training, runs, run = views
    jobs = training_jobs(window)
    training._begin(jobs.start(["train", "fake"], run))
    qtbot.waitUntil(lambda: training.state == "running", timeout=20000)
    assert "step 7/100, epoch 1 ·" in training.state_label.text()

    # Stop from the Runs view: the form says it is stopping, as if its own Stop was pressed
    assert runs.select_run(run)
    runs.stop_button.click()
    assert training.state_label.text() == "Stopping: saving a checkpoint…"
    assert not training.stop_button.isEnabled()
    qtbot.waitUntil(lambda: training.state == "stopped", timeout=20000)
    assert training.resume_button.isEnabled()

    # Resume from the Runs view: the form takes up the new job and ends with it
    runs.resume_button.click()
    qtbot.waitUntil(lambda: training.state == "finished", timeout=20000)
    assert training.state_label.text() == "fake: finished"
    assert not training.resume_button.isEnabled() and training.start_button.isEnabled()
    assert "gantrans: done: 100 steps" in training.log.toPlainText()
    assert window.errors == []


def test_resume_in_the_form_while_the_run_trains_elsewhere_is_refused_in_words(qtbot, views):
    window, training, runs, run = views
    jobs = training_jobs(window)
    training._begin(jobs.start(["train", "fake"], run))
    qtbot.waitUntil(lambda: training.state == "running", timeout=20000)
    training.stop()
    qtbot.waitUntil(lambda: training.state == "stopped", timeout=20000)
    stopped = training.job
    jobs.jobs.pop(run.resolve())  # as if the form had missed the change: it still holds the old job
    jobs.start(["train", "fake", "--max-steps", "100000"], run)  # trains (not a resume) until stopped
    assert training.job is not stopped  # the registry's change was followed anyway
    training.job = stopped
    training._set_buttons()
    assert not training.resume_button.isEnabled()  # its run trains in another job
    training.resume()  # e.g. a click that raced the button update
    assert window.errors and "already training" in window.errors[-1][0]
    jobs.stop_all()


def test_the_runs_view_output_tab_shows_what_the_job_said(qtbot, views):
    window, training, runs, run = views
    jobs = training_jobs(window)
    job = jobs.start(["train", "fake"], run)
    window.centralWidget().setCurrentWidget(runs)  # a view out of sight is not polled
    assert runs.select_run(run)
    qtbot.waitUntil(lambda: "training 'fake' started" in runs.log_text.toPlainText(), timeout=20000)
    job.stop()
    qtbot.waitUntil(lambda: job.exit_code == 130, timeout=20000)
    runs.poll()
    text = runs.log_text.toPlainText()
    assert "a line on stderr" in text and "interrupted at step 7; checkpoint saved" in text


FAKE_EXPORT_EXISTS = textwrap.dedent("""
    import json, sys
    out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else "exports"
    message = out + "/fake_A2B.onnx: already exists; pass --overwrite to replace it"
    print(json.dumps({"v": 1, "event": "start", "command": "export", "total": 1, "unit": "file"}), flush=True)
    print("gantrans: error: " + message, file=sys.stderr, flush=True)
    print(json.dumps({"v": 1, "event": "error", "message": message}), flush=True)
    print(json.dumps({"v": 1, "event": "done", "exit_code": 1}), flush=True)
    sys.exit(1)
""")


def test_a_failed_export_says_its_error_once_in_the_dialogs_words_and_forgets_the_folder(qtbot, views, tmp_path,
                                                                                         monkeypatch):
    from gantrans.runs import RunDir
    from gantrans_gui.export_dialog import OUT_KEY, ExportDialog
    from gantrans_gui.view_support import settings

    window, training, runs, run = views
    monkeypatch.setattr(job_runner, "_command_argv", lambda args: [sys.executable, "-c", FAKE_EXPORT_EXISTS, *args])
    settings().setValue(OUT_KEY, str(tmp_path / "good"))
    dialog = ExportDialog(window, RunDir(run))
    qtbot.addWidget(dialog)
    assert dialog.out_dir.text() == str(tmp_path / "good")
    dialog.out_dir.setText(str(tmp_path / "taken"))
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.exit_code is not None, timeout=20000)
    log = dialog.log.toPlainText()
    assert log.count("already exists") == 1, log
    assert "tick 'Replace existing exports' to replace it" in log and "--overwrite" not in log
    assert settings().value(OUT_KEY) == str(tmp_path / "good")  # the folder that failed is not remembered


FAKE_SLOW_EXPORT = textwrap.dedent("""
    import json, signal, sys, time
    def stop(*_):
        print(json.dumps({"v": 1, "event": "done", "exit_code": 130}), flush=True)
        sys.exit(130)
    signal.signal(signal.SIGINT, stop)  # first: a Cancel may follow the first line at once
    print(json.dumps({"v": 1, "event": "start", "command": "export", "total": 2, "unit": "file"}), flush=True)
    print("args " + " ".join(sys.argv[1:]), file=sys.stderr, flush=True)
    time.sleep(60)
    open(sys.argv[sys.argv.index("--out") + 1] + "/written_after_close.onnx", "w").close()
""")


def test_esc_in_the_export_dialog_stops_the_export_it_hides(qtbot, views, tmp_path, monkeypatch):
    """Esc closes the dialog as Close does: the export is stopped, not left writing behind it. The
    int8 calibration folder chosen in the dialog is what the export is given."""
    from PySide6.QtCore import Qt

    from gantrans.runs import RunDir
    from gantrans_gui.export_dialog import ExportDialog

    window, training, runs, run = views
    monkeypatch.setattr(job_runner, "_command_argv", lambda args: [sys.executable, "-c", FAKE_SLOW_EXPORT, *args])
    dialog = ExportDialog(window, RunDir(run))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.out_dir.setText(str(tmp_path))
    assert not dialog.calibration.isEnabled()
    dialog.int8.setChecked(True)
    dialog.calibration.setText(str(tmp_path / "calib"))
    dialog.start_button.click()
    qtbot.waitUntil(lambda: "args " in dialog.log.toPlainText(), timeout=20000)  # running, Ctrl+C handled
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.exit_code is not None, timeout=20000)
    assert dialog.exit_code == 130 and not (tmp_path / "written_after_close.onnx").exists()
    assert f"--int8 --calibration {tmp_path / 'calib'}" in " ".join(dialog.runner.args)


def test_uninstalling_asks_for_a_restart_only_when_the_plugin_is_loaded_here():
    from types import SimpleNamespace

    from gantrans_gui.plugins_view import PluginsView, plugin_modules

    assert plugin_modules("gantrans") == {"gantrans_plugins", "gantrans_gui"}  # from its entry points
    assert plugin_modules("no-such-distribution") == set() and plugin_modules(None) == set()
    # the GUI's own package is loaded, but a removed plugin's module is not: no restart
    assert not PluginsView._needs_restart(SimpleNamespace(action="uninstall", _removed_modules={"gantrans_onesided"}))
    assert PluginsView._needs_restart(SimpleNamespace(action="uninstall", _removed_modules={"json"}))
    assert not PluginsView._needs_restart(SimpleNamespace(action="install", _removed_modules={"json"}))


def test_closing_with_stop_keeps_the_window_alive_until_the_checkpoint_is_saved(qtbot, views, monkeypatch):
    """'Stop training' at close: the event loop goes on (no wait inside the close event), a note
    says what is happening, and the window closes once the training has saved and ended."""
    window, training, runs, run = views
    monkeypatch.setenv("FAKE_STOP_SECONDS", "1.5")
    job = training_jobs(window).start(["train", "fake"], run)
    qtbot.waitUntil(lambda: job.last_progress.get("done") == 7, timeout=20000)
    ticks: list[float] = []
    beat = QTimer()
    beat.timeout.connect(lambda: ticks.append(time.monotonic()))
    beat.start(20)
    window.close()
    assert window.isVisible() and job.runner.running()  # the close waits for the checkpoint, not in the event
    note = window._gantrans_close_guard.note
    assert note is not None and note.labelText().startswith("Stopping fake: saving a checkpoint.")
    asked = []
    window._gantrans_close_guard.ask = lambda names: asked.append(names) or "stop"
    window.close()  # a second close while stopping neither asks again nor closes early
    assert asked == [] and window.isVisible()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20000)
    beat.stop()
    assert job.exit_code == 130 and any("checkpoint saved" in line for line in job.output)
    assert len(ticks) > 40 and max(b - a for a, b in zip(ticks, ticks[1:])) < 0.5


def test_a_stop_that_fails_to_save_keeps_the_window_open(qtbot, views, monkeypatch):
    """The note promised to close once the checkpoint is saved: when it is not, the window stays."""
    window, training, runs, run = views
    monkeypatch.setenv("FAKE_STOP_FAILS", "1")
    job = training_jobs(window).start(["train", "fake"], run)
    qtbot.waitUntil(lambda: job.last_progress.get("done") == 7, timeout=20000)
    window.close()
    qtbot.waitUntil(lambda: job.exit_code is not None, timeout=20000)
    qtbot.wait(300)
    assert job.exit_code == 1 and window.isVisible() and window._gantrans_close_guard.note is None
    window._gantrans_close_guard.ask = lambda names: "stop"


def test_leave_running_on_the_stopping_note_closes_at_once(qtbot, views, monkeypatch):
    window, training, runs, run = views
    monkeypatch.setenv("FAKE_STOP_SECONDS", "30")
    job = training_jobs(window).start(["train", "fake"], run)
    qtbot.waitUntil(lambda: job.last_progress.get("done") == 7, timeout=20000)
    pid = job.runner.pid()
    window.close()
    [button] = window._gantrans_close_guard.note.findChildren(QPushButton)
    assert button.text() == "Leave running"
    button.click()
    assert not window.isVisible()
    try:
        os.kill(pid, 0)  # still saving, without the window
    finally:
        os.kill(pid, signal.SIGKILL)


FAKE_HANGING_INSTALL = textwrap.dedent("""
    import json, signal, sys, time
    def ev(**data):
        print(json.dumps({"v": 1, **data}), flush=True)
    def stop(*_):
        ev(event="message", text="install cancelled; the environment is as it was before")
        ev(event="error", message="interrupted")
        ev(event="done", exit_code=130)
        sys.exit(130)
    signal.signal(signal.SIGINT, stop)  # before the line the test waits for: its Cancel may come at once
    ev(event="start", command="plugins install")
    print("Installing build dependencies: started", flush=True)
    print("WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError("
          "Failed to establish a new connection: [Errno 111] Connection refused')'", flush=True)
    time.sleep(60)
""")


def test_a_plugin_install_waiting_on_the_network_says_so_and_can_be_cancelled(qtbot, tmp_path, monkeypatch):
    from gantrans_gui.plugins_view import PluginsView

    isolate_settings(monkeypatch, tmp_path)
    window = StubWindow()
    view = PluginsView(window)
    window.setCentralWidget(view)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: view.catalog.loaded, timeout=60000)
    real = job_runner._command_argv  # the listing that follows the install stays the real one
    monkeypatch.setattr(job_runner, "_command_argv", lambda args: [sys.executable, "-c", FAKE_HANGING_INSTALL, *args]
                        if args[:2] == ["plugins", "install"] else real(args))
    assert not view.cancel_button.isEnabled()
    view.install("some-plugin")
    qtbot.waitUntil(lambda: "cannot reach the package index" in view.notice.text(), timeout=20000)
    assert view.cancel_button.isEnabled() and not view.install_button.isEnabled()
    view.cancel_button.click()
    assert view.notice.text().startswith("Cancelling")
    qtbot.waitUntil(lambda: view.last_exit is not None, timeout=20000)
    assert view.last_exit == 130
    assert view.notice.text() == "<b>Cancelled.</b> The environment is as it was before"
    assert not view.cancel_button.isEnabled() and view.install_button.isEnabled()
