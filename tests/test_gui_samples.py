"""The Samples view: a grid per seed, classes, interpolation, saving."""

from __future__ import annotations

import time

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
    view.open_model(model)
    qtbot.waitUntil(lambda: view.grid is not None, timeout=10000)
    assert [view.class_box.itemText(k) for k in range(view.class_box.count())][1:] == ["cat", "dog", "owl"]
    # every class in turn: each column one class (16 samples of 3 classes: 3 columns, 6 rows)
    assert view.grid.shape[:2] == (6 * 10 + 2, 3 * 10 + 2) and "each column one class, in turn: cat, dog, owl" in \
        view.status.text()
    view.from_box.setValue(1)  # a cat
    view.to_box.setValue(2)    # a dog: the walk stays a cat, and says so
    view.interp_button.click()
    qtbot.waitUntil(lambda: view.frames is not None, timeout=10000)
    assert view.status.text().startswith("Interpolating in class 'cat' (sample 1's) all along")
    view.frames = None
    view.from_box.setValue(10)
    view.to_box.setValue(16)
    view.count.setValue(4)
    _generate(qtbot, view, 0)
    assert (view.from_box.value(), view.to_box.value()) == (1, 4)  # not both clamped onto sample 4
    view.count.setValue(16)
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
    # The boxes change but the grid is not made again: the walk is still between the shown samples.
    view.seed.setValue(99)
    view.count.setValue(4)
    view.class_box.setCurrentIndex(3)
    view.frames = None
    view.interp_button.click()
    qtbot.waitUntil(lambda: view.frames is not None, timeout=10000)
    assert np.array_equal(view.frames[0], view.images[0]) and np.array_equal(view.frames[-1], view.images[1])

    out = view.save_grid(tmp_path / "grid.png")
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(out)), grid)


def _controls(view):
    return {"Generate": view.generate_button, "New samples": view.new_button, "Save grid": view.save_button,
            "Seed": view.seed, "Samples": view.count, "Interpolate": view.interp_button}


def test_controls_are_enabled_when_the_library_model_opens_on_its_own(qtbot, tmp_path):
    window = StubWindow()
    qtbot.addWidget(window)
    window.library.add_model(generator_model(tmp_path / "cgan.onnx", class_names=["a", "b"]))
    view = SamplesView(window)  # opens the library's generation model by itself
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.grid is not None, timeout=10000)
    assert [name for name, w in _controls(view).items() if not w.isEnabled()] == []
    assert view.class_box.isEnabled()


def test_controls_are_disabled_without_a_model(qtbot, view):
    assert [name for name, w in _controls(view).items() if w.isEnabled()] == []


def _slow_generator(monkeypatch, seconds: float, only: str = ""):
    """Opening a model (the ONNX Runtime session) takes ``seconds`` (for paths containing ``only``)."""
    from gantrans_gui import samples_view

    class Slow(Generator):
        def __init__(self, model, **kw):
            if only in str(getattr(model, "path", model)):
                time.sleep(seconds)
            super().__init__(model, **kw)

    monkeypatch.setattr(samples_view, "Generator", Slow)


def test_opening_a_model_does_not_block_the_event_loop(qtbot, view, tmp_path, monkeypatch):
    model = generator_model(tmp_path / "gen.onnx")
    _slow_generator(monkeypatch, 0.6)
    t0 = time.perf_counter()
    view.open_model(model)
    assert time.perf_counter() - t0 < 0.3  # the session is made in a worker
    assert view.is_loading() and "Loading model" in view.status.text()
    assert not view.generate_button.isEnabled()
    qtbot.waitUntil(lambda: view.grid is not None, timeout=10000)
    assert not view.is_loading() and view.generate_button.isEnabled()


def test_the_latest_open_wins_over_a_slower_earlier_one(qtbot, view, tmp_path, monkeypatch):
    slow = generator_model(tmp_path / "slow.onnx", seed=1)
    fast = generator_model(tmp_path / "fast.onnx", seed=2)
    _slow_generator(monkeypatch, 0.5, only="slow")
    view.open_model(slow)
    view.open_model(fast)
    qtbot.waitUntil(lambda: view.grid is not None, timeout=10000)
    qtbot.wait(800)  # the slow load has finished by now, and was dropped
    assert view.generator.model.path.name == "fast.onnx"
    assert view.model_box.currentText() == "fast.onnx"
    assert np.array_equal(view.images, Generator(fast).generate(16, seed=view.seed.value()))
    assert view.generate_button.isEnabled() and not view.window_.errors


def test_a_translation_model_is_refused_with_one_message(qtbot, view, tmp_path):
    from onnx_models import translate_model

    view.open_model(translate_model(tmp_path / "t.onnx"))
    qtbot.waitUntil(lambda: bool(view.window_.errors), timeout=10000)
    qtbot.wait(50)
    assert len(view.window_.errors) == 1
    message = view.window_.errors[0][0]
    assert "does not generate" in message and "Translate view" in message
    assert "gantrans translate" not in message
    assert view.generator is None and not view.is_loading() and not view.generate_button.isEnabled()


def test_a_generation_models_card_has_no_direction_row(tmp_path):
    """Its export head is named (G) like a translator's direction; a card saying 'G: ? → ?' misleads."""
    from dataclasses import replace

    from gantrans.metadata import ModelContract
    from gantrans_gui.model_library import ModelEntry

    contract = ModelContract(task="generate", in_channels=0, out_channels=3, latent_size=8, fixed_size=8,
                             direction="G")
    card = dict(ModelEntry(tmp_path / "g.onnx", contract=contract).card())
    assert card["Task"] == "generate" and "Direction" not in card
    translator = replace(contract, task="translate", in_channels=3, direction="AtoB", source_domain="horse",
                         target_domain="zebra")
    assert dict(ModelEntry(tmp_path / "t.onnx", contract=translator).card())["Direction"] == "AtoB: horse → zebra"


def test_two_exports_of_one_run_are_told_apart_in_the_model_list(qtbot, tmp_path):
    window = StubWindow()
    qtbot.addWidget(window)
    for folder in ("exports", "exports2"):
        window.library.add_model(generator_model(tmp_path / folder / "cg2_G.onnx"))
    view = SamplesView(window)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.model_box.count() == 2, timeout=10000)
    names = [view.model_box.itemText(k) for k in range(2)]
    assert len(set(names)) == 2 and all("cg2_G" in n or "cg2" in n for n in names), names


def test_a_view_closed_while_its_model_loads_is_left_alone(qtbot, tmp_path, monkeypatch):
    """The load's result arrives after the view is gone: dropped, not an error in the event loop."""
    import shiboken6

    from gantrans_gui import workers

    window = StubWindow()
    qtbot.addWidget(window)
    view = SamplesView(window)
    _slow_generator(monkeypatch, 0.4)
    view.open_model(generator_model(tmp_path / "gen.onnx"))
    shiboken6.delete(view)
    qtbot.waitUntil(lambda: workers.running_count() == 0, timeout=10000)
    qtbot.wait(50)  # the queued result is delivered now; pytest-qt fails the test if a slot raised
    assert not window.errors


def test_a_view_closed_while_it_samples_is_left_alone(qtbot, tmp_path, monkeypatch):
    """A grid still being sampled when the view goes (a test's teardown, a closed window) is
    dropped when it arrives: it must not reach the deleted widgets from the event loop."""
    import shiboken6
    from PySide6.QtCore import QThreadPool

    from gantrans_gui import workers

    window = StubWindow()
    qtbot.addWidget(window)
    view = SamplesView(window)
    view.open_model(generator_model(tmp_path / "gen.onnx"))
    qtbot.waitUntil(lambda: view.grid is not None, timeout=10000)
    qtbot.waitUntil(lambda: workers.running_count() == 0, timeout=10000)
    slow_run = Generator.run_latents

    def run_latents(self, *a, **kw):
        time.sleep(0.4)
        return slow_run(self, *a, **kw)

    monkeypatch.setattr(Generator, "run_latents", run_latents)
    view.generate()
    view.interpolate()
    shiboken6.delete(view)
    qtbot.wait(50)  # a worker whose start was deferred by a timer tick is in the pool now
    assert QThreadPool.globalInstance().waitForDone(10000)
    qtbot.wait(50)  # the queued results are delivered now; pytest-qt fails the test if a slot raised
    assert not window.errors
