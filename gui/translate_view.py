"""The Translate view: one image through one model, shown before/after.

Open, drop or paste an image; pick the model and its direction; the result appears in a split
view with a draggable divider, side by side, or as a toggle, all sharing one zoom and pan.
Results are cached per (model file, image, tiling), so flipping between models is instant the
second time. The translation runs in a worker and is cancelled when a newer one supersedes it.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel

from gantrans_gui import workers
from gantrans_gui.icons import set_icon
from gantrans_gui.image_canvas import ImageCanvas, ViewState
from gantrans_gui.imaging import load_for_display, loaded_from_qimage, to_display, translate_for_display
from gantrans_gui.inference_jobs import TranslateOutcome, TranslateRequest, tile_option
from gantrans_gui.main_window import MainWindow, make_button
from gantrans_gui.model_picker import ModelPicker
from gantrans_gui.settings import PROVIDER_AUTO, TILING_CHOICES

CACHE_SIZE = 24
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif);;All files (*)"
SAVE_FILTERS = {"PNG image (*.png)": ".png", "JPEG image (*.jpg *.jpeg)": ".jpg", "WebP image (*.webp)": ".webp"}
COMPACT_MARGIN = 8  # px above the full labels' minimum width where the tool rows turn to icons only
PLACEHOLDER = "Drop an image here, open one (Ctrl+O) or paste one (Ctrl+V)"
MODES = ("split", "side", "toggle")


def tool_button(text: str, icon_name: str, tip: str, checkable: bool = False) -> QToolButton:
    b = QToolButton()
    set_icon(b, icon_name)
    b.setText(text)
    b.setToolTip(tip)
    b.setAccessibleName(text)
    b.setCheckable(checkable)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    b.setAutoRaise(True)
    return b


def provider_combo(window: MainWindow) -> QComboBox:
    """A combo bound to the provider setting (filled from ONNX Runtime in a worker)."""
    combo = QComboBox()
    combo.setAccessibleName("Execution provider")
    combo.setToolTip("Where the model runs (Settings has the details)")
    combo.addItem("Auto", PROVIDER_AUTO)
    settings = window.settings

    def fill(names: list[str]) -> None:
        combo.blockSignals(True)
        for n in names:
            combo.addItem(n.replace("ExecutionProvider", ""), n)
        combo.setCurrentIndex(max(0, combo.findData(settings.provider)))
        combo.blockSignals(False)

    def changed(index: int) -> None:
        value = combo.itemData(index)
        if value and value != settings.provider:
            settings.provider = value

    def follow(key: str) -> None:
        if key == "inference/provider":
            idx = combo.findData(settings.provider)
            if idx >= 0 and idx != combo.currentIndex():
                combo.setCurrentIndex(idx)

    combo.currentIndexChanged.connect(changed)
    settings.changed.connect(follow)

    def available() -> list[str]:
        from gantrans.inference import available_providers

        return available_providers()

    workers.run_in_thread(available, on_result=fill, owner=combo)
    return combo


NO_CLIPBOARD_IMAGE = "The clipboard holds no image (copy an image or an image file first)"


def paste_into(view, window: MainWindow) -> None:
    """Ctrl+V in a view that shows one image (Translate, Compare): files go through the window
    (which hands images to the view on screen), pixels to ``view.open_qimage``."""
    md = QGuiApplication.clipboard().mimeData()
    if md is not None and md.hasUrls():
        files = [u.toLocalFile() for u in md.urls() if u.isLocalFile()]
        if files:
            window.open_paths(files)
            return
    if md is not None and md.hasImage():
        view.open_qimage(QImage(md.imageData()), "pasted image")
        return
    text = QGuiApplication.clipboard().text().strip().strip('"')
    if text and os.path.isfile(text):
        window.open_paths([text])
        return
    window.show_error(NO_CLIPBOARD_IMAGE)


def tiling_combo(default: str) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName("Tiling")
    combo.setToolTip("Split large images into overlapping tiles (automatic: when the model allows it and "
                     "the image is large or would not fit in memory)")
    for key in TILING_CHOICES:
        combo.addItem({"auto": "Auto", "off": "Off"}.get(key, f"{key} px"), key)
    combo.setCurrentIndex(TILING_CHOICES.index(default))
    return combo


class TranslateView(QWidget):
    result_shown = Signal()  # after a result is on the canvases

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window_ = window
        self.settings = window.settings
        self.library = window.library
        self.source: object | None = None  # a path (str) or a LoadedImage
        self.source_name = ""
        self.image_key = ""
        self.before: QImage | None = None
        self.after: QImage | None = None
        self.outcome: TranslateOutcome | None = None
        self.cache: OrderedDict[tuple, tuple[TranslateOutcome, QImage]] = OrderedDict()
        self._cancel = None
        self._request_id = 0
        self._running = False
        self._running_key: tuple | None = None

        # -- controls ----------------------------------------------------------------------------
        self.open_button = make_button("Open…", "mdi6.folder-open-outline", "Open an image (Ctrl+O)", "Open image")
        self.open_button.clicked.connect(self.open_image_dialog)
        self.paste_button = make_button("Paste", "mdi6.content-paste", "Paste an image or a file path (Ctrl+V)",
                                        "Paste image")
        self.paste_button.clicked.connect(self.paste)
        self.picker = ModelPicker(self.library, settings_key="translate/model")
        self.picker.entry_changed.connect(self._model_chosen)
        self.picker.entry_lost.connect(self._model_lost)
        if self.picker.current_entry() is not None:  # restored before the connection: say it at once
            self.window_.set_status(model=self.picker.current_entry().display_name)
        # a re-exported model (same file, new contents) is translated again
        self.library.changed.connect(lambda: self._request() if self.outcome is not None or self._running else None)
        self.tiling = tiling_combo(self.settings.tiling)
        self.tiling.currentIndexChanged.connect(lambda _i: self._request())
        self.provider = provider_combo(window)
        self.settings.changed.connect(self._setting_changed)
        self.translate_button = make_button("Translate", "mdi6.play", "Translate again (Ctrl+Enter)")
        self.translate_button.clicked.connect(self.run)
        self.save_button = make_button("Save…", "mdi6.content-save-outline", "Save the result as PNG, JPEG or WebP "
                                       "(Ctrl+S)", "Save result")
        self.save_button.clicked.connect(self.save_result)

        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.paste_button)
        top.addSpacing(12)
        top.addWidget(self.picker, 3)
        top.addSpacing(12)
        top.addWidget(QLabel("Tiling:"))
        top.addWidget(self.tiling)
        top.addWidget(QLabel("Provider:"))
        top.addWidget(self.provider)
        top.addSpacing(12)
        top.addWidget(self.translate_button)
        top.addWidget(self.save_button)

        self.mode_buttons = QButtonGroup(self)
        second = QHBoxLayout()
        for key, text, icon_name, tip in (
                ("split", "Split", "mdi6.compare-horizontal", "Before and after with a draggable divider"),
                ("side", "Side by side", "mdi6.view-split-vertical", "Before and after next to each other"),
                ("toggle", "Toggle", "mdi6.swap-horizontal", "One image; flip between before and after (T)")):
            b = tool_button(text, icon_name, tip, checkable=True)
            b.setProperty("mode", key)
            self.mode_buttons.addButton(b)
            second.addWidget(b)
        self.mode_buttons.buttonClicked.connect(lambda b: self.set_mode(b.property("mode")))
        self.show_original = tool_button("Show original", "mdi6.eye-outline", "Show the input instead of the "
                                         "result (T)", checkable=True)
        self.show_original.toggled.connect(self._toggle_changed)
        second.addWidget(self.show_original)
        second.addStretch(1)
        self._zoom_buttons: list[QToolButton] = []
        self._compact = False  # tool rows as icons only (a narrow window)
        self._full_width = 0  # the width the full labels need, measured while they show
        self.zoom_label = QLabel("Fit")
        self.zoom_label.setAccessibleName("Zoom level")
        self.zoom_label.setMinimumWidth(48)
        for text, icon_name, kind, tip in (("Fit", "mdi6.fit-to-screen-outline", "fit", "Fit to window (Ctrl+0)"),
                                           ("100 %", "mdi6.magnify", "100", "Actual pixels (Ctrl+1)"),
                                           ("Zoom out", "mdi6.magnify-minus-outline", "out", "Zoom out (Ctrl+-)"),
                                           ("Zoom in", "mdi6.magnify-plus-outline", "in", "Zoom in (Ctrl++)")):
            b = tool_button(text, icon_name, tip)
            if kind in ("in", "out"):
                b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            else:
                self._zoom_buttons.append(b)
            b.clicked.connect(lambda _=False, k=kind: self.zoom(k))
            second.addWidget(b)
        second.addWidget(self.zoom_label)

        # -- canvases ----------------------------------------------------------------------------
        self.state = ViewState(self)
        self.state.changed.connect(self._update_zoom_label)
        self.split_canvas = ImageCanvas(self.state)
        self.split_canvas.set_mode("split")
        self.split_canvas.setAccessibleName("Before and after, split")
        self.before_canvas = ImageCanvas(self.state)
        self.before_canvas.setAccessibleName("Before")
        self.before_canvas.caption = "Before"
        self.after_canvas = ImageCanvas(self.state)
        self.after_canvas.setAccessibleName("After")
        self.after_canvas.caption = "After"
        self.toggle_canvas = ImageCanvas(self.state)
        self.toggle_canvas.setAccessibleName("Before or after")
        side = QSplitter(Qt.Orientation.Horizontal)
        side.addWidget(self.before_canvas)
        side.addWidget(self.after_canvas)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.split_canvas)
        self.pages.addWidget(side)
        self.pages.addWidget(self.toggle_canvas)
        for c in self.canvases():
            c.placeholder = PLACEHOLDER

        self.info = QElidingLabel("")
        self._info_before_open = ""
        self.info.setAccessibleName("Result information")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Translation progress")
        self.progress.setMaximumWidth(200)
        self.progress.setVisible(False)
        self.cancel_button = make_button("Cancel", "mdi6.close", "Stop this translation (Esc)")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setVisible(False)
        bottom = QHBoxLayout()
        bottom.addWidget(self.info, 1)
        bottom.addWidget(self.progress)
        bottom.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(second)
        layout.addWidget(self.pages, 1)
        layout.addLayout(bottom)

        self.relay = workers.ProgressRelay(self)
        self.relay.progress.connect(self._tile_progress)
        QShortcut(QKeySequence("T"), self, self.show_original.toggle,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.set_mode(self.settings.value("translate/mode", "split"))
        self._update_buttons()
        self.set_compact(True)  # the narrowest this view can be: measured once, with the short rows
        self._compact_width = super().minimumSizeHint().width()
        self.set_compact(False)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """As narrow as the icons-only rows allow: a narrower window turns them on (resizeEvent).

        With the full labels' width here, the window could not be made narrower than them, and
        not at all while this view sat hidden in the window's stack (a hidden page is not
        resized, so it never turned compact, yet its minimum held the whole window wide).
        """
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self._compact_width), hint.height())

    # -- helpers --------------------------------------------------------------------------------
    def canvases(self) -> list[ImageCanvas]:
        return [self.split_canvas, self.before_canvas, self.after_canvas, self.toggle_canvas]

    def current_canvas(self) -> ImageCanvas:
        return {"split": self.split_canvas, "side": self.after_canvas, "toggle": self.toggle_canvas}[self.mode]

    def set_mode(self, mode: str) -> None:
        self.mode = mode if mode in MODES else "split"
        self.pages.setCurrentIndex(MODES.index(self.mode))
        for b in self.mode_buttons.buttons():
            b.setChecked(b.property("mode") == self.mode)
        self.show_original.setVisible(self.mode == "toggle")
        self.settings.set_value("translate/mode", self.mode)

    def _toggle_changed(self, checked: bool) -> None:
        self.toggle_canvas.show_before = checked
        self.toggle_canvas.update()

    def zoom(self, kind: str) -> None:
        self.current_canvas().zoom(kind)

    def _update_zoom_label(self) -> None:
        dpr = self.current_canvas().devicePixelRatioF()
        self.zoom_label.setText("Fit" if self.state.scale is None else f"{self.state.scale * dpr * 100:.0f} %")

    def _refresh_canvases(self) -> None:
        self.split_canvas.set_images(self.before, self.after)
        self.before_canvas.set_images(self.before, None)
        self.after_canvas.set_images(self.after, None)
        self.toggle_canvas.set_images(self.before, self.after)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.save_button.setEnabled(self.outcome is not None)
        self.translate_button.setEnabled(self.source is not None and self.picker.current_entry() is not None)

    def _setting_changed(self, key: str) -> None:
        if key in ("inference/provider", "inference/threads"):
            self._request()

    # -- images in -----------------------------------------------------------------------------
    def open_image_dialog(self) -> None:
        start = self.settings.last_dir("image") or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open image", start, IMAGE_FILTER)
        if path:
            self.open_image(path)

    def open_image(self, path: str) -> None:
        """Load ``path`` in a worker, then show and translate it."""
        path = os.path.abspath(path)
        self.settings.set_last_dir("image", str(Path(path).parent))
        self._info_before_open = self.info.text()  # put back if the file cannot be opened
        self.info.setText(f"Opening {Path(path).name}…")

        def loaded(result) -> None:
            image, display = result
            try:
                st = os.stat(path)
                key = f"{path}|{st.st_mtime_ns}|{st.st_size}"
            except OSError:
                key = path
            self.settings.add_recent_file(path)
            self._set_source(path, image, key, Path(path).name, display)

        workers.run_in_thread(load_for_display, path, on_result=loaded,
                              on_error=lambda exc: self._failed_open(exc), owner=self)

    def _failed_open(self, exc: BaseException) -> None:
        self.info.setText(self._info_before_open)  # the image on screen is still the one it describes
        self.window_.show_error(workers.one_line(exc), workers.details(exc))

    def open_qimage(self, image: QImage, name: str = "pasted image") -> None:
        """Pixels without a file (clipboard, dragged image data)."""
        if image is None or image.isNull():
            self.window_.show_error(NO_CLIPBOARD_IMAGE)
            return
        loaded, key = loaded_from_qimage(image)
        self._set_source(loaded, loaded, key, name)

    def paste(self) -> None:
        paste_into(self, self.window_)

    def _set_source(self, source, loaded, key: str, name: str, display: QImage | None = None) -> None:
        self.source, self.image_key, self.source_name = source, key, name
        self.before = display if display is not None else to_display(loaded.pixels, loaded.alpha)
        self.after, self.outcome = None, None
        self.state.fit()
        self._refresh_canvases()
        self.info.setText(f"{name} — {self.before.width()}×{self.before.height()}")
        self._request()

    # -- models --------------------------------------------------------------------------------
    def select_model(self, path: str | Path) -> bool:
        return self.picker.select_path(path)

    # -- translation ---------------------------------------------------------------------------
    def current_request(self) -> TranslateRequest | None:
        entry = self.picker.current_entry()
        if entry is None or self.source is None:
            return None
        return TranslateRequest(entry.path, self.source, self.image_key, tile_option(self.tiling.currentData()),
                                tuple(self.settings.providers() or ()) or None, self.settings.threads or None)

    def run(self) -> None:
        self._request(force=True)

    def _request(self, force: bool = False) -> None:
        self._update_buttons()
        request = self.current_request()
        if request is None:
            if self.source is not None and self.picker.current_entry() is None:
                self.info.setText("Choose a model (Models view: add a folder or open an .onnx file)")
            return
        key = request.cache_key()
        if self._running and key == self._running_key and not force:
            return  # already on its way
        hit = self.cache.get(key)
        if hit is not None and not force:
            self.cache.move_to_end(key)
            self._cancel_running()
            self._show(hit[0], hit[1], cached=True)
            return
        self._cancel_running()
        from gantrans.inference import CancelToken

        self._cancel = token = CancelToken()
        self._request_id += 1
        rid = self._request_id
        self._running = True
        self._running_key = key
        self.after, self.outcome = None, None
        self._refresh_canvases()
        self.info.setText(f"Translating {self.source_name} with {self.picker.current_entry().display_name}…")
        self.progress.setRange(0, 0)
        self._show_busy(True)
        self.window_.set_busy(True)
        workers.run_in_thread(translate_for_display, request, token, self.relay,
                              on_result=lambda o: self._done(rid, o), on_error=lambda e: self._failed(rid, e),
                              owner=self)

    # -- a narrow window ----------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        if not self._compact:  # model names vary, so measured again while the labels show
            self._full_width = super().minimumSizeHint().width()
        # at (or near) that width the window could not be made narrower: drop the words
        self.set_compact(self.width() <= self._full_width + COMPACT_MARGIN)

    def set_compact(self, compact: bool) -> None:
        """Icons without their words (the tooltips and accessible names keep them), so the window
        can be made narrow; the full labels come back when there is room."""
        if compact == self._compact:
            return
        self._compact = compact
        for b in (self.open_button, self.paste_button, self.translate_button, self.save_button):
            if compact:
                b.setProperty("full_text", b.text())
            b.setText("" if compact else b.property("full_text") or b.text())
        style = Qt.ToolButtonStyle.ToolButtonIconOnly if compact else Qt.ToolButtonStyle.ToolButtonTextBesideIcon
        for b in [*self.mode_buttons.buttons(), self.show_original, *self._zoom_buttons]:
            b.setToolButtonStyle(style)
        for label in self.picker.labels:  # a model name and "A2B: horse → zebra" say what they are
            label.setVisible(not compact)

    def _model_lost(self, path: Path) -> None:
        """The model in use was deleted or moved: say so, since another one takes its place."""
        now = self.picker.current_entry()
        self.window_.statusBar().showMessage(
            f"{Path(path).name} is no longer in the library (deleted or moved)"
            + (f"; now using {now.display_name}" if now is not None else ""), 10000)

    def _show_busy(self, on: bool) -> None:
        """The progress bar and its Cancel button, while a translation runs (a tiled one takes a while)."""
        self.progress.setVisible(on)
        self.cancel_button.setVisible(on)

    def _cancel_running(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
            self._cancel = None
        self._running = False
        self._show_busy(False)
        self.window_.set_busy(False)

    def cancel(self) -> None:
        if self._running:
            self._cancel_running()
            self.info.setText("Cancelled")

    def is_busy(self) -> bool:
        return self._running

    def _tile_progress(self, report) -> None:
        done, total = report if isinstance(report, tuple) else (0, 0)
        if total > 1:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _done(self, rid: int, outcome: TranslateOutcome) -> None:
        image = outcome.display if outcome.display is not None else to_display(outcome.result.pixels,
                                                                                outcome.result.alpha)
        self.cache[outcome.request.cache_key()] = (outcome, image)
        while len(self.cache) > CACHE_SIZE:
            self.cache.popitem(last=False)
        if rid != self._request_id:
            return
        self._running = False
        self._cancel = None
        self._show_busy(False)
        self.window_.set_busy(False)
        self._show(outcome, image, cached=False)

    def _failed(self, rid: int, exc: BaseException) -> None:
        from gantrans.errors import Cancelled

        if rid != self._request_id:
            return
        self._running = False
        self._cancel = None
        self._show_busy(False)
        self.window_.set_busy(False)
        if isinstance(exc, Cancelled):
            return
        line = workers.one_line(exc)
        where = self.source if isinstance(self.source, str) else self.source_name  # a file's path, or "pasted image"
        if where and Path(where).name not in line:  # which image (the size check names none)
            line = f"{where}: {line}"
        self.info.setText(f"Failed: {line}")
        self.window_.set_status(failed=True)
        self.window_.show_error(line, workers.details(exc))

    def _model_chosen(self, entry) -> None:
        # the status bar names the chosen model at once, not only after its first translation
        self.window_.set_status(model=entry.display_name if entry is not None else "No model")
        self._request()

    def _show(self, outcome: TranslateOutcome, image: QImage, cached: bool) -> None:
        self.outcome, self.after = outcome, image
        self._refresh_canvases()
        entry = self.library.entry(outcome.request.model)
        name = entry.display_name if entry else outcome.request.model.name
        provider = outcome.providers[0] if outcome.providers else "?"
        w, h = outcome.input_size
        tiles = f" · {outcome.tiles} tiles" if outcome.tiles > 1 else ""
        self.info.setText(f"{self.source_name} — {w}×{h} · {name} · {outcome.seconds * 1000:.0f} ms on "
                          f"{provider.replace('ExecutionProvider', '')}{tiles}" + (" · cached" if cached else ""))
        self.window_.set_status(model=name, provider=provider, seconds=outcome.seconds)
        self.window_.providers_in_use = list(outcome.providers)
        for note in outcome.notes:
            self.window_.statusBar().showMessage(note, 10000)
        self.result_shown.emit()

    # -- saving --------------------------------------------------------------------------------
    def suggested_name(self) -> str:
        stem = Path(self.source_name).stem if self.source_name else "translated"
        entry = self.library.entry(self.outcome.request.model) if self.outcome else None
        tag = entry.direction if entry and entry.direction else "translated"
        return f"{stem}_{tag}.png"

    def ask_save_path(self) -> str:
        """The save dialog (a method so tests can answer it)."""
        folder = self.settings.last_dir("save") or (str(Path(self.source).parent) if isinstance(self.source, str)
                                                    else str(Path.home()))
        path, chosen = QFileDialog.getSaveFileName(
            self, "Save result", str(Path(folder) / self.suggested_name()), ";;".join(SAVE_FILTERS),
            options=QFileDialog.Option.DontConfirmOverwrite)
        if path and Path(path).suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
            path += SAVE_FILTERS.get(chosen, ".png")
        return path

    def confirm_overwrite(self, path: str) -> bool:
        answer = QMessageBox.question(self, "Replace file?", f"{path} already exists. Replace it?",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def save_result(self) -> None:
        if self.outcome is None:
            self.window_.statusBar().showMessage("Nothing to save yet: translate an image first", 5000)
            return
        path = self.ask_save_path()
        if not path:
            return
        overwrite = False
        if os.path.lexists(path):
            if not self.confirm_overwrite(path):
                return
            overwrite = True
        self.settings.set_last_dir("save", str(Path(path).parent))
        result = self.outcome.result

        def write() -> str:
            from gantrans.images import save_image

            save_image(result.pixels, path, alpha=result.alpha, quality=95, overwrite=overwrite)
            return path

        workers.run_in_thread(write, on_result=lambda p: self.window_.statusBar().showMessage(f"Saved {p}", 8000),
                              owner=self)

    def shutdown(self) -> None:
        self._cancel_running()
