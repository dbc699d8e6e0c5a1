"""Real trainings driven from the GUI: the form starts ``gantrans train --progress json``,
the Runs view follows it, Stop/Resume, Export into the library. Tiny shapes, few steps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui_stubs import StubWindow, isolate_settings  # noqa: E402
from PySide6.QtWidgets import QTabWidget  # noqa: E402

from gantrans.runs import RunDir  # noqa: E402
from gantrans_gui.runs_view import RunsView  # noqa: E402
from gantrans_gui.training_view import TrainingView  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def gui(qtbot, tmp_path, monkeypatch, tmp_path_factory):
    isolate_settings(monkeypatch, tmp_path)
    monkeypatch.setenv("GANTRANS_DATA_DIR", str(tmp_path_factory.getbasetemp() / "gantrans-data"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr("gantrans_gui.training_jobs.jobs_log_dir", lambda: tmp_path / "jobs")
    window = StubWindow()
    tabs = QTabWidget()
    window.setCentralWidget(tabs)
    training, runs = TrainingView(window), RunsView(window)
    tabs.addTab(training, "New training")
    tabs.addTab(runs, "Runs")
    window.resize(1280, 800)
    window.show()
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: training.catalog.loaded, timeout=60000)
    # pytest-qt closes the window before this fixture's teardown: never block on the question
    window._gantrans_close_guard.ask = lambda names: "stop"
    yield window, training, runs
    for job in training.jobs.running():  # never leave a child behind
        job.runner.kill()
        job.runner.wait(30000)


def fill_tiny_pix2pix(view: TrainingView, runs_dir: Path, name: str, **length) -> None:
    assert view.select_recipe("pix2pix")
    for key, value in (("ngf", 4), ("ndf", 4), ("generator", "unet_32")):
        view.options.set_value(key, value)
    assert view.option_values()["generator"] == "unet_32"
    view.data_edit.setCurrentText("shapes")
    view.inspect_data("shapes")
    view.name_edit.setText(name)
    view.runs_dir_edit.setText(str(runs_dir))
    view.device_box.setCurrentText("cpu")
    view.precision_box.setCurrentText("fp32")
    view.crop_size.setValue(32)
    view.max_items.setValue(4)
    view.batch_size.setValue(2)
    view.workers.setValue(0)
    view.log_every.setValue(1)
    view.epochs.setValue(length.get("epochs", 0))
    view.max_steps.setValue(length.get("max_steps", 0))


def test_train_from_the_form_then_export_into_the_library(qtbot, gui, tmp_path):
    window, training, runs = gui
    fill_tiny_pix2pix(training, tmp_path / "runs", "tiny", epochs=1)
    training.start_button.click()
    assert training.job is not None and not training.start_button.isEnabled()
    assert training.start_button.toolTip().startswith("tiny is training from this form: stop it first")  # why

    # the next form starts from what this Start used: recipe and run fields (not the name)
    data_dir = tmp_path / "my data"
    data_dir.mkdir()
    training.data_edit.setCurrentText(str(data_dir))  # as if this had been trained on: listed first
    training._remember_form()
    again = TrainingView(window)
    qtbot.addWidget(again)
    assert again.recipe_box.currentText() == "pix2pix"
    assert (again.device_box.currentText(), again.precision_box.currentText()) == ("cpu", "fp32")
    assert [again.crop_size.value(), again.max_items.value(), again.batch_size.value(), again.workers.value(),
            again.log_every.value(), again.epochs.value()] == [32, 4, 2, 0, 1, 1]
    assert again.data_edit.itemText(0) == str(data_dir)  # listed first, and the last Start's data is filled in
    assert again.data_edit.currentText() == str(data_dir) and again.runs_dir_edit.text() == str(tmp_path / "runs")
    assert again.name_edit.text() == "" and "ngf" not in again.option_values()

    qtbot.waitUntil(lambda: training.state in ("finished", "failed"), timeout=240000)
    assert training.state == "finished", "\n".join(training.job.output[-30:])
    assert training.progress.value() == training.progress.maximum()

    # the Runs view found the folder (remembered from the form) and shows the finished run
    assert runs.select_run(tmp_path / "runs" / "tiny")
    runs.poll()
    assert runs._status["state"] == "finished"
    assert runs.progress.format().endswith("· epoch 1/1")  # the files count completed epochs
    assert "G" in runs.curves.group_plots and "D" in runs.curves.group_plots
    n = len(runs.curves.items[next(k for k in runs.curves.items if k.startswith("G"))].xData)
    assert n == RunDir(tmp_path / "runs" / "tiny").status().step  # one row per step (log every 1)
    qtbot.waitUntil(lambda: bool(runs.samples.files), timeout=10000)  # listed again in a worker
    assert runs.checkpoint_table.rowCount() >= 1

    # export it (fp32) from the Runs view's dialog: the model lands in the library
    runs.open_export()
    dlg = runs._export_dialog
    dlg.out_dir.setText(str(tmp_path / "exports"))
    dlg.start_button.click()
    qtbot.waitUntil(lambda: dlg.exit_code is not None, timeout=240000)
    assert dlg.exit_code == 0, dlg.log.toPlainText()[-2000:]
    models = [p for p in window.library.paths if p.suffix == ".onnx"]
    assert models and all(p.is_file() for p in models)
    assert str(tmp_path / "exports") in str(models[0])
    runs.poll()
    assert runs.export_table.rowCount() >= 1  # the run knows its exports


def test_stop_resume_and_close_leaving_the_training_running(qtbot, gui, tmp_path):
    import os
    import signal

    window, training, runs = gui
    fill_tiny_pix2pix(training, tmp_path / "runs", "long", max_steps=100000)
    training.start_button.click()
    seen = []
    training.job.runner.progress.connect(lambda d: seen.append(d["done"]))
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=180000)
    training._on_progress({"done": 5, "total": 100000, "epoch": 2})  # two epochs done: the third under way
    assert "step 5/100000, epoch 3 ·" in training.state_label.text()
    training.stop_button.click()  # Ctrl+C semantics
    training._on_progress({"done": seen[-1] + 1, "total": 100000})  # a line still in flight
    assert training.state_label.text() == "Stopping: saving a checkpoint…"
    qtbot.waitUntil(lambda: training.state in ("stopped", "failed", "finished"), timeout=120000)
    assert training.state == "stopped"
    run = RunDir(tmp_path / "runs" / "long")
    status = run.status()
    assert status.state == "interrupted"
    stopped_at = status.last_checkpoint["step"]
    assert stopped_at >= seen[-1] >= 2  # the checkpoint holds every step reported

    assert training.resume_button.isEnabled()
    training.resume_button.click()
    after = []
    training.job.runner.progress.connect(lambda d: after.append(d["done"]))
    qtbot.waitUntil(lambda: bool(after) and after[-1] > stopped_at, timeout=180000)
    assert after[0] > stopped_at  # it continued, it did not start over

    # closing the window asks; "leave running" lets the training go on without it
    asked = []
    window._gantrans_close_guard.ask = lambda names: asked.append(names) or "leave"
    pid = training.job.runner.pid()
    window.close()
    assert asked == [["long"]]
    os.kill(pid, 0)  # still running without the window
    assert run.status().state == "running"
    os.kill(pid, signal.SIGINT)
    qtbot.waitUntil(lambda: run.status().state != "running", timeout=120000)
    assert run.status().state == "interrupted" and run.status().last_checkpoint["step"] > stopped_at


def test_a_run_that_cannot_start_says_why_and_stops_the_busy_bar(qtbot, gui, tmp_path, request):
    """A translate-only install (no torch): the child exits at once. The form must show the
    child's one-line reason and what to install, and no longer look busy."""
    window, training, runs = gui
    fill_tiny_pix2pix(training, tmp_path / "runs", "", max_steps=1)  # inspects its data with torch
    request.getfixturevalue("torch_hidden_from_children")
    training.start_button.click()
    # the name the clock made is this run's: the field is empty again for the next Start
    assert training.job.name.startswith("pix2pix-") and training.name_edit.text() == ""
    qtbot.waitUntil(lambda: training.state == "failed", timeout=60000)
    assert "needs torch, which is not installed: pip install 'gantrans[train]'" in training.state_label.text()
    assert training.progress.maximum() == 1 and training.progress.value() < 1  # not busy, not done
    assert training.start_button.isEnabled() and not training.stop_button.isEnabled()
    # no run folder was made: nothing to resume or show
    assert not (tmp_path / "runs" / training.job.name).exists()
    assert not training.resume_button.isEnabled() and not training.show_run_button.isEnabled()
    # and a Start that made no run folder is not remembered: its runs folder (unwritable, say)
    # does not become the Runs view's or the next form's
    from gantrans_gui import view_support
    from gantrans_gui.training_view import FOLDERS_KEY

    assert str(tmp_path / "runs") not in view_support.get_list(FOLDERS_KEY)
    assert TrainingView(window).runs_dir_edit.text() != str(tmp_path / "runs")


def test_a_name_that_is_taken_is_kept_for_the_user_to_change(qtbot, gui, tmp_path):
    window, training, runs = gui
    fill_tiny_pix2pix(training, tmp_path / "runs", "mine", epochs=1)
    (tmp_path / "runs" / "mine").mkdir(parents=True)
    training.start_button.click()
    assert training.job is None and "a run of that name exists" in window.errors[-1][0]
    assert training.name_edit.text() == "mine"  # the user's text, not emptied
    assert training.name_edit.selectedText() == "mine"


def test_a_built_in_data_set_of_the_wrong_kind_is_said_before_start(qtbot, gui):
    window, training, runs = gui
    assert training.select_recipe("cgan")
    training.data_edit.setCurrentText("shapes")
    training.inspect_data("shapes")
    assert "<b>cgan</b> needs labelled data; <b>shapes</b> is unpaired or paired data" in training.data_label.text()
    training.inspect_data("shape-classes")
    assert "needs" not in training.data_label.text() and "Built-in data set" in training.data_label.text()
    # a folder that a plugin's paired format also reads: pix2pix trains on it, so no red line
    assert training.select_recipe("pix2pix")
    training.data_info = {"root": "/d", "format": "labelled", "kind": "labelled", "kinds": ["labelled", "paired"],
                          "items": 4, "domains": ["image"], "class_names": ["a", "b"], "warnings": []}
    training._show_data()
    assert "needs" not in training.data_label.text()
    training.data_info["kinds"] = ["labelled"]
    training._show_data()
    assert "<b>pix2pix</b> needs paired data; this folder holds labelled data" in training.data_label.text()
    # the formats offered are those of the recipe's kinds; the one chosen is what train gets
    offered = [training.format_box.itemData(k) for k in range(training.format_box.count())]
    assert offered[0] == "" and {"paired", "aligned"} <= set(offered) and "labelled" not in offered
    assert "--data-format" not in training.train_args()
    training.format_box.setCurrentIndex(offered.index("aligned"))
    assert "--data-format aligned" in " ".join(training.train_args())


def test_an_install_without_torch_says_so_before_start(qtbot, gui):
    from gantrans_gui.plugin_catalog import parse_catalog

    window, training, runs = gui
    assert training.start_button.isEnabled()
    training.catalog.catalog = parse_catalog({"plugins": [], "missing_extras": ["train"]})
    training.catalog.changed.emit()
    assert not training.start_button.isEnabled()
    assert training.state_label.text() == ("Training needs PyTorch, which this installation lacks: "
                                           "pip install 'gantrans[train]'")
