"""The Runs view on a run directory written by the test: curves grow by tailing, grids, config."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui_stubs import StubWindow, isolate_settings  # noqa: E402
from PIL import Image  # noqa: E402

from gantrans.runs import CONFIG_FILE, METRICS_FILE, SAMPLES_DIR  # noqa: E402
from gantrans_gui import view_support  # noqa: E402
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
    assert "epoch_0002" in view.samples.caption.text()
    view.samples.slider.setValue(0)
    assert "epoch_0001" in view.samples.caption.text()
    assert view.samples.image.image_size().width() == 4 * 34 + 2
    assert view.samples.rows.text() == "Rows: real_A, fake_B"
    assert '"recipe": "cyclegan"' in view.config_text.toPlainText()

    # a second view (a restarted app) finds the folder again
    again = RunsView(StubWindow())
    qtbot.addWidget(again)
    assert again.run_list.topLevelItemCount() == 1
