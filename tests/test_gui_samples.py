"""The Samples view: a grid per seed, classes, interpolation, saving."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui_stubs import StubWindow, isolate_settings  # noqa: E402
from onnx_models import generator_model  # noqa: E402

from gantrans.inference import Generator  # noqa: E402
from gantrans_gui.samples_view import SamplesView  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    isolate_settings(monkeypatch, tmp_path)


@pytest.fixture
def view(qtbot):
    window = StubWindow()
    v = SamplesView(window)
    qtbot.addWidget(window)
    qtbot.addWidget(v)
    v.resize(900, 600)
    v.show()
    return v


def _generate(qtbot, view, seed):
    view.grid = None
    view.seed.setValue(seed)
    view.generate_button.click()
    qtbot.waitUntil(lambda: view.grid is not None, timeout=10000)
    return view.grid.copy()


def test_same_seed_gives_the_same_grid(qtbot, view, tmp_path):
    model = generator_model(tmp_path / "gen.onnx", latent=8, size=8)
    view.window_.library.add_model(model)  # it appears in the picker and is opened
    qtbot.waitUntil(lambda: view.grid is not None, timeout=10000)
    view.count.setValue(9)
    a = _generate(qtbot, view, 7)
    b = _generate(qtbot, view, 7)
    c = _generate(qtbot, view, 8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    expected = Generator(model).generate(9, seed=7)
    assert np.array_equal(view.images, Generator(model).generate(9, seed=8))
    assert np.array_equal(a[2:10, 2:10], expected[0])  # first cell, after make_grid's padding
    assert a.shape == (3 * 10 + 2, 3 * 10 + 2, 3)
    shown = view.grid_label.pixmap()
    assert shown is not None and not shown.isNull()


def test_new_samples_changes_the_seed(qtbot, view, tmp_path):
    view.open_model(generator_model(tmp_path / "gen.onnx"))
    qtbot.waitUntil(lambda: view.grid is not None, timeout=10000)
    before = view.seed.value()
    view.grid = None
    view.new_button.click()
    qtbot.waitUntil(lambda: view.grid is not None, timeout=10000)
    assert view.seed.value() != before


def test_class_picker_interpolation_and_save(qtbot, view, tmp_path):
    model = generator_model(tmp_path / "cgan.onnx", class_names=["cat", "dog", "owl"])
    assert view.open_model(model)
    qtbot.waitUntil(lambda: view.grid is not None, timeout=10000)
    assert [view.class_box.itemText(k) for k in range(view.class_box.count())][1:] == ["cat", "dog", "owl"]
    view.class_box.setCurrentIndex(2)  # "dog"
    grid = _generate(qtbot, view, 3)
    gen = Generator(model)
    assert np.array_equal(view.images, gen.generate(16, seed=3, labels=1))
    assert not np.array_equal(view.images, gen.generate(16, seed=3, labels=0))

    view.from_box.setValue(1)
    view.to_box.setValue(2)
    view.interp_button.click()
    qtbot.waitUntil(lambda: view.frames is not None, timeout=10000)
    assert np.array_equal(view.frames[0], view.images[0]) and np.array_equal(view.frames[-1], view.images[1])
    view.slider.setValue(16)
    assert view.interp_label.pixmap() is not None

    out = view.save_grid(tmp_path / "grid.png")
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(out)), grid)


def test_a_translation_model_is_refused_with_one_message(qtbot, view, tmp_path):
    from onnx_models import translate_model

    assert not view.open_model(translate_model(tmp_path / "t.onnx"))
    assert len(view.window_.errors) == 1 and "does not generate" in view.window_.errors[0][0]
