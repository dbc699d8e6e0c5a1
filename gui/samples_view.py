"""Samples: browse what a generation model (``vanilla`` / ``cgan`` export) produces.

A grid from a seed (the same seed always gives the same grid: latents come from
:func:`gantrans.inference.latents`), "New samples" for a fresh seed, a class picker for
class-conditional models, spherical interpolation between two samples of the grid on a slider,
and saving the grid. Sampling runs in a worker thread through :class:`gantrans.inference.Generator`.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gantrans.inference import Generator, grid_columns, latents, make_grid, slerp
from gantrans_gui import view_support, workers
from gantrans_gui.image_widgets import ScaledImageLabel

INTERP_STEPS = 33
ALL_CLASSES = -1


class ShownGrid(NamedTuple):
    """What a grid of samples was made from: its latents, labels, seed, columns and whether the
    labels cycle through the classes (one column each)."""

    latents: np.ndarray
    labels: np.ndarray | None
    seed: int
    columns: int
    cycling: bool


class SamplesView(QWidget):
    RUN_LABEL = "&Generate"  # what Run > ... (Ctrl+Enter) does here

    def __init__(self, window: Any):
        super().__init__()
        self.window_ = window
        self.generator: Generator | None = None
        self.images: np.ndarray | None = None      # the samples of the grid (N x H x W x C)
        self.shown: ShownGrid | None = None        # what the grid on screen was made from
        self.grid: np.ndarray | None = None        # the grid as shown and saved
        self.frames: np.ndarray | None = None      # interpolation frames
        self._extra_models: list[Path] = []
        self._loading: Path | None = None  # the model being loaded in a worker, if any
        self._load_token = 0               # the latest load wins: older results are dropped
        self.setObjectName("samples_view")

        self.model_box = QComboBox(accessibleName="Generation model")
        self.model_box.setMinimumContentsLength(28)
        self.open_button = QPushButton("&Open model…")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0, accessibleName="Seed")
        self.count = QSpinBox(minimum=1, maximum=256, value=16, accessibleName="Number of samples")
        self.class_box = QComboBox(accessibleName="Class")
        self.class_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # "All classes, in turn"
        self.generate_button = QPushButton("&Generate")
        self.new_button = QPushButton("&New samples")
        self.save_button = QPushButton("&Save grid…")
        self.status = QLabel("Open a generation model (vanilla or cgan export) to see samples.")
        self.status.setWordWrap(True)
        self.grid_label = ScaledImageLabel()
        self.grid_label.setToolTip("Left click: interpolation start; right click: interpolation end")

        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        top.addWidget(self.model_box, 1)
        top.addWidget(self.open_button)
        controls = QHBoxLayout()
        for label, w in (("Seed", self.seed), ("Samples", self.count), ("Class", self.class_box)):
            controls.addWidget(QLabel(label))
            controls.addWidget(w)
        controls.addStretch(1)
        for b in (self.generate_button, self.new_button, self.save_button):
            controls.addWidget(b)

        self.from_box = QSpinBox(minimum=1, maximum=256, value=1, accessibleName="Interpolate from sample")
        self.to_box = QSpinBox(minimum=1, maximum=256, value=2, accessibleName="Interpolate to sample")
        self.interp_button = QPushButton("&Interpolate")
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=INTERP_STEPS - 1,
                              accessibleName="Interpolation position")
        self.slider.setEnabled(False)
        self.interp_label = ScaledImageLabel()
        self.interp_label.setMinimumSize(160, 160)
        interp = QGroupBox("Latent interpolation")
        form = QFormLayout(interp)
        pair = QHBoxLayout()
        pair.addWidget(self.from_box)
        pair.addWidget(QLabel("→"))
        pair.addWidget(self.to_box)
        pair.addWidget(self.interp_button)
        form.addRow("Samples", pair)
        form.addRow("Position", self.slider)
        form.addRow(self.interp_label)

        body = QHBoxLayout()
        body.addWidget(self.grid_label, 3)
        body.addWidget(interp, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(controls)
        lay.addLayout(body, 1)
        lay.addWidget(self.status)

        self.open_button.clicked.connect(self._open_dialog)
        self.model_box.currentIndexChanged.connect(self._model_chosen)
        self.generate_button.clicked.connect(self.generate)
        self.new_button.clicked.connect(self.new_samples)
        self.save_button.clicked.connect(self._save_dialog)
        self.interp_button.clicked.connect(self.interpolate)
        self.slider.valueChanged.connect(self._show_frame)
        self.grid_label.clicked.connect(self._grid_clicked)
        view_support.on_library_changed(window, self, self.refresh_models)
        self._update_enabled()
        self.refresh_models()  # may start loading the first generation model of the library

    # -- models ------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        current = self.model_box.currentData()
        paths: list[Path] = []
        known = [*view_support.library_models(self.window_), *((p, None) for p in self._extra_models)]
        for p, task in known:
            if p not in paths and (task.startswith("generate") if task else _is_generation_model(p)):
                paths.append(p)
        labels = view_support.model_labels(self.window_, paths)  # two exports of one run stay apart
        self.model_box.blockSignals(True)
        self.model_box.clear()
        for p in paths:
            self.model_box.addItem(labels.get(p, p.name), str(p))
            self.model_box.setItemData(self.model_box.count() - 1, str(p), Qt.ItemDataRole.ToolTipRole)
        self.model_box.blockSignals(False)
        if current is not None and self.model_box.findData(current) >= 0:
            self.model_box.setCurrentIndex(self.model_box.findData(current))
        elif paths and self.generator is None and self._loading is None:
            self.model_box.setCurrentIndex(0)
            self._model_chosen()

    def open_model(self, path: str | Path) -> bool:
        """Start loading a generation model in a worker; its first grid follows once it is loaded.

        Returns True once loading has started: an unusable file is reported (error dialog and
        status line) when the worker fails. A later call wins over a load still in progress.
        """
        path = Path(path)
        self._load_token += 1
        token = self._load_token
        self._loading = path
        self._update_enabled()
        self.status.setText(f"Loading model {path.name}…")
        workers.run_in_thread(load_generator, path,
                              on_result=lambda gen: self._model_loaded(token, path, gen),
                              on_error=lambda exc: self._model_failed(token, path, exc), owner=self)
        return True

    def is_loading(self) -> bool:
        return self._loading is not None

    def _model_loaded(self, token: int, path: Path, gen: Generator) -> None:
        if token != self._load_token:  # a later open_model superseded this one
            return
        self._loading = None
        if path not in self._extra_models:
            self._extra_models.append(path)
        self.generator = gen
        self.refresh_models()
        idx = self.model_box.findData(str(path))
        if idx >= 0:
            self.model_box.blockSignals(True)
            self.model_box.setCurrentIndex(idx)
            self.model_box.blockSignals(False)
        self._fill_classes()
        self._update_enabled()
        self.generate()

    def _model_failed(self, token: int, path: Path, exc: BaseException) -> None:
        if token != self._load_token:
            return
        self._loading = None
        self._update_enabled()
        current = self.generator.model.path.name if self.generator is not None else None
        self.status.setText(f"Could not open {path.name}" + (f"; still showing {current}" if current else ""))
        view_support.show_error(self.window_, workers.one_line(exc), workers.details(exc))

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open generation model", "", "ONNX models (*.onnx)")
        if path:
            self.open_model(path)

    def _model_chosen(self) -> None:
        data = self.model_box.currentData()
        if not data or (self._loading is not None and Path(data) == self._loading):
            return
        if self.generator is None or Path(data) != self.generator.model.path or self._loading is not None:
            self.open_model(data)

    def _fill_classes(self) -> None:
        self.class_box.clear()
        gen = self.generator
        if gen is None or not gen.conditional:
            self.class_box.addItem("(unconditional)", None)
            self.class_box.setEnabled(False)
            return
        self.class_box.setEnabled(True)
        self.class_box.addItem("All classes, in turn", ALL_CLASSES)
        names = gen.class_names or [str(k) for k in range(10)]
        for k, name in enumerate(names):
            self.class_box.addItem(name, k)

    def _update_enabled(self) -> None:
        """The sampling controls work while a model is loaded and none is being loaded."""
        on = self.generator is not None and self._loading is None
        for w in (self.generate_button, self.new_button, self.save_button, self.interp_button, self.seed,
                  self.count):
            w.setEnabled(on)

    # -- sampling ----------------------------------------------------------------------------
    def _labels(self, n: int) -> np.ndarray | None:
        gen = self.generator
        if gen is None or not gen.conditional:
            return None
        k = self.class_box.currentData()
        if k is None or k == ALL_CLASSES:
            return gen.default_labels(n)
        return np.full(n, int(k), dtype=np.int64)

    def new_samples(self) -> None:
        self.seed.setValue(random.SystemRandom().randrange(0, 2**31 - 1))
        self.generate()

    def run(self) -> None:
        """Ctrl+Enter: what the Generate button does, when it can."""
        if self.generate_button.isEnabled():
            self.generate()

    def generate(self) -> None:
        """Sample the grid of the current seed in a worker thread."""
        gen = self.generator
        if gen is None:
            return
        n, seed = self.count.value(), self.seed.value()
        z = latents(n, gen.contract.latent_size, seed)
        labels = self._labels(n)
        self.status.setText(f"Sampling {n} images with seed {seed}…")
        cycling = bool(gen.conditional and self.class_box.currentData() in (None, ALL_CLASSES) and gen.class_names)
        columns = grid_columns(n, len(gen.class_names) if cycling else 0)  # classes in turn: each column one
        made = ShownGrid(z, labels, seed, columns, cycling)
        self._run(lambda: gen.run_latents(z, labels), lambda images: self._grid_ready(images, made))

    def _grid_ready(self, images: np.ndarray, made: ShownGrid) -> None:
        # What the shown grid was made from: interpolation walks between *these* samples, whatever
        # the seed, count or class boxes say now.
        self.images, self.shown = images, made
        self.grid = make_grid(images, nrow=made.columns)
        self.grid_label.set_image(self.grid)
        self.from_box.setMaximum(len(images))
        self.to_box.setMaximum(len(images))
        if self.from_box.value() == self.to_box.value() and len(images) > 1:  # both ends clamped onto one
            self.from_box.setValue(1)
            self.to_box.setValue(len(images))
        h, w = images.shape[1:3]
        text = f"{len(images)} samples, {w}×{h} px, seed {made.seed} — {self.generator.model.path.name}"
        if made.cycling:
            text += " — each column one class, in turn: " + ", ".join(self.generator.class_names)
        if self._loading is None:  # else "Loading model…" stays until the new model's grid
            self.status.setText(text)

    def interpolate(self) -> None:
        """Frames along the great circle between two samples of the grid."""
        gen = self.generator
        if gen is None or self.shown is None:
            return
        z, labels = self.shown.latents, self.shown.labels
        n = len(z)
        a, b = self.from_box.value() - 1, self.to_box.value() - 1
        path = slerp(z[min(a, n - 1)], z[min(b, n - 1)], INTERP_STEPS)
        lab = None
        if labels is not None:  # the start sample's class all along the path
            lab = np.full(INTERP_STEPS, int(labels[min(a, n - 1)]), dtype=np.int64)
            start, end = int(labels[min(a, n - 1)]), int(labels[min(b, n - 1)])
            if start != end and gen.class_names:  # the walk cannot end on a sample of another class: said
                self.status.setText(f"Interpolating in class '{gen.class_names[start]}' (sample {a + 1}'s) all "
                                    f"along: the end has sample {b + 1}'s latent, drawn as a "
                                    f"'{gen.class_names[start]}', not as its '{gen.class_names[end]}'")
        self._run(lambda: gen.run_latents(path, lab), self._frames_ready)

    def _frames_ready(self, frames: np.ndarray) -> None:
        self.frames = frames
        self.slider.setEnabled(True)
        self._show_frame(self.slider.value())

    def _show_frame(self, k: int) -> None:
        if self.frames is not None:
            self.interp_label.set_image(self.frames[max(0, min(k, len(self.frames) - 1))])

    def _grid_clicked(self, x: int, y: int, button) -> None:
        if self.images is None or self.shown is None:
            return
        h, w = self.images.shape[1:3]
        col, row = (x - 1) // (w + 2), (y - 1) // (h + 2)  # make_grid's 2 px padding
        k = row * self.shown.columns + col + 1
        if not 1 <= k <= len(self.images):
            return
        (self.to_box if button == Qt.MouseButton.RightButton else self.from_box).setValue(k)
        self.interpolate()

    def _run(self, fn, done) -> None:
        workers.run_in_thread(fn, on_result=done, on_error=self._failed, owner=self)

    def _failed(self, exc: BaseException) -> None:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.status.setText(f"Sampling failed: {msg}")
        view_support.show_error(self.window_, msg)

    # -- saving ------------------------------------------------------------------------------
    def save_grid(self, path: str | Path) -> Path:
        from PIL import Image

        if self.grid is None:
            raise ValueError("no grid to save yet")
        path = Path(path)
        img = self.grid[:, :, 0] if self.grid.shape[2] == 1 else self.grid
        Image.fromarray(img).save(path)
        self.status.setText(f"Saved {path}")
        return path

    def _save_dialog(self) -> None:
        if self.grid is None:
            return
        name = f"samples_seed{self.seed.value()}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Save grid", name, "PNG (*.png);;JPEG (*.jpg);;WebP (*.webp)")
        if path:  # the native dialog has already asked before overwriting
            try:
                self.save_grid(path)
            except (OSError, ValueError) as exc:
                view_support.show_error(self.window_, f"{path}: could not save the grid ({exc})")


def load_generator(path: Path) -> Generator:
    """Open a generation model (in a worker: creating the ONNX Runtime session takes a while).

    A translation model is refused with a line that points to the GUI's Translate view.
    """
    from gantrans.errors import ModelError
    from gantrans.inference import load_model

    model = load_model(path)
    if model.contract.task == "translate":
        raise ModelError(f"{path}: a translation model does not generate images; open it in the Translate view")
    return Generator(model)


_TASKS: dict[tuple[Path, float], bool] = {}


def _is_generation_model(path: Path) -> bool:
    """True for a gantrans export whose task is generate/generate-conditional (cached per file)."""
    try:
        key = (path, path.stat().st_mtime)
    except OSError:
        return False
    if key not in _TASKS:
        from gantrans.metadata import ModelContract, read_metadata_props

        try:  # the file's metadata only, without onnx (a large import that would stall the window)
            c = ModelContract.from_metadata_props(read_metadata_props(path), source=str(path))
            _TASKS[key] = c is not None and c.task.startswith("generate")
        except Exception:  # noqa: BLE001 - an unreadable file is simply not offered
            _TASKS[key] = False
    return _TASKS[key]
