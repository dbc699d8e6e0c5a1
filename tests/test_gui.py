"""The desktop GUI, driven through its real widgets (pytest-qt, offscreen)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
pytest.importorskip("superqt")

from PySide6.QtCore import QEvent, QMimeData, QObject, QPointF, QSettings, Qt, QTimer, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from onnx_models import generator_model, translate_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WAIT = 20000


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def home(tmp_path, monkeypatch):
    """A clean settings file and working folder for each test (``exports/`` is the default folder)."""
    settings_dir = tmp_path / "settings"
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exports").mkdir()
    return tmp_path


@pytest.fixture
def make_window(qtbot, home):
    from gantrans_gui import MainWindow

    made = []

    def make():
        w = MainWindow()
        qtbot.addWidget(w)
        w.show()
        qtbot.waitExposed(w)
        qtbot.waitUntil(lambda: w.is_ready, timeout=WAIT)
        made.append(w)
        return w

    yield make
    for w in made:
        for view in w.built_views().values():
            if hasattr(view, "shutdown"):
                view.shutdown()
    from gantrans_gui import workers

    workers.wait_for_workers(10000)


def rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def write_image(path: Path, h: int = 40, w: int = 48, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb(h, w, seed)).save(path)
    return path


def engine_output(model: Path, image: Path) -> np.ndarray:
    from gantrans.inference import Translator

    t = Translator(model)
    return t.translate_image(t.load(image)).pixels


def wait_library(qtbot, window, count: int) -> None:
    qtbot.waitUntil(lambda: len(window.library.valid_entries(task=None)) >= count, timeout=WAIT)


def run_batch(qtbot, view, src, out) -> None:
    """Start the Batch view on ``src`` into ``out`` with the Start button, and wait for its report."""
    view.input_edit.setText(str(src))
    view.output_edit.setText(str(out))
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.report is not None and not view.is_busy(), timeout=WAIT)


def wait_idle(qtbot, view) -> None:
    qtbot.waitUntil(lambda: not view.is_busy(), timeout=WAIT)


def drop(window, paths: list[Path]) -> None:
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    ev = QDropEvent(pos, Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, ev)
    assert ev.isAccepted()


def slow_model_runs(monkeypatch, seconds: float = 0.04) -> None:
    """Make each model run take a while (ONNX Runtime releases the GIL while it runs; so does sleep)."""
    from gantrans.inference.translate import Translator

    original = Translator._run

    def run(self, nchw, cancel=None):
        time.sleep(seconds)
        return original(self, nchw, cancel)

    monkeypatch.setattr(Translator, "_run", run)


# -- translate -----------------------------------------------------------------------------------


def test_translate_shows_exactly_the_engines_pixels(make_window, qtbot, home):
    model = translate_model(home / "exports" / "demo_AtoB.onnx", kernel=3)
    image = write_image(home / "photo.png", 40, 56)
    w = make_window()
    wait_library(qtbot, w, 1)
    view = w.show_view("translate")
    assert view.picker.current_entry().path == model
    view.open_image(str(image))
    qtbot.waitUntil(lambda: view.outcome is not None, timeout=WAIT)
    expected = engine_output(model, image)
    from gantrans_gui.imaging import qimage_rgb

    np.testing.assert_array_equal(qimage_rgb(view.after), expected)
    # What is on screen at 100 %, not only what is stored, is the engine's output.
    view.set_mode("side")
    view.zoom("100")
    qtbot.wait(20)
    canvas = view.after_canvas
    r = canvas.image_rect()
    shot = canvas.grab().toImage().copy(int(r.x()), int(r.y()), int(r.width()), int(r.height()))
    np.testing.assert_array_equal(qimage_rgb(shot), expected)
    # the split view shows the input left of the divider and the result right of it
    view.set_mode("split")
    view.split_canvas.set_split(0.5)
    qtbot.wait(20)
    assert view.state.scale == 1.0  # zoom is shared by every canvas
    assert "demo" in w.status_model.text() and w.status_time.text().endswith((" ms", " s"))
    assert "CPU" in w.status_provider.text()
    assert str(image) in w.settings.recent_files


def test_zoom_and_pan_stay_in_sync(make_window, qtbot, home):
    translate_model(home / "exports" / "m_AtoB.onnx")
    image = write_image(home / "a.png", 64, 64)
    w = make_window()
    wait_library(qtbot, w, 1)
    view = w.show_view("translate")
    view.open_image(str(image))
    qtbot.waitUntil(lambda: view.outcome is not None, timeout=WAIT)
    view.set_mode("side")
    left, right = view.before_canvas, view.after_canvas
    qtbot.keyClick(left, Qt.Key.Key_1)  # 100 %
    assert view.state.scale == 1.0
    left.pan(10, -6)
    assert left.image_rect() == right.image_rect()
    left.zoom("in")
    assert right.scale() == pytest.approx(1.25)
    assert left.image_rect() == right.image_rect()
    w.findChild(type(view), "view_translate")  # built once
    view.zoom("fit")
    assert view.state.scale is None and view.zoom_label.text() == "Fit"


def test_direction_cache_and_save_asks_before_overwrite(make_window, qtbot, home, monkeypatch):
    a2b = translate_model(home / "exports" / "run_AtoB.onnx", seed=1)
    b2a = translate_model(home / "exports" / "run_BtoA.onnx", seed=2, direction="BtoA")

    image = write_image(home / "in.png")
    w = make_window()
    wait_library(qtbot, w, 2)
    view = w.show_view("translate")
    view.open_image(str(image))
    qtbot.waitUntil(lambda: view.outcome is not None, timeout=WAIT)
    first = view.outcome
    # both heads of one export: one model entry, two directions
    assert view.picker.model_combo.count() == 1 and view.picker.direction_combo.count() == 2
    assert view.picker.direction_combo.isEnabled()
    assert view.select_model(b2a)
    qtbot.waitUntil(lambda: view.outcome is not None and view.outcome.request.model == b2a, timeout=WAIT)
    assert view.select_model(a2b)
    # back to the first model: served from the cache, no new run
    assert view.outcome is first and "cached" in view.info.text()

    target = home / "out" / "result.png"
    target.parent.mkdir()
    target.write_bytes(b"keep me")
    monkeypatch.setattr(view, "ask_save_path", lambda: str(target))
    monkeypatch.setattr(view, "confirm_overwrite", lambda path: False)
    view.save_result()
    qtbot.wait(100)
    assert target.read_bytes() == b"keep me"
    monkeypatch.setattr(view, "confirm_overwrite", lambda path: True)
    view.save_result()
    qtbot.waitUntil(lambda: target.read_bytes() != b"keep me", timeout=WAIT)
    np.testing.assert_array_equal(np.asarray(Image.open(target)), engine_output(a2b, image))
    for ext in (".jpg", ".webp"):
        out = home / "out" / f"result{ext}"
        monkeypatch.setattr(view, "ask_save_path", lambda out=out: str(out))
        view.save_result()
        qtbot.waitUntil(out.is_file, timeout=WAIT)
        assert Image.open(out).size == (48, 40)


def test_paste_an_image(make_window, qtbot, home):
    model = translate_model(home / "exports" / "m_AtoB.onnx")
    w = make_window()
    wait_library(qtbot, w, 1)
    view = w.show_view("translate")
    pixels = rgb(24, 32, seed=3)
    qimg = QImage(pixels.data, 32, 24, 96, QImage.Format.Format_RGB888).copy()
    QGuiApplication.clipboard().setImage(qimg)
    view.paste()
    qtbot.waitUntil(lambda: view.outcome is not None, timeout=WAIT)
    from gantrans.inference import Translator
    from gantrans_gui.imaging import qimage_rgb

    expected = Translator(model).translate_array(pixels)
    np.testing.assert_array_equal(qimage_rgb(view.after), np.clip(np.rint(expected * 255), 0, 255).astype(np.uint8))


# -- drops and the library -----------------------------------------------------------------------


def test_drop_model_checkpoint_and_image(make_window, qtbot, home):
    elsewhere = translate_model(home / "elsewhere" / "dropped_AtoB.onnx")
    image = write_image(home / "dropme.png")
    ckpt = home / "latest_net_G_A.pth"
    ckpt.write_bytes(b"not really a checkpoint")
    w = make_window()
    drop(w, [elsewhere])
    qtbot.waitUntil(lambda: w.library.entry(elsewhere) is not None, timeout=WAIT)
    assert elsewhere in w.library.models  # remembered as a single file
    drop(w, [ckpt])
    assert "gantrans import" in w.last_checkpoint_advice and "gantrans export" in w.last_checkpoint_advice
    drop(w, [image])
    view = w.view("translate")
    assert w.current_key() == "translate"
    qtbot.waitUntil(lambda: view.outcome is not None, timeout=WAIT)
    assert view.source_name == "dropme.png"
    assert w.last_error is None


def test_library_cards_invalid_files_and_watching(make_window, qtbot, home):
    folder = home / "models"
    good = translate_model(folder / "cats_AtoB.onnx", extra={"run_name": "cats", "epoch": 7, "step": 700,
                                                             "parity_max_abs_diff": 3e-6})
    (folder / "broken.onnx").write_bytes(b"\x00garbage that is not protobuf")
    (folder / "half.onnx").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    w = make_window()
    w.add_model_folder(folder)
    qtbot.waitUntil(lambda: len(w.library.entries) == 3, timeout=WAIT)
    view = w.show_view("library")
    entry = w.library.entry(good)
    card = dict(entry.card())
    assert card["Task"] == "translate" and "A → B" in card["Direction"]
    assert card["Source run"] == "cats (epoch 7, step 700)" and "3.0e-06" in card["Parity"]
    assert card["Precision"] == "fp32"
    bad = {e.path.name: e.error for e in w.library.invalid_entries()}
    assert set(bad) == {"broken.onnx", "half.onnx"} and all("not an ONNX model" in r for r in bad.values())
    assert "2 unusable" in view.summary.text()
    rows = [view.list_model.data(view.list_model.index(k)) for k in range(view.list_model.rowCount())]
    assert any("half.onnx" in r and "truncated" in r for r in rows)
    view.select_path(good)
    assert view.card.title() == entry.display_name
    # a new export appearing in a watched folder shows up by itself
    translate_model(folder / "cats.int8.onnx", extra={"quantization": "QDQ", "int8_psnr_db": 41.5})
    qtbot.waitUntil(lambda: len(w.library.entries) == 4, timeout=WAIT)
    q = w.library.entry(folder / "cats.int8.onnx")
    assert q.int8 and "41.5 dB" in dict(q.card())["Parity"]
    assert w.last_error is None


def test_library_sorts_models_without_metadata_by_their_inputs(make_window, qtbot, home):
    """No gantrans metadata: a generator is listed as one, a model that is no image model is
    unusable with the reason loading it would give, before anyone opens either."""
    import onnx
    from onnx import TensorProto, helper

    folder = home / "foreign"
    translate_model(folder / "t.onnx", metadata=False)
    generator_model(folder / "g.onnx", metadata=False)
    graph = helper.make_graph([helper.make_node("Identity", ["v"], ["y"])], "vec",
                              [helper.make_tensor_value_info("v", TensorProto.FLOAT, ["N", 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(folder / "vec.onnx"))
    w = make_window()
    w.add_model_folder(folder)
    qtbot.waitUntil(lambda: len(w.library.entries) == 3, timeout=WAIT)
    assert [e.path.name for e in w.library.valid_entries(task="generate")] == ["g.onnx"]
    assert [e.path.name for e in w.library.valid_entries(task="translate")] == ["t.onnx"]
    assert w.library.entry(folder / "t.onnx").direction_label == "translate, no gantrans metadata"
    card = dict(w.library.entry(folder / "t.onnx").card())
    assert card["Task"] == "translate" and card["Channels"] == "3 in, 3 out" and "assumed" in card["Value range"]
    [bad] = w.library.invalid_entries()
    assert bad.path.name == "vec.onnx" and bad.error.startswith("no 4-D image output")


def test_a_dropped_folder_of_images_is_the_batch_input_not_a_model_folder(make_window, qtbot, home):
    photos = home / "photos"
    write_image(photos / "a.png")
    write_image(photos / "b.jpg")
    models = home / "my models"
    translate_model(models / "m_AtoB.onnx")
    write_image(models / "preview.png")  # a model folder with a picture in it stays a model folder
    w = make_window()
    w.open_paths([str(photos)])
    assert w.current_key() == "batch" and w.current_view().input_edit.text() == str(photos)
    assert "a folder of images, not of models" in w.statusBar().currentMessage()
    assert photos not in w.library.folders and str(photos) not in w.settings.library_folders
    w.open_paths([str(models)])
    assert models in w.library.folders


def test_a_missing_file_is_said_and_forgotten_and_quit_has_a_key(make_window, qtbot, home):
    from PySide6.QtGui import QKeySequence

    w = make_window()
    gone = home / "gone.png"
    w.settings.add_recent_file(str(gone))
    w.open_paths([str(gone)])
    assert w.last_error[0] == f"{gone}: no such file or folder (moved or deleted?); nothing was opened"
    assert str(gone) not in w.settings.recent_files
    w.open_paths([str(home / "typo.onnx")])
    assert "typo.onnx: no such file" in w.last_error[0] and w.library.entry(home / "typo.onnx") is None
    (home / "notes.txt").write_text("x")
    dialogs = len(w._dialogs)
    w.open_paths([str(home / "gone2.png"), str(home / "notes.txt")])  # several at once: one dialog
    assert len(w._dialogs) == dialogs + 1
    assert w.last_error[0] == "2 of the 2 files given could not be opened: gone2.png, notes.txt"
    assert "notes.txt: not an image, an .onnx model or a folder" in w.last_error[1]
    quit_action = next(a for a in w.actions() if a.text() == "&Quit")
    assert quit_action.shortcuts() and quit_action.shortcuts()[0] != QKeySequence()
    for key, label, enabled in (("compare", "&Compare", True), ("batch", "&Start batch", True),
                                ("translate", "&Translate", True), ("library", "&Translate", False),
                                ("runs", "&Translate", False)):  # Runs' 'run' is its RunDir, not an action
        w.show_view(key)  # Run > ... says what Ctrl+Enter does in the view on screen
        assert (w.run_action.text(), w.run_action.isEnabled()) == (label, enabled), key
    model = translate_model(home / "elsewhere" / "m_AtoB.onnx")
    w.add_model(model)
    model.unlink()
    w.rescan_library()
    qtbot.waitUntil(lambda: bool(w.library.invalid_entries()), timeout=WAIT)
    assert w.library.invalid_entries()[0].error.startswith("the file is gone (moved or deleted); Forget it here")


# -- compare -------------------------------------------------------------------------------------


def test_compare_two_models(make_window, qtbot, home):
    m1 = translate_model(home / "exports" / "one_AtoB.onnx", kernel=3, seed=1)
    m2 = translate_model(home / "exports" / "two_AtoB.onnx", kernel=1, seed=2)
    image = write_image(home / "cmp.png", 32, 48)
    w = make_window()
    wait_library(qtbot, w, 2)
    view = w.show_view("compare")
    view.set_models([m1, m2])
    view.open_image(str(image))
    qtbot.waitUntil(lambda: len(view.results) == 2 and not view.is_busy(), timeout=WAIT)
    from gantrans_gui.imaging import qimage_rgb

    for k, model in enumerate((m1, m2)):
        outcome, shown = view.results[k]
        assert outcome.request.model == model
        np.testing.assert_array_equal(qimage_rgb(shown), engine_output(model, image))
        assert model.stem.split("_")[0] in view.canvases[k].caption and "ms" in view.canvases[k].caption
    assert not np.array_equal(qimage_rgb(view.results[0][1]), qimage_rgb(view.results[1][1]))
    # one zoom for the whole grid
    view.canvases[0].zoom("100")
    assert view.canvases[1].scale() == 1.0 and view.input_canvas.scale() == 1.0
    # both models are compared already: a third slot would repeat one
    assert not view.add_button.isEnabled() and "already compared" in view.add_button.toolTip()
    m3 = translate_model(home / "exports" / "three_AtoB.onnx", kernel=1, seed=3)
    w.add_model(m3)
    qtbot.waitUntil(view.add_button.isEnabled, timeout=WAIT)
    assert view.add_slot().path() == m3  # the new slot takes the model not compared yet
    assert view.add_slot() is not None and view.add_slot() is None  # at most 4
    assert len(view.slots) == 4


def test_compare_takes_a_dropped_or_pasted_image_and_says_so_before(make_window, qtbot, home):
    """On the Compare view a dropped or pasted image is compared, not sent off to Translate."""
    m1 = translate_model(home / "exports" / "one_AtoB.onnx", kernel=3, seed=1)
    m2 = translate_model(home / "exports" / "two_AtoB.onnx", kernel=1, seed=2)
    w = make_window()
    wait_library(qtbot, w, 2)
    view = w.show_view("compare")
    view.set_models([m1, m2])
    assert "Drop an image here" in view.input_canvas.placeholder  # the blank input cell says what to do
    image = write_image(home / "dropped.png", 32, 48)
    drop(w, [image])
    qtbot.waitUntil(lambda: len(view.results) == 2 and not view.is_busy(), timeout=WAIT)
    assert w.current_key() == "compare" and view.source_name == "dropped.png"
    assert "translate" not in w.built_views() or w.view("translate").source is None
    pixels = rgb(24, 32, seed=3)
    QGuiApplication.clipboard().setImage(QImage(pixels.data, 32, 24, 96, QImage.Format.Format_RGB888).copy())
    view.paste()
    qtbot.waitUntil(lambda: view.source_name == "pasted image" and len(view.results) == 2 and not view.is_busy(),
                    timeout=WAIT)
    assert view.info.text().startswith("pasted image: ") and " ms" in view.info.text()


def test_compare_opens_without_stray_windows_and_compares_the_same_models_after_a_restart(make_window, qtbot,
                                                                                          home):
    models = [translate_model(home / "exports" / f"{n}_AtoB.onnx", seed=k) for k, n in enumerate(("a", "b", "c"))]
    w = make_window()
    wait_library(qtbot, w, 3)
    shown = []

    class Spy(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt API
            if event.type() == QEvent.Type.Show and obj.isWidgetType() and obj.isWindow():
                shown.append(obj)
            return False

    spy = Spy()
    QApplication.instance().installEventFilter(spy)
    try:
        view = w.show_view("compare")
    finally:
        QApplication.instance().removeEventFilter(spy)
    assert [type(o).__name__ for o in shown if o is not w] == []  # its image cells are no windows of their own
    view.set_models([models[2], models[0]])
    w.close()
    again = make_window()  # opens on Compare, before its library is read
    assert again.current_key() == "compare"
    wait_library(qtbot, again, 3)
    assert [s.path() for s in again.view("compare").slots] == [models[2], models[0]]


def test_cancelling_a_comparison_says_so_in_the_view(make_window, qtbot, home, monkeypatch):
    from gantrans.errors import Cancelled
    from gantrans_gui import compare_view

    def waits_for_cancel(requests, cancel, on_result):
        while not cancel.cancelled:
            time.sleep(0.01)
        raise Cancelled("cancelled")

    monkeypatch.setattr(compare_view, "compare_all", waits_for_cancel)
    for k, n in enumerate(("one", "two")):
        translate_model(home / "exports" / f"{n}_AtoB.onnx", seed=k)
    w = make_window()
    wait_library(qtbot, w, 2)
    view = w.show_view("compare")
    view.open_image(str(write_image(home / "c.png", 32, 32)))
    qtbot.waitUntil(view.is_busy, timeout=WAIT)
    assert view.info.text().startswith("Running 2 models")
    view.cancel()
    assert not view.is_busy() and view.info.text() == "Cancelled: 0 of 2 models had finished on c.png"
    assert all(c.placeholder.endswith("Cancelled") for c in view.canvases[:2])
    wait_idle(qtbot, view)
    qtbot.wait(100)
    assert w.last_error is None and view.info.text().startswith("Cancelled")


# -- batch ---------------------------------------------------------------------------------------
def _tree(root: Path, n: int = 6) -> list[Path]:
    files = []
    for k in range(n):
        sub = root / ("" if k % 2 else f"sub{k % 3}")
        files.append(write_image(sub / f"img{k}.png", 32, 40, seed=k))
    return files


def test_batch_mirrors_tree_reports_corrupt_file_and_keeps_loop_alive(make_window, qtbot, home, monkeypatch):
    model = translate_model(home / "exports" / "b_AtoB.onnx", kernel=3)
    src, out = home / "in", home / "out"
    files = _tree(src, 8)
    corrupt = src / "sub1" / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    slow_model_runs(monkeypatch, 0.1)
    w = make_window()
    wait_library(qtbot, w, 1)
    view = w.show_view("batch")
    view.input_edit.setText(str(src))
    view.output_edit.setText(str(out))
    view.recursive.setChecked(True)
    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    heartbeat.start()
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.report is not None and not view.is_busy(), timeout=WAIT)
    heartbeat.stop()
    # The loop kept ticking while the batch ran: had the 8 model runs of >= 100 ms each blocked it,
    # the 10 ms heartbeat would have ticked about once per file, with gaps of 100 ms and more.
    gaps = np.diff(ticks)
    assert len(ticks) > 3 * 8
    assert np.median(gaps) < 0.05
    assert gaps.max() < 1.0
    for f in files:
        dst = out / f.relative_to(src)
        assert dst.is_file(), dst
        np.testing.assert_array_equal(np.asarray(Image.open(dst)), engine_output(model, f))
    assert not (out / "sub1" / "corrupt.png").exists()
    assert view.errors.rowCount() == 1
    assert view.errors.item(0, 0).text() == str(corrupt)
    assert "corrupt.png" not in view.errors.item(0, 1).text() or "truncated" in view.errors.item(0, 1).text()
    assert view.errors.item(0, 1).text()
    assert "8 written" in view.summary.text() and "1 failed" in view.summary.text()


def test_batch_cancel_midway(make_window, qtbot, home, monkeypatch):
    translate_model(home / "exports" / "c_AtoB.onnx")
    src, out = home / "in", home / "out"
    for k in range(30):
        write_image(src / f"f{k:02d}.png", 32, 32, seed=k)
    slow_model_runs(monkeypatch, 0.05)
    w = make_window()
    wait_library(qtbot, w, 1)
    view = w.show_view("batch")
    view.input_edit.setText(str(src))
    view.output_edit.setText(str(out))
    view.run()
    qtbot.waitUntil(lambda: view._done >= 3, timeout=WAIT)
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.is_busy(), timeout=WAIT)
    assert view.cancelled
    written = sorted(out.glob("*.png"))
    assert 3 <= len(written) < 30
    assert len(view.report.written) == len(written)
    for f in written:  # whatever was written is whole
        assert Image.open(f).size == (32, 32)
    assert view.summary.text().startswith("Cancelled")
    assert not list(out.glob(".*.tmp"))


def test_batch_output_inside_input_and_existing_files(make_window, qtbot, home, monkeypatch):
    translate_model(home / "exports" / "d_AtoB.onnx")
    src = home / "in"
    files = _tree(src, 4)
    inside = src / "translated"
    w = make_window()
    wait_library(qtbot, w, 1)
    view = w.show_view("batch")
    view.input_edit.setText(str(src))
    view.output_edit.setText(str(inside))
    asked = []
    monkeypatch.setattr(view, "confirm_output_inside", lambda o, i: asked.append(o) or False)
    view.run()
    qtbot.wait(50)
    assert asked and not inside.exists() and view.report is None
    # the same folder is refused outright
    view.output_edit.setText(str(src))
    view.run()
    assert "is the input folder" in w.last_error[0]
    view.output_edit.setText(str(inside))
    monkeypatch.setattr(view, "confirm_output_inside", lambda o, i: True)
    view.run()
    qtbot.waitUntil(lambda: view.report is not None and not view.is_busy(), timeout=WAIT)
    assert len(view.report.written) == len(files)
    # a second run into the same folder asks; "skip" leaves existing results untouched
    victim = inside / files[1].relative_to(src)
    victim.write_bytes(b"user's file")
    choices = []
    monkeypatch.setattr(view, "ask_existing", lambda n, total: choices.append((n, total)) or "skip")
    view.report = None
    view.run()
    qtbot.waitUntil(lambda: view.report is not None and not view.is_busy(), timeout=WAIT)
    assert choices == [(4, 4)]
    assert victim.read_bytes() == b"user's file"
    assert not list(inside.rglob("translated"))  # the output folder was not read as input
    monkeypatch.setattr(view, "ask_existing", lambda n, total: "overwrite")
    view.report = None
    view.run()
    qtbot.waitUntil(lambda: view.report is not None and not view.is_busy(), timeout=WAIT)
    assert victim.read_bytes() != b"user's file" and len(view.report.written) == 4


# -- settings, restart, errors -------------------------------------------------------------------


def test_restart_finds_settings_folders_and_recent_files(make_window, qtbot, home):
    folder = home / "my models"
    model = translate_model(folder / "keep_AtoB.onnx")
    single = translate_model(home / "single" / "one_AtoB.onnx")
    image = write_image(home / "recent.png")
    w = make_window()
    w.add_model_folder(folder)
    w.add_model(single)
    wait_library(qtbot, w, 2)
    sv = w.show_view("settings")
    sv.tiling_combo.setCurrentIndex(sv.tiling_combo.findData("512"))
    sv.threads_spin.setValue(1)
    sv.theme_combo.setCurrentIndex(sv.theme_combo.findData("dark"))
    qtbot.waitUntil(lambda: sv.provider_combo.count() > 1, timeout=WAIT)
    sv.provider_combo.setCurrentIndex(sv.provider_combo.findData("CPUExecutionProvider"))
    tv = w.show_view("translate")
    tv.open_image(str(image))
    qtbot.waitUntil(lambda: tv.outcome is not None, timeout=WAIT)
    w.show_view("batch")
    w.close()

    w2 = make_window()
    assert folder in w2.library.folders and single in w2.library.models
    qtbot.waitUntil(lambda: w2.library.entry(model) is not None and w2.library.entry(single) is not None,
                    timeout=WAIT)
    assert w2.current_key() == "batch"
    s = w2.settings
    assert (s.tiling, s.threads, s.theme, s.provider) == ("512", 1, "dark", "CPUExecutionProvider")
    assert s.recent_files[0] == str(image)
    sv2 = w2.show_view("settings")
    assert sv2.tiling_combo.currentData() == "512" and sv2.theme_combo.currentData() == "dark"
    assert w2.show_view("translate").tiling.currentData() == "512"
    w2.recent_menu.aboutToShow.emit()
    assert str(image) in [a.text() for a in w2.recent_menu.actions()]


def test_the_largest_image_setting_is_the_pixel_limit_and_is_worded_for_the_app(make_window, qtbot, home,
                                                                                monkeypatch):
    """GANTRANS_MAX_PIXELS is no knob for a desktop user: Settings has one, remembered, and an image
    over it says where it is."""
    monkeypatch.setenv("GANTRANS_MAX_PIXELS", "1")  # recorded, so restored after the test whatever the app sets
    monkeypatch.delenv("GANTRANS_MAX_PIXELS")
    translate_model(home / "exports" / "m_AtoB.onnx")
    src = home / "in"
    src.mkdir()
    big = write_image(src / "scan.png", 1250, 1000)  # 1.25 Mpx
    w = make_window()
    wait_library(qtbot, w, 1)
    sv = w.show_view("settings")
    assert sv.pixels_spin.text() == "67 Mpx (the default)"
    sv.pixels_spin.setValue(1)
    view = w.show_view("batch")
    run_batch(qtbot, view, src, home / "out")
    reason = view.errors.item(0, 1).text()
    assert view.errors.item(0, 0).text() == str(big)
    assert reason == ("1000x1250 = 1250000 pixels is over the limit of 1000000 pixels (a decompression bomb?); "
                      "raise Largest image under Settings to accept it")
    w.close()
    w2 = make_window()
    wait_library(qtbot, w2, 1)
    assert w2.settings.max_megapixels == 1 and w2.show_view("settings").pixels_spin.value() == 1
    w2.show_view("settings").pixels_spin.setValue(2)
    view = w2.show_view("batch")
    run_batch(qtbot, view, src, home / "out")
    assert view.report.ok and (home / "out" / "scan.png").is_file()


def test_errors_show_one_line_with_details_and_the_app_goes_on(make_window, qtbot, home):
    model = translate_model(home / "exports" / "e_AtoB.onnx")
    bad = home / "bad.png"
    bad.write_bytes(b"definitely not an image")
    w = make_window()
    wait_library(qtbot, w, 1)
    view = w.show_view("translate")
    view.open_image(str(bad))
    qtbot.waitUntil(lambda: w.last_error is not None, timeout=WAIT)
    message, details = w.last_error
    assert "bad.png" in message and "\n" not in message
    from gantrans_gui.error_dialog import ErrorDialog

    dialogs = [d for d in w.findChildren(ErrorDialog) if d.isVisible()]
    assert dialogs and dialogs[-1].message_label.text() == message
    assert dialogs[-1].details_box is None and details == ""  # the user's error: no Python stack to unfold
    dialogs[-1].accept()
    # an exception escaping a worker reaches the dialog too, and the app keeps working
    from gantrans_gui import workers

    def boom():
        raise RuntimeError("worker exploded")

    workers.run_in_thread(boom)
    qtbot.waitUntil(lambda: w.last_error[0] == "RuntimeError: worker exploded", timeout=WAIT)
    assert "Traceback" in w.last_error[1]  # an unexpected one keeps its traceback for a bug report
    dialogs = [d for d in w.findChildren(ErrorDialog) if d.isVisible()]
    assert dialogs[-1].details_box is not None and not dialogs[-1].details_box.isExpanded()
    dialogs[-1].accept()
    good = write_image(home / "good.png")
    view.open_image(str(good))
    qtbot.waitUntil(lambda: view.outcome is not None, timeout=WAIT)
    assert view.outcome.request.model == model
    # a file that fails to open leaves the image on screen described as before
    shown = view.info.text()
    assert shown.startswith("good.png")
    view.open_image(str(bad))
    qtbot.waitUntil(lambda: not view.info.text().startswith("Opening"), timeout=WAIT)
    assert view.info.text() == shown and view.source_name == "good.png"


def test_an_image_over_the_memory_bound_asks_for_the_tiling_menu_not_a_flag(make_window, qtbot, home, monkeypatch):
    """A model that discourages tiling is tiled only when the user says so; the app says where."""
    from gantrans.inference import memory

    translate_model(home / "exports" / "whole_AtoB.onnx", tiling="discouraged")
    monkeypatch.setattr(memory, "default_memory_limit", lambda: 64 * 64 * 2048)
    w = make_window()
    wait_library(qtbot, w, 1)
    view = w.show_view("translate")
    view.open_image(str(write_image(home / "big.png", 120, 100)))
    qtbot.waitUntil(lambda: view.info.text().startswith("Failed"), timeout=WAIT)
    assert "over the limit" in view.info.text() and "choose a tile size under Tiling" in view.info.text()
    assert "--tile" not in view.info.text()
    assert view.info.text().startswith(f"Failed: {home / 'big.png'}: a 100x120 image needs about")  # which file
    assert w.status_time.text() == "Last inference: failed"  # not an earlier image's time
    slow_model_runs(monkeypatch, 0.3)
    view.tiling.setCurrentIndex(view.tiling.findData("256"))  # 64 px tiles under this bound: 4 of them
    view.run()
    qtbot.waitUntil(view.cancel_button.isVisible, timeout=WAIT)  # a long translation can be stopped by a click
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    assert view.info.text() == "Cancelled" and not view.cancel_button.isVisible() and not view.is_busy()
    monkeypatch.undo()
    monkeypatch.setattr(memory, "default_memory_limit", lambda: 64 * 64 * 2048)
    view.run()
    qtbot.waitUntil(lambda: view.outcome is not None, timeout=WAIT)
    assert view.after is not None and (view.after.width(), view.after.height()) == (100, 120)


def test_batch_words_what_its_walk_left_out_for_the_app(make_window, qtbot, home):
    translate_model(home / "exports" / "m_AtoB.onnx")
    src = home / "in"
    write_image(src / "a.png", 16, 16)
    write_image(src / "deeper" / "b.png", 16, 16)
    w = make_window()
    wait_library(qtbot, w, 1)
    view = w.show_view("batch")
    view.recursive.setChecked(False)
    run_batch(qtbot, view, src, home / "out")
    assert view.errors.item(0, 0).text() == str(src)
    assert view.errors.item(0, 1).text() == ("left out: 1 sub-folder(s) not entered (deeper/); tick Include "
                                             "sub-folders to translate them too")


def test_batch_says_a_file_is_not_a_folder_and_shows_where_a_relative_output_goes(make_window, qtbot, home,
                                                                                  monkeypatch):
    translate_model(home / "exports" / "m_AtoB.onnx")
    src = home / "in"
    one = write_image(src / "a.png", 16, 16)
    w = make_window()
    wait_library(qtbot, w, 1)
    view = w.show_view("batch")
    view.input_edit.setText(str(one))
    view.output_edit.setText(str(home / "out"))
    view.run()
    assert w.last_error[0] == (f"{one}: is a file, not a folder; choose the folder of images to translate (the "
                               f"Translate view opens a single image)")
    monkeypatch.chdir(home)
    run_batch(qtbot, view, "in", "results")
    assert view.input_edit.text() == str(src) and view.output_edit.text() == str(home / "results")
    assert (home / "results" / "a.png").is_file() and str(home / "results") in view.summary.text()


def test_batch_words_an_over_bound_image_for_the_app_not_the_command_line(make_window, qtbot, home, monkeypatch):
    from gantrans.inference import memory

    translate_model(home / "exports" / "whole_AtoB.onnx", tiling="discouraged")
    monkeypatch.setattr(memory, "default_memory_limit", lambda: 64 * 64 * 2048)
    src = home / "in"
    src.mkdir()
    write_image(src / "small.png", 32, 32)
    big = write_image(src / "big.png", 120, 100)
    w = make_window()
    wait_library(qtbot, w, 1)
    view = w.show_view("batch")
    run_batch(qtbot, view, src, home / "out")
    assert view.errors.rowCount() == 1 and view.errors.item(0, 0).text() == str(big)
    reason = view.errors.item(0, 1).text()
    assert "over the limit" in reason and "choose a tile size under Tiling" in reason and "--tile" not in reason
    assert view.errors.item(0, 1).toolTip() == f"{big}: {reason}"
    assert (home / "out" / "small.png").is_file()


def test_accessible_names_and_shortcuts(make_window, qtbot, home):
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit

    w = make_window()
    for key in ("library", "translate", "compare", "batch", "settings"):
        view = w.show_view(key)
        found = [c for t in (QAbstractButton, QComboBox, QLineEdit) for c in view.findChildren(t)]
        for widget in found:
            if isinstance(widget.parent(), (QAbstractSpinBox, QComboBox)):
                continue  # the editor inside a spin box or combo box: the parent is named
            if widget.isVisibleTo(view) and not widget.accessibleName():
                if isinstance(widget, QAbstractButton) and widget.text():
                    continue  # a button's text is its accessible name
                pytest.fail(f"{key}: {type(widget).__name__} without an accessible name")
    shortcuts = {a.text(): a.shortcut().toString() for a in w.actions()}
    assert shortcuts["&Open image…"] == "Ctrl+O" and shortcuts["&Save result…"] == "Ctrl+S"
    assert shortcuts["&Translate"] == "Ctrl+Return" and shortcuts["&Fit to window"] == "Ctrl+0"
    assert shortcuts["Models"] == "Alt+1" and shortcuts["Batch"] == "Alt+4"
    w.show_view("library")
    with qtbot.waitActive(w):
        w.activateWindow()
    w.nav.setFocus()
    qtbot.keyClick(w.nav, Qt.Key.Key_3, Qt.KeyboardModifier.AltModifier)
    assert w.current_key() == "compare"


def test_views_are_listed_once_and_built_lazily(make_window, qtbot, home):
    from gantrans_gui.view_registry import VIEWS

    w = make_window()
    assert [w.nav.item(k).data(Qt.ItemDataRole.UserRole) for k in range(w.nav.count())] == [v.key for v in VIEWS]
    assert set(w.built_views()) == {"translate"}  # only the first view shown is built
    for spec in VIEWS:
        assert spec.load().__init__.__code__.co_argcount == 2  # (self, window)


def test_emitting_a_signal_keeps_pythons_reference_counts():
    """PySide6 6.12.0 drops a reference to True on every Signal.emit(). On Python 3.10 and 3.11,
    where True is not immortal, a GUI session aborts with "Fatal Python error: bool_dealloc" once
    its emits outnumber True's references (a few thousand: a long training's progress events),
    or at exit. pyproject.toml excludes that release; this catches any other that does the same."""
    import gc

    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        bare = Signal()
        value = Signal(object)

    e = Emitter()
    seen = []
    e.value.connect(seen.append)
    gc.collect()
    before = sys.getrefcount(True), sys.getrefcount(False)
    for k in range(200):
        e.bare.emit()
        e.value.emit(k)
    gc.collect()
    assert len(seen) == 200
    assert (sys.getrefcount(True), sys.getrefcount(False)) == before


def test_gui_never_imports_torch(home):
    """Drive every view in a fresh process and check torch never loaded."""
    model = translate_model(home / "exports" / "t_AtoB.onnx")
    write_image(home / "in" / "a.png")
    write_image(home / "in" / "s" / "b.png", seed=1)
    code = textwrap.dedent(f"""
        import sys
        from PySide6.QtCore import QSettings
        from PySide6.QtTest import QTest
        from PySide6.QtWidgets import QApplication
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, {str(home / "s2")!r})
        app = QApplication([])
        from gantrans_gui import MainWindow
        w = MainWindow(); w.show()
        import time
        def until(cond, what):
            # Generous: a loaded CI machine can be slow; the point is torch, not speed.
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                QTest.qWait(25)
                if cond():
                    return
            raise SystemExit("timed out waiting for " + what)
        until(lambda: w.library.entries, "the library scan")
        for key in ("library", "translate", "compare", "batch", "settings"):
            w.show_view(key)
        tv = w.show_view("translate"); tv.open_image({str(home / "in" / "a.png")!r})
        until(lambda: tv.outcome is not None, "the translation")
        cv = w.show_view("compare"); cv.set_models([{str(model)!r}, {str(model)!r}])
        until(lambda: len(cv.results) == 2, "the comparison")
        bv = w.show_view("batch"); bv.input_edit.setText({str(home / "in")!r})
        bv.output_edit.setText({str(home / "out")!r}); bv.run()
        until(lambda: bv.report is not None, "the batch")
        w.close()
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        assert not loaded, loaded[:5]
        print("ok", len(bv.report.written))
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=home, env=env,
                         timeout=400)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "ok 2" in res.stdout


def test_gui_command_and_startup_time(home):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run([sys.executable, "-m", "gantrans", "gui", "--startup-time"], capture_output=True,
                         text=True, cwd=home, env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    import json

    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["window_shown_s"] > 0
    res = subprocess.run([sys.executable, "-m", "gantrans", "gui", "--bench-translate", "nothere.onnx"],
                         capture_output=True, text=True, cwd=home, env=env, timeout=120)
    assert (res.returncode, res.stdout, res.stderr.strip()) == (1, "", "gantrans: error: nothere.onnx: no such "
                                                                           "model file")


def test_a_command_needing_torch_names_the_extra(tmp_path):
    code = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None  # as if torch were not installed
        from gantrans.cli.main import main
        sys.exit(main(["train", "cyclegan", "--data", "nowhere", "--max-steps", "1"]))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'gantrans[train]'" in lines[0] and "torch" in lines[0]


def test_library_tells_same_named_exports_apart(tmp_path):
    from gantrans_gui.model_library import ModelLibrary, unique_labels

    early = translate_model(tmp_path / "epoch2" / "run_A2B.onnx", direction="A2B", extra={"epoch": 2})
    late = translate_model(tmp_path / "final" / "run_A2B.onnx", direction="A2B", extra={"epoch": 6})
    other = translate_model(tmp_path / "old" / "run_A2B.onnx", direction="A2B", extra={"epoch": 6})
    lib = ModelLibrary(folders=[tmp_path])
    seen = []
    lib.changed.connect(lambda: seen.append(len(lib.entries)))
    lib.rescan()
    assert seen == [3]
    labels = unique_labels(lib.entries)
    assert labels[early] == "run A2B — epoch 2"
    assert labels[late] != labels[other] and len(set(labels.values())) == 3
    assert lib.siblings(lib.entry(late)) == [lib.entry(late)]


def test_gui_command_without_the_gui_extra_names_it(monkeypatch, capsys):
    import argparse
    import importlib.util

    from gantrans_gui import command

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "superqt" else real(name, *a))
    assert command._run(argparse.Namespace(files=[], startup_time=False, bench_translate=None)) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "superqt" in err and "pip install 'gantrans[gui]'" in err


def test_first_export_into_a_missing_exports_folder_appears(make_window, qtbot, home):
    import shutil

    shutil.rmtree(home / "exports")
    w = make_window()
    qtbot.waitUntil(lambda: str(home) in w._watcher.directories(), timeout=WAIT)
    model = translate_model(home / "exports" / "first_AtoB.onnx")
    qtbot.waitUntil(lambda: w.library.entry(model) is not None, timeout=WAIT)


def test_a_long_status_message_ends_before_the_permanent_labels(make_window, qtbot, home):
    w = make_window()
    w.resize(1200, 700)
    w.set_status(model="a model with a long name A2B", provider="CPUExecutionProvider", seconds=0.012)
    qtbot.wait(50)
    long = "a 4000x3000 image needs about 22.9 GiB, over the limit of 11.8 GiB; " * 4
    w.statusBar().showMessage(long)
    shown = w.statusBar().currentMessage()
    assert shown.endswith("…") and len(shown) < len(long) and w.statusBar().toolTip() == long
    from PySide6.QtGui import QFontMetrics

    left_of_labels = min(x.mapTo(w.statusBar(), x.rect().topLeft()).x() for x in (w.status_model, w.status_time))
    assert QFontMetrics(w.statusBar().font()).horizontalAdvance(shown) < left_of_labels
    w.statusBar().showMessage("short")
    assert w.statusBar().currentMessage() == "short" and w.statusBar().toolTip() == ""


def test_deleting_the_model_in_use_says_which_one_takes_its_place(make_window, qtbot, home):
    keep = translate_model(home / "exports" / "keep_AtoB.onnx", seed=1)
    gone = translate_model(home / "exports" / "gone_AtoB.onnx", seed=2)
    w = make_window()
    wait_library(qtbot, w, 2)
    view = w.show_view("translate")
    assert view.picker.select_path(gone)
    gone.unlink()
    w.library.rescan()
    qtbot.waitUntil(lambda: view.picker.current_entry() is not None and view.picker.current_entry().path == keep,
                    timeout=WAIT)
    qtbot.waitUntil(lambda: "gone_AtoB.onnx is no longer in the library" in w.statusBar().currentMessage(),
                    timeout=WAIT)
    assert "now using keep" in w.statusBar().currentMessage()


def test_the_window_can_be_made_narrow_and_the_labels_come_back(make_window, qtbot, home):
    translate_model(home / "exports" / "a_rather_long_model_name_AtoB.onnx")
    w = make_window()
    wait_library(qtbot, w, 1)
    view = w.show_view("translate")
    w.resize(1400, 700)
    qtbot.waitUntil(lambda: view.open_button.text() == "Open…", timeout=WAIT)
    full = view.layout().minimumSize().width()  # what the full labels need
    w.resize(900, 700)  # one resize: the window's minimum already allows the short rows
    qtbot.wait(50)
    assert w.width() < full and w.width() <= 960  # it was 1155+ px before the compact rows
    assert view.open_button.text() == "" and view.open_button.accessibleName() == "Open image"
    assert view.open_button.isVisible() and view.save_button.geometry().right() <= view.width()
    w.resize(1400, 700)
    qtbot.waitUntil(lambda: view.open_button.text() == "Open…", timeout=WAIT)
    assert view.picker.labels[0].isVisible()
    # while another view shows, the Translate view (hidden, full labels) holds nothing wide either
    library = w.show_view("library")
    w.resize(900, 600)
    qtbot.wait(50)
    assert w.width() < full  # the hidden Translate view's full labels do not hold the window wide
    assert view.minimumSizeHint().width() < full and library.minimumSizeHint().width() < full


def test_every_view_fits_a_1024x600_screen_and_long_names_do_not_widen_it(make_window, qtbot, home):
    """A small laptop screen: no view holds the window bigger, and neither does a model or run
    whose name is long (both are cut in the middle, whole in their tooltips)."""
    from test_gui_runs import make_run

    from gantrans_gui.main_window import STATUS_MODEL_WIDTH
    from gantrans_gui.view_registry import VIEWS

    long_model = translate_model(home / "exports" / ("an_extremely_long_model_file_name_" * 3 + "AtoB.onnx"))
    long_run = "a_run_with_a_very_long_name_" * 4 + "2026"
    make_run(home / "runs", long_run)
    w = make_window()
    wait_library(qtbot, w, 1)
    for spec in VIEWS:
        w.show_view(spec.key)
        w.resize(1024, 600)
        qtbot.wait(20)
        assert (w.width(), w.height()) == (1024, 600), spec.key
    translate = w.show_view("translate")
    assert translate.picker.select_path(long_model)
    qtbot.waitUntil(lambda: w.status_model.toolTip().startswith("an_extremely_long"), timeout=WAIT)
    assert w.status_model.width() <= STATUS_MODEL_WIDTH and "…" in w.status_model.fontMetrics().elidedText(
        w.status_model.toolTip(), Qt.TextElideMode.ElideMiddle, w.status_model.width())
    runs = w.show_view("runs")
    runs.add_folder(home / "runs")
    qtbot.waitUntil(lambda: runs.run is not None and runs.run.name == long_run, timeout=WAIT)
    w.resize(1024, 600)
    qtbot.wait(50)
    assert (w.width(), w.height()) == (1024, 600)
    assert runs.title.text() == long_run and runs.title.toolTip() == long_run
    assert runs.title.width() < runs.title.fontMetrics().horizontalAdvance(long_run)  # cut, not clipped by the edge
    assert runs.export_button.geometry().right() <= runs.width()


def test_the_keyboard_reaches_each_views_main_action(make_window, qtbot, home, monkeypatch):
    """Ctrl+Enter is the view's main action (it was off in the training, samples and plugins
    views), its buttons have Alt mnemonics, and Tab goes through the training form as it reads."""
    w = make_window()
    for key, label in (("training", "S&tart training"), ("samples", "&Generate"), ("plugins", "&Install")):
        view = w.show_view(key)
        assert (w.run_action.text(), w.run_action.isEnabled()) == (label, True), key
    for button in (view.install_button, view.uninstall_button):
        assert "&" in button.text()
    training = w.show_view("training")
    assert all("&" in b.text() for b in (training.start_button, training.stop_button, training.resume_button))
    qtbot.waitUntil(lambda: training.catalog.loaded and bool(training.options.editors), timeout=WAIT)
    seen, x = [], training.reset_button
    while x is not training.data_edit and len(seen) < 500:
        x = x.nextInFocusChain()
        seen.append(x)
    assert x is training.data_edit and all(e in seen for e in training.options.editors.values())
    started = []
    monkeypatch.setattr(training, "start", lambda: started.append(1))
    w.run_action.trigger()
    assert started == [1]


def test_compare_shows_each_models_failure_in_its_cell_as_an_error(make_window, qtbot, home, monkeypatch):
    from gantrans.inference import memory

    m1 = translate_model(home / "exports" / "one_AtoB.onnx", tiling="discouraged", seed=1)
    m2 = translate_model(home / "exports" / "two_AtoB.onnx", tiling="discouraged", seed=2)
    monkeypatch.setattr(memory, "default_memory_limit", lambda: 64 * 64 * 2048)
    w = make_window()
    wait_library(qtbot, w, 2)
    view = w.show_view("compare")
    view.set_models([m1, m2])
    view.open_image(str(write_image(home / "big.png", 120, 100)))
    qtbot.waitUntil(lambda: len(view.results) == 2 and not view.is_busy(), timeout=WAIT)
    for canvas in view.canvases[:2]:
        assert canvas.placeholder_is_error and "Failed: " in canvas.placeholder
        assert "choose a tile size under Tiling" in canvas.placeholder
    assert view.info.text() == "big.png: all 2 failed"
    assert w.status_time.text() == "Last inference: failed"  # no earlier time left standing


def test_the_pickers_name_models_as_the_models_view_does(make_window, qtbot, home):
    """Two exports of one run: every view tells them apart by epoch, then by folder."""
    from gantrans_gui.model_library import unique_labels

    for folder, epoch in (("a", 2), ("b", 4)):
        for direction in ("AtoB", "BtoA"):
            translate_model(home / "exports" / folder / f"run_{direction}.onnx", direction=direction,
                            extra={"epoch": epoch})
    w = make_window()
    wait_library(qtbot, w, 4)
    picker = w.show_view("translate").picker
    names = sorted(picker.model_combo.itemText(k) for k in range(picker.model_combo.count()))
    assert names == ["run — epoch 2", "run — epoch 4"]
    library = sorted(unique_labels(w.library.entries).values())
    assert sorted(n.split(" — ")[1] for n in library) == ["epoch 2", "epoch 2", "epoch 4", "epoch 4"]


def test_the_chosen_model_and_direction_are_remembered_across_a_restart(make_window, qtbot, home):
    for name in ("alpha", "beta"):
        for direction in ("AtoB", "BtoA"):
            translate_model(home / "exports" / f"{name}_{direction}.onnx", direction=direction)
    chosen = home / "exports" / "beta_BtoA.onnx"
    w = make_window()
    wait_library(qtbot, w, 4)
    view = w.show_view("translate")
    assert view.picker.current_entry().path != chosen  # the first model, by default
    assert view.select_model(chosen)
    w.close()
    again = make_window()
    wait_library(qtbot, again, 4)
    picker = again.show_view("translate").picker
    assert picker.current_entry() is not None and picker.current_entry().path == chosen
    assert again.status_model.text() == picker.current_entry().display_name  # before any translation
    assert picker.direction_combo.currentText().startswith("BtoA")
    # reopened on another view: the Translate view, made once the library is read, says it too
    again.show_view("library")
    again.close()
    third = make_window()
    wait_library(qtbot, third, 4)
    view = third.show_view("translate")
    assert view.picker.current_entry().path == chosen
    assert third.status_model.text() == view.picker.current_entry().display_name
