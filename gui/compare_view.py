"""The Compare view: one image through 2–4 models, in a grid that zooms and pans as one.

Two epochs of a run, fp32 against int8, A→B of two runs: each cell shows the model's name and
how long its run took. Models run one after the other in a worker (they would only compete
for the same cores), and each cell fills in as soon as its model is done.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel

from gantrans_gui import view_support, workers
from gantrans_gui.icons import set_icon
from gantrans_gui.image_canvas import ImageCanvas, ViewState
from gantrans_gui.imaging import load_for_display, loaded_from_qimage, to_display, translate_for_display
from gantrans_gui.inference_jobs import TranslateOutcome, TranslateRequest, tile_option
from gantrans_gui.main_window import MainWindow, make_button
from gantrans_gui.model_library import ModelEntry, unique_labels
from gantrans_gui.translate_view import (
    IMAGE_FILTER,
    NO_CLIPBOARD_IMAGE,
    PLACEHOLDER,
    paste_into,
    tiling_combo,
)

MIN_MODELS, MAX_MODELS = 2, 4
#: The models compared last, so a restart compares them again.
MODELS_KEY = "compare/models"


def compare_all(requests: list[TranslateRequest], cancel, on_result) -> int:
    """Run each request in turn; ``on_result((index, outcome or exception))`` after each."""
    from gantrans.errors import Cancelled

    for k, request in enumerate(requests):
        if cancel is not None and cancel.cancelled:
            raise Cancelled("comparison cancelled")
        try:
            on_result((k, translate_for_display(request, cancel)))
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - one model's failure is shown in its cell
            on_result((k, exc))
    return len(requests)


def _worth_comparing(entries: list[ModelEntry]) -> list[Path]:
    """The fp32 and int8 models of one head, else the first two models."""
    for e in entries:
        twin = next((o for o in entries if o.int8 != e.int8 and o.group_stem == e.group_stem
                     and o.direction == e.direction and o.path.parent == e.path.parent), None)
        if twin is not None and not e.int8:
            return [e.path, twin.path]
    return [e.path for e in entries[:MIN_MODELS]]


class ModelSlot(QWidget):
    """One model of the comparison: a combo over every translation model, and a remove button."""

    def __init__(self, view: CompareView, number: int) -> None:
        super().__init__()
        self.view = view
        self.combo = QComboBox()
        self.combo.setAccessibleName(f"Model {number}")
        self.combo.setMinimumContentsLength(16)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.remove = QToolButton()
        set_icon(self.remove, "mdi6.close")
        self.remove.setToolTip("Remove this model from the comparison")
        self.remove.setAccessibleName(f"Remove model {number}")
        self.remove.clicked.connect(lambda: view.remove_slot(self))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.remove)
        self.combo.currentIndexChanged.connect(lambda _i: view.slots_changed())

    def fill(self, entries: list[ModelEntry], prefer: Path | None) -> None:
        keep = prefer or self.path()
        labels = unique_labels(entries)
        self.combo.blockSignals(True)
        self.combo.clear()
        for e in entries:
            self.combo.addItem(labels[e.path], str(e.path))
            self.combo.setItemData(self.combo.count() - 1, str(e.path), Qt.ItemDataRole.ToolTipRole)
        idx = self.combo.findData(str(keep)) if keep else -1
        self.combo.setCurrentIndex(max(0, idx))
        self.combo.blockSignals(False)

    def path(self) -> Path | None:
        data = self.combo.currentData()
        return Path(data) if data else None


class CompareView(QWidget):
    RUN_LABEL = "&Compare"  # what Run > ... (Ctrl+Enter) does here

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window_ = window
        self.settings = window.settings
        self.library = window.library
        self.source: object | None = None
        self.source_name = ""
        self.image_key = ""
        self.before: QImage | None = None
        self.results: dict[int, tuple[TranslateOutcome, QImage] | BaseException] = {}
        self._cancel = None
        self._run_id = 0
        self._running = False
        self._cancelled = False

        self.open_button = make_button("Open…", "mdi6.folder-open-outline", "Open an image (Ctrl+O)", "Open image")
        self.open_button.clicked.connect(self.open_image_dialog)
        self.take_button = make_button("Use Translate's image", "mdi6.import", "Compare the image open in the "
                                       "Translate view")
        self.take_button.clicked.connect(self.take_translate_image)
        self.add_button = make_button("Add model", "mdi6.plus", "Compare up to four models")
        self.add_button.clicked.connect(lambda: self.add_slot())
        self.tiling = tiling_combo(self.settings.tiling)
        self.show_input = QCheckBox("Show input")
        self.show_input.setAccessibleName("Show input")
        self.show_input.setChecked(True)
        self.show_input.toggled.connect(lambda _c: self._layout_cells())
        self.run_button = make_button("Compare", "mdi6.play", "Run every model on the image (Ctrl+Enter)")
        self.run_button.clicked.connect(self.run)

        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.take_button)
        top.addSpacing(12)
        top.addWidget(QLabel("Tiling:"))
        top.addWidget(self.tiling)
        top.addWidget(self.show_input)
        top.addStretch(1)
        top.addWidget(self.run_button)

        self.slots_row = QHBoxLayout()
        self.slots: list[ModelSlot] = []
        slots_line = QHBoxLayout()
        slots_line.addWidget(QLabel("Models:"))
        slots_line.addLayout(self.slots_row, 1)
        slots_line.addWidget(self.add_button)

        self.state = ViewState(self)
        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        # Parented from the start: a parentless canvas made visible before the grid takes it is a
        # top-level window for a moment, and takes the keyboard focus from the main window.
        self.input_canvas = ImageCanvas(self.state, self)
        self.input_canvas.caption = "Input"
        self.input_canvas.placeholder = PLACEHOLDER
        self.input_canvas.setAccessibleName("Input image")
        self.canvases: list[ImageCanvas] = []
        for k in range(MAX_MODELS):
            c = ImageCanvas(self.state, self)
            c.setAccessibleName(f"Result of model {k + 1}")
            self.canvases.append(c)
        self.info = QElidingLabel("")
        self.info.setAccessibleName("Comparison information")

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(slots_line)
        layout.addLayout(self.grid, 1)
        layout.addWidget(self.info)

        self.relay = workers.ProgressRelay(self)
        self.relay.progress.connect(self._one_result)
        self.library.changed.connect(self._library_changed)
        for _ in range(MIN_MODELS):
            self.add_slot(run=False)
        self._prefill()
        self._layout_cells()

    # -- models --------------------------------------------------------------------------------
    def entries(self) -> list[ModelEntry]:
        return sorted(self.library.valid_entries("translate"), key=lambda e: (e.group_stem, e.direction, e.int8))

    def _prefill(self) -> None:
        """Start with the models compared last time, else something worth comparing: fp32 vs int8
        of one head, else two different models."""
        entries = self.entries()
        known = {str(e.path) for e in entries}
        last = list(dict.fromkeys(p for p in view_support.get_list(MODELS_KEY) if p in known))[:MAX_MODELS]
        picks = [Path(p) for p in last] if len(last) >= MIN_MODELS else _worth_comparing(entries)
        while len(self.slots) < len(picks):
            self.add_slot(run=False)
        for slot, path in zip(self.slots, picks):
            slot.fill(entries, path)
        for slot in self.slots[len(picks):]:
            slot.fill(entries, None)

    def _library_changed(self) -> None:
        entries = self.entries()
        chosen = any(s.path() for s in self.slots)  # asked before filling: an empty slot fills with the first model
        for slot in self.slots:
            slot.fill(entries, None)
        if not chosen:
            self._prefill()
        self._update_slot_buttons()

    def add_slot(self, path: str | Path | None = None, run: bool = True) -> ModelSlot | None:
        if len(self.slots) >= MAX_MODELS:
            return None
        slot = ModelSlot(self, len(self.slots) + 1)
        entries = self.entries()
        used = {s.path() for s in self.slots}
        prefer = Path(path) if path else next((e.path for e in entries if e.path not in used), None)
        slot.fill(entries, prefer)
        self.slots.append(slot)
        self.slots_row.addWidget(slot, 1)
        self._update_slot_buttons()
        self._layout_cells()
        if run:
            self.slots_changed()
        return slot

    def remove_slot(self, slot: ModelSlot) -> None:
        if len(self.slots) <= MIN_MODELS:
            return
        self.slots.remove(slot)
        slot.setParent(None)
        slot.deleteLater()
        self._update_slot_buttons()
        self._layout_cells()
        self.slots_changed()

    def set_models(self, paths: list[str | Path]) -> None:
        """Compare exactly these model files (2–4)."""
        while len(self.slots) < min(len(paths), MAX_MODELS):
            self.add_slot(run=False)
        while len(self.slots) > max(MIN_MODELS, len(paths)):
            self.remove_slot(self.slots[-1])
        entries = self.entries()
        for slot, path in zip(self.slots, paths):
            slot.fill(entries, Path(os.path.abspath(path)))
        self.slots_changed()

    def _update_slot_buttons(self) -> None:
        spare = len(self.entries()) > len({s.path() for s in self.slots})  # else the new slot repeats one
        self.add_button.setEnabled(len(self.slots) < MAX_MODELS and spare)
        self.add_button.setToolTip("Compare up to four models" if spare or len(self.slots) >= MAX_MODELS
                                   else "Every model in the library is already compared")
        for k, slot in enumerate(self.slots):
            slot.remove.setEnabled(len(self.slots) > MIN_MODELS)
            slot.combo.setAccessibleName(f"Model {k + 1}")

    def slots_changed(self) -> None:
        paths = [s.path() for s in self.slots]
        if all(paths):
            view_support.set_list(MODELS_KEY, [str(p) for p in paths])
        self._cancelled = False
        self._update_slot_buttons()
        self.results.clear()
        self._show_results()
        if self.source is not None:
            self.run()

    # -- image ---------------------------------------------------------------------------------
    def open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", self.settings.last_dir("image") or str(Path.home()),
                                              IMAGE_FILTER)
        if path:
            self.open_image(path)

    def open_image(self, path: str) -> None:
        path = os.path.abspath(path)
        self.settings.set_last_dir("image", str(Path(path).parent))

        def loaded(result) -> None:
            image, display = result
            st = os.stat(path)
            self.settings.add_recent_file(path)
            self.set_source(path, image, f"{path}|{st.st_mtime_ns}|{st.st_size}", Path(path).name, display)

        workers.run_in_thread(load_for_display, path, on_result=loaded, owner=self)

    def open_qimage(self, image: QImage, name: str = "pasted image") -> None:
        """Pixels without a file (clipboard, dragged image data)."""
        if image is None or image.isNull():
            self.window_.show_error(NO_CLIPBOARD_IMAGE)
            return
        loaded, key = loaded_from_qimage(image)
        self.set_source(loaded, loaded, key, name)

    def paste(self) -> None:
        paste_into(self, self.window_)

    def take_translate_image(self) -> None:
        tv = self.window_.view("translate")
        if tv.source is None:
            self.window_.statusBar().showMessage("The Translate view has no image open", 5000)
            return
        loaded = tv.source if not isinstance(tv.source, str) else None
        if loaded is None:
            self.open_image(tv.source)
        else:
            self.set_source(loaded, loaded, tv.image_key, tv.source_name)

    def set_source(self, source, loaded, key: str, name: str, display: QImage | None = None) -> None:
        self.source, self.image_key, self.source_name = source, key, name
        self.before = display if display is not None else to_display(loaded.pixels, loaded.alpha)
        self.input_canvas.set_images(self.before)
        self.state.fit()
        self.results.clear()
        self._show_results()
        self.run()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.source is None:
            tv = self.window_.built_views().get("translate")
            if tv is not None and getattr(tv, "source", None) is not None:
                self.take_translate_image()
        super().showEvent(event)

    # -- running -------------------------------------------------------------------------------
    def requests(self) -> list[TranslateRequest]:
        tile = tile_option(self.tiling.currentData())
        providers = tuple(self.settings.providers() or ()) or None
        return [TranslateRequest(p, self.source, self.image_key, tile, providers, self.settings.threads or None)
                for p in (s.path() for s in self.slots) if p is not None]

    def run(self) -> None:
        if self.source is None:
            self.info.setText("Open an image to compare models on it")
            return
        requests = self.requests()
        if len(requests) < MIN_MODELS:
            self.info.setText("Choose at least two models (Models view lists them)")
            return
        self.cancel()
        from gantrans.inference import CancelToken

        self._cancel = token = CancelToken()
        self._run_id += 1
        rid = self._run_id
        self._running, self._cancelled = True, False
        self.results.clear()
        self._show_results()
        self.info.setText(f"Running {len(requests)} models on {self.source_name}…")
        self.window_.set_busy(True, 0, 0)

        def relay(item) -> None:
            self.relay((rid, *item))

        workers.run_in_thread(compare_all, requests, token, relay, on_result=lambda n: self._finished(rid),
                              on_error=lambda e: self._failed(rid, e), owner=self)

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
            self._cancel = None
        if self._running:
            self._run_id += 1  # results still on their way belong to a cancelled run
            self._cancelled = True
            done = sum(1 for r in self.results.values() if not isinstance(r, BaseException))
            self.info.setText(f"Cancelled: {done} of {len(self.slots)} models had finished on {self.source_name}")
            self._running = False
            self._show_results()
        self.window_.set_busy(False)

    def is_busy(self) -> bool:
        return self._running

    def _one_result(self, item) -> None:
        rid, index, outcome = item
        if rid != self._run_id:
            return
        if isinstance(outcome, BaseException):
            self.results[index] = outcome
        else:
            self.results[index] = (outcome, outcome.display if outcome.display is not None
                                   else to_display(outcome.result.pixels, outcome.result.alpha))
            self.window_.set_status(provider=outcome.providers[0] if outcome.providers else None,
                                    seconds=outcome.seconds)
            self.window_.providers_in_use = list(outcome.providers)
        self._show_results()

    def _finished(self, rid: int) -> None:
        if rid != self._run_id:
            return
        self._running = False
        self._cancel = None
        self.window_.set_busy(False)
        done = [r for r in self.results.values() if not isinstance(r, BaseException)]
        failed = len(self.results) - len(done)
        parts = [f"{self._name(r[0])} {r[0].seconds * 1000:.0f} ms" for r in done]
        if failed:
            parts.append(f"{failed} failed" if done else f"all {failed} failed")
        if not done:  # no time of this comparison to show: an earlier one must not stand for it
            self.window_.set_status(failed=True)
        self.info.setText(f"{self.source_name}: {', '.join(parts)}")

    def _failed(self, rid: int, exc: BaseException) -> None:
        from gantrans.errors import Cancelled

        if rid != self._run_id:
            return
        self._running = False
        self.window_.set_busy(False)
        if not isinstance(exc, Cancelled):
            self.window_.show_error(workers.one_line(exc), workers.details(exc))

    def _name(self, outcome: TranslateOutcome) -> str:
        return self._label(outcome.request.model)

    def _label(self, path: Path | None) -> str:
        if path is None:
            return "—"
        return unique_labels(self.entries()).get(Path(path), Path(path).name)

    # -- grid ----------------------------------------------------------------------------------
    def _layout_cells(self) -> None:
        while self.grid.count():
            self.grid.takeAt(0)
        cells = ([self.input_canvas] if self.show_input.isChecked() else []) + self.canvases[:len(self.slots)]
        cols = 2 if len(cells) <= 4 else 3
        for k, c in enumerate(cells):
            self.grid.addWidget(c, k // cols, k % cols)
        for c in [self.input_canvas, *self.canvases]:
            c.setVisible(c in cells)
        self._show_results()

    def _show_results(self) -> None:
        for k, canvas in enumerate(self.canvases):
            slot = self.slots[k] if k < len(self.slots) else None
            entry = self.library.entry(slot.path()) if slot is not None and slot.path() else None
            name = self._label(entry.path) if entry else "—"
            r = self.results.get(k)
            if isinstance(r, tuple):
                outcome, image = r
                canvas.set_images(image)
                canvas.caption = f"{name} — {outcome.seconds * 1000:.0f} ms"
                canvas.placeholder = ""
            else:
                canvas.set_images(None)
                canvas.caption = ""
                canvas.placeholder = (f"{name}\n\nFailed: {workers.one_line(r)}" if isinstance(r, BaseException)
                                      else f"{name}\n\n{self._idle_text()}")
                canvas.placeholder_is_error = isinstance(r, BaseException)
            canvas.setToolTip(str(entry.path) if entry else "")
            canvas.update()

    def _idle_text(self) -> str:
        if self._running:
            return "Running…"
        return "Cancelled" if self._cancelled else "Open an image to compare"

    def zoom(self, kind: str) -> None:
        (self.input_canvas if self.input_canvas.isVisible() else self.canvases[0]).zoom(kind)

    def shutdown(self) -> None:
        self.cancel()
