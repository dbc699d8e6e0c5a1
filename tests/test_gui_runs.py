"""The Runs view on a run directory written by the test: curves grow by tailing, grids, config."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui_stubs import StubWindow, isolate_settings  # noqa: E402
from PIL import Image  # noqa: E402

from gantrans.runs import CONFIG_FILE, METRICS_FILE, SAMPLES_DIR  # noqa: E402
from gantrans_gui import job_runner, view_support  # noqa: E402
from gantrans_gui.run_watch import RunWatch, curve_group, smooth  # noqa: E402
from gantrans_gui.runs_view import RunsView  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    isolate_settings(monkeypatch, tmp_path)


def _row(step, **losses):
    return json.dumps({"step": step, "epoch": step // 10, "epoch_step": step % 10, **losses,
                       "lr/G": 2e-4, "images_per_s": 10.0, "time": 0.0}) + "\n"


def make_run(root, name="demo"):
    run = root / name
    (run / SAMPLES_DIR).mkdir(parents=True)
    (run / CONFIG_FILE).write_text(json.dumps({"recipe": "cyclegan", "data": "shapes", "batch_size": 1}))
    with (run / METRICS_FILE).open("w") as fh:
        for step in (10, 20, 30):
            fh.write(_row(step, D_A_real=0.5, D_A_fake=0.4, G_A=1.0 / step, cycle_A=2.0))
    for epoch in (1, 2):
        arr = np.full((2 * 34 + 2, 4 * 34 + 2, 3), 40 * epoch, np.uint8)
        Image.fromarray(arr).save(run / SAMPLES_DIR / f"epoch_{epoch:04d}.png")
        (run / SAMPLES_DIR / f"epoch_{epoch:04d}.json").write_text(json.dumps({"rows": ["real_A", "fake_B"]}))
    return run


def test_watch_tails_groups_and_smooths(tmp_path):
    from gantrans.runs import RunDir

    run = make_run(tmp_path)
    watch = RunWatch(RunDir(run))
    assert watch.poll() == 3
    assert watch.poll() == 0  # nothing new: nothing re-read
    with (run / METRICS_FILE).open("a") as fh:
        fh.write(_row(40, D_A_real=0.3, D_A_fake=0.2, G_A=0.01, cycle_A=1.0))
        fh.write('{"step": 50, "G_A"')  # a torn line is not consumed
    assert watch.poll() == 1
    assert watch.series["G_A"].steps == [10, 20, 30, 40]
    assert list(watch.groups()) == ["D", "G", "cycle", "images/s", "learning rate"]
    assert curve_group("lr/D") == "learning rate" and curve_group("D_B_gp") == "D"
    assert smooth([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])  # debiased
    assert smooth([0.0, 10.0], 0.0) == [0.0, 10.0]


def test_runs_view_shows_a_run_and_its_curves_grow(qtbot, tmp_path):
    run = make_run(tmp_path / "runs")
    window = StubWindow()
    view = RunsView(window)
    qtbot.addWidget(window)
    view.resize(1280, 800)
    view.show()
    view.add_folder(tmp_path / "runs")
    assert view_support.get_list("runs/folders") == [str((tmp_path / "runs").resolve())]  # remembered
    assert view.run_list.topLevelItemCount() == 1
    # nothing was chosen yet: the view shows the newest run rather than empty panels
    assert view.run is not None and view.run.name == "demo" and view.title.text() == "demo"
    assert view.run_list.currentItem() is view.run_list.topLevelItem(0)
    view.run_list.setCurrentItem(view.run_list.topLevelItem(0))
    assert view.run is not None and view.run.name == "demo"
    plots = view.curves.group_plots
    assert set(plots) == {"D", "G", "cycle", "images/s", "learning rate"}
    g = view.curves.items["G_A"]
    assert len(g.xData) == 3

    with (run / METRICS_FILE).open("a") as fh:
        fh.write(_row(40, D_A_real=0.3, D_A_fake=0.2, G_A=0.01, cycle_A=1.0))
    qtbot.waitUntil(lambda: len(view.curves.items["G_A"].xData) == 4, timeout=5000)  # the poll timer
    assert view.curves.items["G_A"].xData[-1] == 40

    view.curves.smoothing.setValue(0)
    assert list(view.curves.items["G_A"].yData) == pytest.approx([0.1, 0.05, 1 / 30, 0.01])

    # sample grids: the slider follows the newest epoch; the row labels are listed
    assert view.samples.slider.maximum() == 1 and view.samples.slider.value() == 1
    assert "epoch_0002" in view.samples.caption.text() and view.samples.slider_label.text() == "Epoch"
    view.samples.slider.setValue(0)
    assert "epoch_0001" in view.samples.caption.text()
    assert view.samples.image.image_size().width() == 4 * 34 + 2
    assert view.samples.rows.text() == "Rows: real_A, fake_B"
    assert '"recipe": "cyclegan"' in view.config_text.toPlainText()

    # a second view (a restarted app) finds the folder again
    again = RunsView(StubWindow())
    qtbot.addWidget(again)
    assert again.run_list.topLevelItemCount() == 1


def _view(qtbot, root):
    window = StubWindow()
    qtbot.addWidget(window)
    view = RunsView(window)
    view.resize(1280, 800)
    view.show()
    view.add_folder(root)
    return window, view


def test_a_run_deleted_while_shown_says_so_and_offers_no_actions(qtbot, tmp_path):
    run = make_run(tmp_path / "runs")  # no status.json, no checkpoint: reads as interrupted
    _window, view = _view(qtbot, tmp_path / "runs")
    assert view.run.name == "demo" and view.resume_button.isEnabled()
    shutil.rmtree(run)
    # the poll timer notices; the panel says so instead of showing a resumable run
    qtbot.waitUntil(lambda: "demo: the run folder no longer exists" in view.detail_label.text(), timeout=4000)
    assert "interrupted" not in view.state_label.text() and "no status.json" not in view.detail_label.text()
    for button in (view.resume_button, view.stop_button, view.export_button):
        assert not button.isEnabled(), button.text()
    assert not view.tabs.isVisible()  # no stale curves or grids
    view.refresh_list()  # the list timer: the run leaves the list, the panel keeps saying why
    assert view.run_list.topLevelItemCount() == 0
    assert "no longer exists" in view.detail_label.text() and not view.resume_button.isEnabled()


FAILING_RESUME = textwrap.dedent("""
    import json, sys
    message = sys.argv[3] + ": no such run directory or checkpoint file"
    print(json.dumps({"v": 1, "event": "start", "command": "train"}), flush=True)
    print("gantrans: error: " + message, file=sys.stderr, flush=True)
    print(json.dumps({"v": 1, "event": "error", "message": message}), flush=True)
    print(json.dumps({"v": 1, "event": "done", "exit_code": 1}), flush=True)
    sys.exit(1)
""")


def test_a_resume_that_fails_shows_the_commands_error(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(job_runner, "_command_argv", lambda args: [sys.executable, "-c", FAILING_RESUME, *args])
    monkeypatch.setattr("gantrans_gui.training_jobs.jobs_log_dir", lambda: tmp_path / "jobs")
    run = make_run(tmp_path / "runs")
    window, view = _view(qtbot, tmp_path / "runs")
    assert view.resume_button.isEnabled()
    view.resume_button.click()
    qtbot.waitUntil(lambda: bool(window.errors), timeout=10000)
    message, details = window.errors[0]
    assert message == f"resuming demo failed: {run.resolve()}: no such run directory or checkpoint file"
    # the command's own output, folded away: its error line once, not its stderr copy as well
    assert details.count("no such run directory or checkpoint file") == 1 and "gantrans: error:" not in details
    assert len(window.errors) == 1


def test_a_single_metric_row_is_drawn_as_points(qtbot, tmp_path):
    """A run shorter than its log interval has one row: a line of one point draws nothing."""
    run = make_run(tmp_path / "runs")
    (run / METRICS_FILE).write_text(_row(10, D_A_real=0.5, G_A=1.0))
    for grid in (run / SAMPLES_DIR).glob("*"):
        grid.rename(grid.with_name(grid.name.replace("epoch_0001", "step_0000010").replace("epoch_0002",
                                                                                          "step_0000020")))
    _window, view = _view(qtbot, tmp_path / "runs")
    for key in ("D_A_real", "G_A", "images_per_s", "lr/G"):
        item = view.curves.items[key]
        assert item.scatter.isVisible() and len(item.scatter.points()) == 1, key
    # the slider steps through step grids and says so
    assert view.samples.slider_label.text() == "Step" and "step_0000020" in view.samples.caption.text()
    with (run / METRICS_FILE).open("a") as fh:
        fh.write(_row(20, D_A_real=0.4, G_A=0.5))
    qtbot.waitUntil(lambda: len(view.curves.items["G_A"].xData) == 2, timeout=5000)
    assert not view.curves.items["G_A"].scatter.isVisible()  # two points: a line again


def test_the_output_tab_says_where_output_is(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr("gantrans_gui.training_jobs.jobs_log_dir", lambda: tmp_path / "jobs")
    make_run(tmp_path / "runs")
    _window, view = _view(qtbot, tmp_path / "runs")
    hint = view.log_text.placeholderText()
    assert "started or resumed from this window" in hint and "status.json" in hint
    assert view.log_text.toPlainText() == ""
    # started from this app in an earlier session: its detached log is named
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "demo-20250101-120000.log").write_text("prose\n")
    (tmp_path / "jobs" / "demo-2-20250102-120000.log").write_text("another run's\n")
    view.show_run(view.run)
    assert str(tmp_path / "jobs" / "demo-20250101-120000.log") in view.log_text.placeholderText()


def test_plots_and_state_colours_follow_the_theme(qtbot, tmp_path):
    from gantrans_gui.theme import apply_theme

    make_run(tmp_path / "runs")
    _window, view = _view(qtbot, tmp_path / "runs")
    plots = view.curves.plots

    def dark() -> bool:
        return plots.backgroundBrush().color().lightness() < 128

    try:
        apply_theme("light")
        qtbot.waitUntil(lambda: not dark(), timeout=2000)
        light_state = view.run_list.topLevelItem(0).foreground(2).color()
        apply_theme("dark")  # at runtime, as the Settings view does
        qtbot.waitUntil(dark, timeout=2000)
        axis = view.curves.group_plots["G"].getAxis("left")
        assert axis.textPen().color().lightness() > 128  # light text on the dark plot
        dark_state = view.run_list.topLevelItem(0).foreground(2).color()
        assert dark_state.lightness() > light_state.lightness()  # "interrupted" readable on dark
    finally:
        apply_theme("system")


def test_two_exports_with_one_file_name_are_told_apart(qtbot, tmp_path):
    from gantrans.runs import record_export

    run = make_run(tmp_path / "runs")
    for folder, step in (("exports", 50), ("exports2", 20)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "demo_G.onnx").write_bytes(b"x")
        record_export(run, tmp_path / folder / "demo_G.onnx", head="G", step=step)
    _window, view = _view(qtbot, tmp_path / "runs")
    table = view.export_table
    qtbot.waitUntil(lambda: table.rowCount() == 2, timeout=5000)
    rows = {tuple(table.item(r, c).text() for c in range(3)) for r in range(2)}
    assert rows == {("demo_G.onnx", "exports", "50"), ("demo_G.onnx", "exports2", "20")}
    assert {table.item(r, 0).toolTip() for r in range(2)} == {str(tmp_path / f / "demo_G.onnx")
                                                               for f in ("exports", "exports2")}


def test_the_list_row_of_the_shown_run_follows_each_poll(qtbot, tmp_path):
    from gantrans import runs as R

    run = make_run(tmp_path / "runs")
    _window, view = _view(qtbot, tmp_path / "runs")
    view.list_timer.stop()  # only the 1 s poll may update it now
    writer = R.StatusWriter(run, interval=0)
    writer.update(force=True, state="running", step=12, total_steps=30, epoch=1, total_epochs=3)
    view.poll()
    row = view.run_list.currentItem()
    # the narrow list says how far in a few characters; its tooltip and the panel say it all
    assert (row.text(2), row.text(3)) == ("running", "40 %")
    assert row.toolTip(3) == view.progress.format() == "step 12/30 · epoch 2/3"
    writer.update(force=True, state="finished", step=30, total_steps=30, epoch=3, total_epochs=3)
    view.poll()
    assert (row.text(2), row.text(3)) == ("finished", "100 %")
    assert row.toolTip(3) == view.progress.format() == "step 30/30 · epoch 3/3"


def test_a_narrow_window_keeps_the_run_panel_usable(qtbot, tmp_path):
    """At 900x600 (a 730 px view beside the sidebar) the list gives up width too, every tab
    shows, and the sample slider stays a slider."""
    make_run(tmp_path / "runs")
    _window, view = _view(qtbot, tmp_path / "runs")
    qtbot.waitUntil(lambda: view.run is not None, timeout=5000)
    view.resize(730, 560)
    qtbot.wait(100)
    assert view.run_list.width() < 300  # it held its 300 px while the run's panel took every cut
    assert view.samples.slider.width() >= 100
    bar = view.tabs.tabBar()
    assert bar.tabRect(bar.count() - 1).right() <= bar.width()  # "Output" is not scrolled off


def test_the_output_hint_names_the_file_that_holds_the_messages(tmp_path, monkeypatch):
    """The .log holds only what the child wrote to stderr (empty after a clean run): the hint
    must also name the events file, where the messages are."""
    from gantrans.runs import RunDir
    from gantrans_gui import runs_view

    run = make_run(tmp_path / "runs")
    log = tmp_path / "jobs" / "demo-20261203-010203.log"
    monkeypatch.setattr(runs_view, "last_job_log", lambda name: log)
    hint = runs_view._output_hint(RunDir(run))
    assert f"its messages and progress in {tmp_path / 'jobs' / 'demo-20261203-010203.events.jsonl'}" in hint
    assert f"its warnings and errors in {log} (empty when there were none)" in hint


def test_a_translate_only_install_is_told_before_a_click_that_it_cannot_resume_or_export(qtbot, tmp_path,
                                                                                        monkeypatch):
    monkeypatch.setattr(job_runner, "can_train", lambda: False)
    run = make_run(tmp_path / "runs")  # no status.json, no checkpoint: reads as interrupted
    _window, view = _view(qtbot, tmp_path / "runs")
    assert not view.resume_button.isEnabled()
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "latest.pt").write_bytes(b"x")
    view._set_buttons()
    for button in (view.resume_button, view.export_button):
        assert not button.isEnabled()
        assert "lacks: pip install 'gantrans[train]'" in button.toolTip()
    monkeypatch.setattr(job_runner, "can_train", lambda: True)
    view._set_buttons()
    assert view.resume_button.isEnabled() and view.export_button.isEnabled()
    assert not view.resume_button.toolTip() and not view.export_button.toolTip()


def test_a_long_log_is_read_in_a_worker_and_the_list_keeps_its_place(qtbot, tmp_path):
    """QA measured 1.2-2 s frozen on choosing a run with 15,000 logged rows, a list that jumped
    back to the top every 3 s, and a view that kept polling out of sight."""
    import os

    from gantrans_gui import runs_view

    first, second = tmp_path / "a", tmp_path / "b"
    for k in range(40):
        make_run(first, f"run{k:02d}")
    long = make_run(second, "long")  # in the second folder, but the newest: listed first
    with (long / METRICS_FILE).open("a") as fh:
        for step in range(40, 40 + 3000):
            fh.write(_row(step, D_A_real=0.5, G_A=1.0 / step))
    assert (long / METRICS_FILE).stat().st_size > runs_view.BACKGROUND_METRICS_BYTES
    for k in range(40):
        os.utime(first / f"run{k:02d}" / CONFIG_FILE, (1000 + k, 1000 + k))
    view_support.set_list(runs_view.FOLDERS_KEY, [str(first), str(second)])
    view = RunsView(StubWindow())
    qtbot.addWidget(view)
    view.resize(900, 400)
    view.show()
    names = [view.run_list.topLevelItem(k).text(0) for k in range(view.run_list.topLevelItemCount())]
    assert names[:3] == ["long", "run39", "run38"]  # newest first across the folders

    assert view.run is not None and view.run.name == "long"  # shown on opening, its log read in a worker
    assert view._loading is view.watch  # (its worker may have read the log already: told at the next loop turn)
    assert view.curves.empty.text() == "Reading the logged losses…"
    qtbot.waitUntil(lambda: view._loading is None, timeout=20000)
    assert len(view.watch.series["G_A"].steps) == 3003 and "G" in view.curves.group_plots

    bar = view.run_list.verticalScrollBar()
    bar.setValue(bar.maximum())
    assert bar.value() > 0
    view._listing = False
    view._refresh_list_in_background()  # the timer's pass: the same runs, updated in place
    qtbot.waitUntil(lambda: not view._listing, timeout=10000)
    assert bar.value() == bar.maximum() > 0
    assert view.run_list.currentItem().text(0) == "long"

    view.hide()  # out of sight: not polled
    assert not view.poll_timer.isActive() and not view.list_timer.isActive()
    view.show()
    assert view.poll_timer.isActive() and view.list_timer.isActive()
