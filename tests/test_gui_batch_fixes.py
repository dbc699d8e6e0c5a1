"""The Batch view's Start: nothing of an earlier run stays on screen; an output that is a file is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
pytest.importorskip("superqt")

from onnx_models import translate_model  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

WAIT = 20000


@pytest.fixture
def batch(qtbot, tmp_path, monkeypatch):
    """The real main window's Batch view, with one translation model in the library."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.chdir(tmp_path)
    translate_model(tmp_path / "exports" / "b_AtoB.onnx")
    from gantrans_gui import MainWindow, workers

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.is_ready, timeout=WAIT)
    qtbot.waitUntil(lambda: len(w.library.valid_entries(task=None)) >= 1, timeout=WAIT)
    view = w.show_view("batch")
    yield view
    view.shutdown()
    workers.wait_for_workers(10000)


def _images(folder: Path, n: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        Image.fromarray(np.full((16, 16, 3), 40 * k, np.uint8)).save(folder / f"img{k}.png")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)  # one failed row
    return folder


def _run(qtbot, view, src: Path, out: Path) -> None:
    view.input_edit.setText(str(src))
    view.output_edit.setText(str(out))
    view.start_button.click()
    qtbot.waitUntil(lambda: view.report is not None and not view.is_busy(), timeout=WAIT)
    assert view.count_label.text() == "3 / 3" and view.errors.rowCount() == 1
    assert view.open_output_button.isEnabled() and view.progress.text() == "3 / 3"


def _blank(view) -> list[str]:
    """What of an earlier run is still on screen."""
    left = [name for name, label in (("count", view.count_label), ("rate", view.rate_label),
                                     ("eta", view.eta_label)) if label.text() != "—"]
    if view.errors.rowCount():
        left.append("failed rows")
    if view.open_output_button.isEnabled():
        left.append("open output")
    if view.progress.text():
        left.append("progress")
    if view.report is not None:
        left.append("report")
    return left


def test_start_clears_the_previous_run(qtbot, batch, tmp_path):
    src = _images(tmp_path / "in")
    _run(qtbot, batch, src, tmp_path / "out")
    # an empty folder: "No images found", and nothing of the earlier run
    (tmp_path / "empty").mkdir()
    batch.input_edit.setText(str(tmp_path / "empty"))
    batch.output_edit.setText(str(tmp_path / "out_empty"))
    batch.start_button.click()
    qtbot.waitUntil(lambda: "No images found" in batch.summary.text() and not batch.is_busy(), timeout=WAIT)
    assert _blank(batch) == []
    # a validation error (output = input) clears it too, summary included
    _run(qtbot, batch, src, tmp_path / "out2")
    batch.output_edit.setText(str(src))
    batch.start_button.click()
    assert "is the input folder" in batch.window_.last_error[0]
    assert _blank(batch) == [] and batch.summary.text() == ""


def test_an_output_that_is_a_file_is_refused_before_starting(qtbot, batch, tmp_path):
    src = _images(tmp_path / "in")
    target = tmp_path / "results.png"
    target.write_bytes(b"not a folder")
    for out in (target, target / "sub"):
        batch.window_.last_error = None
        batch.output_edit.setText(str(out))
        batch.input_edit.setText(str(src))
        batch.start_button.click()
        qtbot.wait(100)
        assert batch.window_.last_error is not None
        assert batch.window_.last_error[0] == f"{target}: is a file, not a folder; choose a folder for the results"
        assert not batch.is_busy() and batch.report is None
        assert target.read_bytes() == b"not a folder"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no folder can be made")
def test_an_output_folder_that_cannot_be_made_is_one_error_before_any_work(qtbot, batch, tmp_path):
    src = _images(tmp_path / "in")
    batch.window_.last_error = None
    batch.input_edit.setText(str(src))
    batch.output_edit.setText("/proc/gantrans-no-such/out")
    batch.start_button.click()
    qtbot.waitUntil(lambda: batch.window_.last_error is not None and not batch.is_busy(), timeout=WAIT)
    assert batch.window_.last_error[0] == ("/proc/gantrans-no-such/out: cannot create it (no such file or "
                                           "directory); choose another output folder")
    assert batch.report is None and batch.errors.rowCount() == 0  # not one row per image
    assert batch.summary.text().startswith("Not started: ")
