"""The main window: a list of views on the left, the current view on the right, a status bar.

Views come from :data:`gantrans_gui.view_registry.VIEWS` and are built the first time they are
shown. The window owns what every view shares: the model library (:attr:`MainWindow.library`),
the settings, the one error dialog (:meth:`MainWindow.show_error`), the status bar and the
window-wide shortcuts, which it forwards to the current view when that view has the method.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QFontMetrics, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QStatusBar,
    QWidget,
)
from superqt import QElidingLabel

from gantrans_gui import workers
from gantrans_gui.icons import icon, set_icon
from gantrans_gui.model_library import CHECKPOINT_SUFFIXES, MODEL_SUFFIX, ModelLibrary, checkpoint_advice
from gantrans_gui.settings import Settings
from gantrans_gui.theme import apply_theme
from gantrans_gui.view_registry import DEFAULT_VIEW, VIEWS, ViewSpec

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
WINDOW_SIZE = QSize(1280, 800)
STATUS_MODEL_WIDTH = 260  # px: the status bar keeps room for its message at 1024 px
STARTUP_DELAY_MS = 30  # lets the first frame reach the screen before the first view is built


def default_model_folders() -> list[Path]:
    """``exports/`` in the current folder: where ``gantrans export`` writes by default."""
    return [Path.cwd() / "exports"]


class ElidingStatusBar(QStatusBar):
    """A status bar whose messages end in '…' before the model, provider and time labels
    instead of running under them (the whole text is the tooltip; errors keep it in their dialog)."""

    def __init__(self) -> None:
        super().__init__()
        self._permanent: list[QWidget] = []

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:  # noqa: N802 - Qt API
        self._permanent.append(widget)
        super().addPermanentWidget(widget, stretch)

    def showMessage(self, message: str, timeout: int = 0) -> None:  # noqa: N802 - Qt API
        room = self.width() - sum(w.width() + 8 for w in self._permanent if w.isVisible()) - 24
        shown = QFontMetrics(self.font()).elidedText(message, Qt.TextElideMode.ElideRight, max(room, 80))
        self.setToolTip(message if shown != message else "")
        super().showMessage(shown, timeout)


class MainWindow(QMainWindow):
    """The gantrans desktop application's window (build it with no arguments)."""

    view_changed = Signal(str)
    ready = Signal()  # the first view is built, after the window was first painted

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("gantrans")
        self.setAccessibleName("gantrans main window")
        self.setAcceptDrops(True)
        self.settings = Settings(self)
        self.settings.apply_pixel_limit()
        apply_theme(self.settings.theme)
        self.settings.changed.connect(self._setting_changed)
        workers.set_default_error_handler(self.show_error)
        self.last_error: tuple[str, str] | None = None
        self._dialogs: list[QWidget] = []

        self.library = ModelLibrary(folders=self.settings.library_folders, models=self.settings.library_models,
                                    default_folders=default_model_folders())
        self.library.changed.connect(self._library_changed)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(lambda _path: self._rescan_timer.start())
        self._rescan_timer = QTimer(self, singleShot=True, interval=400)
        self._rescan_timer.timeout.connect(self.rescan_library)
        self._scanning = False
        self._scan_again = False

        self._specs: list[ViewSpec] = list(VIEWS)
        self._views: dict[str, QWidget] = {}
        self.nav = QListWidget()
        self.nav.setAccessibleName("Views")
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setFixedWidth(170)
        self.nav.setSpacing(2)
        self.stack = QStackedWidget()
        self.stack.setAccessibleName("Current view")
        for spec in self._specs:
            item = QListWidgetItem(icon(spec.icon), spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.key)
            item.setToolTip(f"{spec.title} ({self._view_shortcut(spec)})" if self._view_shortcut(spec) else spec.title)
            self.nav.addItem(item)
            placeholder = QLabel("Loading…")  # until the view is first shown
            placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.stack.addWidget(placeholder)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self._build_status_bar()
        self._build_actions()
        self.nav.currentRowChanged.connect(self._show_row)
        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(WINDOW_SIZE)
        start = self.settings.last_view or DEFAULT_VIEW
        keys = [s.key for s in self._specs]
        # Select the first view now but build it once the window is on screen (start-up time).
        self.nav.blockSignals(True)
        self.nav.setCurrentRow(keys.index(start) if start in keys else keys.index(DEFAULT_VIEW))
        self.nav.blockSignals(False)
        self.is_ready = False
        self.shown_at: float | None = None
        self.providers_in_use: list[str] = []

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self.shown_at is None:
            self.shown_at = time.perf_counter()
        if not self.is_ready and not getattr(self, "_ready_scheduled", False):
            self._ready_scheduled = True
            QTimer.singleShot(STARTUP_DELAY_MS, self._after_first_show)

    def _after_first_show(self) -> None:
        """Deferred start-up: the first view, the library scan, the engine import."""
        if not self.is_ready:
            self._show_row(self.nav.currentRow())
            self._mark_ready()

    def _mark_ready(self) -> None:
        if self.is_ready:
            return
        self.is_ready = True
        self.rescan_library()
        workers.run_in_thread(workers.warm_up)
        self.ready.emit()

    # -- views ---------------------------------------------------------------------------------
    def _view_shortcut(self, spec: ViewSpec) -> str:
        k = self._specs.index(spec) + 1
        return f"Alt+{k}" if k <= 9 else ""

    def _show_row(self, row: int) -> None:
        if row < 0:
            return
        spec = self._specs[row]
        view = self._views.get(spec.key)
        if view is None:
            try:
                view = spec.load()(self)
            except Exception as exc:  # noqa: BLE001 - a broken view must not take the app down
                workers.report_error(exc)
                view = QLabel(f"The {spec.title} view could not be opened: {workers.one_line(exc)}")
                view.setAlignment(Qt.AlignmentFlag.AlignCenter)
            view.setObjectName(f"view_{spec.key}")
            self._views[spec.key] = view
            old = self.stack.widget(row)
            self.stack.insertWidget(row, view)
            self.stack.removeWidget(old)
            old.deleteLater()
        self.stack.setCurrentIndex(row)
        self.settings.last_view = spec.key
        self._name_run_action(view)
        self.view_changed.emit(spec.key)
        if not self.is_ready and self.isVisible():
            self._mark_ready()

    def _name_run_action(self, view: QWidget) -> None:
        """Run > Translate says what Ctrl+Enter does here (a view's ``RUN_LABEL``), and is off where
        it does nothing."""
        action = getattr(self, "run_action", None)
        if action is not None:
            action.setText(getattr(view, "RUN_LABEL", "&Translate"))
            action.setEnabled(callable(getattr(view, "run", None)))

    def show_view(self, key: str) -> QWidget:
        """Switch to a view (building it if needed) and return it."""
        keys = [s.key for s in self._specs]
        row = keys.index(key)
        if self.nav.currentRow() != row:
            self.nav.setCurrentRow(row)
        else:
            self._show_row(row)
        return self._views[key]

    def view(self, key: str) -> QWidget:
        """A view, built if it was never shown, without switching to it."""
        if key not in self._views:
            current = self.current_key()
            self.show_view(key)
            if current:
                self.show_view(current)
        return self._views[key]

    def current_key(self) -> str:
        row = self.nav.currentRow()
        return self._specs[row].key if row >= 0 else ""

    def current_view(self) -> QWidget | None:
        return self._views.get(self.current_key())

    def built_views(self) -> dict[str, QWidget]:
        return dict(self._views)

    def _setting_changed(self, key: str) -> None:
        if key == "appearance/theme":
            for row, spec in enumerate(self._specs):
                self.nav.item(row).setIcon(icon(spec.icon))

    # -- library -------------------------------------------------------------------------------
    def rescan_library(self) -> None:
        """Re-read every library folder in a worker; the view updates when it is done."""
        if self._scanning:
            self._scan_again = True
            return
        self._scanning = True

        def done() -> None:
            self._scanning = False
            if self._scan_again:
                self._scan_again = False
                self.rescan_library()

        workers.run_in_thread(self.library.collect, on_result=self.library.publish, on_finished=done)

    def add_model_folder(self, folder: str | os.PathLike) -> None:
        if self.library.add_folder(folder, scan=False):
            self.rescan_library()

    def _library_changed(self) -> None:
        self.settings.library_folders = [str(f) for f in self.library.folders]
        self.settings.library_models = [str(m) for m in self.library.models]
        watched = set(self._watcher.directories())
        wanted = {str(f) for f in self.library.all_folders if f.is_dir()}
        # a folder that does not exist yet (exports/ before the first export): watch its parent
        wanted |= {str(f.parent) for f in self.library.all_folders if not f.is_dir() and f.parent.is_dir()}
        wanted |= {str(e.path.parent) for e in self.library.entries if e.path.parent.is_dir()}
        if watched - wanted:
            self._watcher.removePaths(sorted(watched - wanted))
        if wanted - watched:
            self._watcher.addPaths(sorted(wanted - watched))

    def open_model_dialog(self) -> None:
        start = self.settings.last_dir("model") or str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(self, "Open model", start,
                                              "ONNX models (*.onnx);;PyTorch checkpoints (*.pth *.pt)")
        if path:
            self.settings.set_last_dir("model", str(Path(path).parent))
            self.open_paths([path])

    def add_model(self, path: str | os.PathLike) -> None:
        entry = self.library.add_model(path, scan=False)  # reads one header; the folders are rescanned in a worker
        self.rescan_library()
        if not entry.valid:
            self.show_error(f"{entry.path.name}: {entry.error}",
                            "The file is listed in the Models view with this reason.")
        else:
            self.statusBar().showMessage(f"Added {entry.display_name} to the library", 5000)

    # -- files handed to the window (drops, arguments) -----------------------------------------
    def open_paths(self, paths: list[str]) -> None:
        """Models go to the library, checkpoints get advice, images go to the Translate view; what
        cannot be opened is said in one dialog, however many such files were dropped."""
        images = []
        problems: list[tuple[Path, str]] = []  # (file, the line that says why)
        for text in paths:
            p = Path(text)
            suffix = p.suffix.lower()
            if not p.exists():  # moved, deleted or mistyped: said once, and not kept in lists
                self.settings.remove_recent_file(str(text))
                problems.append((p, f"{p}: no such file or folder (moved or deleted?); nothing was opened"))
                continue
            if suffix == MODEL_SUFFIX:
                self.add_model(p)
            elif suffix in CHECKPOINT_SUFFIXES:
                self.explain_checkpoint(p)
            elif p.is_dir():
                problem = self.open_folder(p)
                if problem:
                    problems.append((p, problem))
            elif suffix in IMAGE_SUFFIXES:
                images.append(p)
            else:
                problems.append((p, f"{p}: not an image, an .onnx model or a folder; nothing to do with it"))
        if len(problems) == 1:
            self.show_error(problems[0][1])
        elif problems:
            self.show_error(f"{len(problems)} of the {len(paths)} files given could not be opened: "
                            f"{', '.join(p.name for p, _ in problems)}", "\n".join(line for _, line in problems))
        if images:
            view = self._image_view()
            view.open_image(str(images[0]))
            if len(images) > 1:
                self.statusBar().showMessage(f"{len(images)} images dropped: opened {images[0].name} "
                                             f"(the Batch view translates whole folders)", 8000)

    def open_folder(self, folder: Path) -> str | None:
        """A folder of images (and no models) is the Batch view's input; any other becomes a model
        folder of the library. Only the top level is looked at: a big tree never stalls the window.
        Returns the problem when the folder cannot be read."""
        models = images = False
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    suffix = os.path.splitext(entry.name)[1].lower()
                    models = models or suffix == MODEL_SUFFIX
                    images = images or suffix in IMAGE_SUFFIXES
                    if models:
                        break
        except OSError as exc:
            return f"{folder}: cannot read the folder ({exc.strerror or exc}); nothing was opened"
        if images and not models:
            view = self.show_view("batch")
            view.input_edit.setText(str(folder))
            self.statusBar().showMessage(f"{folder.name}: a folder of images, not of models: it is the Batch "
                                         f"view's input now", 8000)
            return None
        self.add_model_folder(folder)
        return None

    def _image_view(self) -> QWidget:
        """Where an image dropped, pasted or opened goes: the view on screen if it shows one image
        (Translate, Compare), else Translate."""
        view = self.current_view()
        return view if hasattr(view, "open_image") and hasattr(view, "open_qimage") else self.show_view("translate")

    def explain_checkpoint(self, path: Path) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "A PyTorch checkpoint", checkpoint_advice(path),
                          QMessageBox.StandardButton.Ok, self)
        box.setAccessibleName("Checkpoint advice")
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # issue 15: the reference route, run for the user (import, export, into the library)
        importer = box.addButton("Import and export…", QMessageBox.ButtonRole.ActionRole)
        importer.clicked.connect(lambda: self.import_reference(path))
        self.last_checkpoint_advice = box.text()
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def import_reference(self, path: str | os.PathLike) -> QWidget:
        """Run ``gantrans import`` + ``gantrans export`` on a reference checkpoint, with progress."""
        from gantrans_gui.reference_import import import_reference

        return import_reference(self, path)

    @staticmethod
    def _urls_to_paths(event) -> list[str]:
        md = event.mimeData()
        return [u.toLocalFile() for u in md.urls() if u.isLocalFile()] if md.hasUrls() else []

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        if self._urls_to_paths(event) or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        paths = self._urls_to_paths(event)
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)
        elif event.mimeData().hasImage():
            event.acceptProposedAction()
            self._image_view().open_qimage(event.mimeData().imageData(), "dropped image")

    # -- errors and status ---------------------------------------------------------------------
    def show_error(self, message: str, details: str = "") -> None:
        """The one error dialog: the message, with ``details`` (a traceback, a log) folded away."""
        from gantrans_gui.error_dialog import ErrorDialog

        self.last_error = (message, details)
        dialog = ErrorDialog(message, details, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self._dialogs.append(dialog)
        dialog.finished.connect(lambda _r, d=dialog: self._dialogs.remove(d) if d in self._dialogs else None)
        dialog.open()
        self.statusBar().showMessage(message, 10000)

    def _build_status_bar(self) -> None:
        bar = ElidingStatusBar()
        self.setStatusBar(bar)
        # A model's file name is data of any length: cut in the middle (the direction and epoch at
        # its end stay visible), whole in the tooltip, never widening the window.
        self.status_model = QElidingLabel()
        self.status_model.setElideMode(Qt.TextElideMode.ElideMiddle)
        self.status_model.setAccessibleName("Current model")
        self._show_model_name("No model")
        self.status_provider = QLabel("Provider: —")
        self.status_provider.setAccessibleName("Execution provider")
        self.status_time = QLabel("Last inference: —")
        self.status_time.setAccessibleName("Last inference time")
        self.status_progress = QProgressBar()
        self.status_progress.setAccessibleName("Work in progress")
        self.status_progress.setMaximumWidth(160)
        self.status_progress.setVisible(False)
        for w in (self.status_progress, self.status_model, self.status_provider, self.status_time):
            bar.addPermanentWidget(w)

    def _show_model_name(self, name: str) -> None:
        # An eliding label's size hint is its elided text: its width is set from the whole name.
        label = self.status_model
        label.setFixedWidth(min(STATUS_MODEL_WIDTH, label.fontMetrics().horizontalAdvance(name) + 8))
        label.setText(name)
        label.setToolTip(name)

    def set_status(self, *, model: str | None = None, provider: str | None = None,
                   seconds: float | None = None, failed: bool = False, per_image: bool = False) -> None:
        """The status bar's model, provider and last inference (``failed``: it did not finish, so
        the previous image's time is not left standing; ``per_image``: a batch's mean)."""
        if model is not None:
            self._show_model_name(model)
        if provider is not None:
            self.status_provider.setText(f"Provider: {provider.replace('ExecutionProvider', '')}")
        if failed:
            self.status_time.setText("Last inference: failed")
        elif seconds is not None:
            took = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
            self.status_time.setText(f"Last inference: {took}" + (" per image" if per_image else ""))

    def set_busy(self, busy: bool, done: int = 0, total: int = 0) -> None:
        self.status_progress.setVisible(busy)
        self.status_progress.setRange(0, total)
        self.status_progress.setValue(done)

    # -- actions and shortcuts -----------------------------------------------------------------
    def _action(self, text: str, shortcut, slot, icon_name: str = "", tip: str = "") -> QAction:
        act = QAction(text, self)
        if icon_name:
            set_icon(act, icon_name)
        if shortcut:
            act.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.triggered.connect(slot)
        if tip:
            act.setStatusTip(tip)
        self.addAction(act)
        return act

    def _forward(self, method: str, fallback_view: str | None = None, *args) -> None:
        view = self.current_view()
        if (view is None or not callable(getattr(view, method, None))) and fallback_view:
            view = self.show_view(fallback_view)
        if view is not None and callable(getattr(view, method, None)):  # a view's data named like it (Runs'
            getattr(view, method)(*args)                                # 'run') is no action

    def _build_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self._action("&Open image…", QKeySequence.StandardKey.Open,
                                         lambda: self._forward("open_image_dialog", "translate"), "mdi6.image-outline"))
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addAction(self._action("Open &model…", "Ctrl+Shift+O", self.open_model_dialog, "mdi6.cube-outline"))
        file_menu.addAction(self._action("&Paste image", QKeySequence.StandardKey.Paste,
                                         lambda: self._forward("paste", "translate"), "mdi6.content-paste"))
        file_menu.addAction(self._action("&Save result…", QKeySequence.StandardKey.Save,
                                         lambda: self._forward("save_result"), "mdi6.content-save-outline"))
        file_menu.addSeparator()
        # Ctrl+Q where the platform names no Quit key (Windows, offscreen), the platform's own elsewhere
        quit_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Quit) or [QKeySequence("Ctrl+Q")]
        file_menu.addAction(self._action("&Quit", quit_keys, self.close))

        run_menu = menu.addMenu("&Run")
        self.run_action = self._action("&Translate", ["Ctrl+Return", "F5"], lambda: self._forward("run"),
                                       "mdi6.play", "Translate, compare or start the batch of this view")
        run_menu.addAction(self.run_action)
        run_menu.addAction(self._action("&Cancel", "Esc", lambda: self._forward("cancel")))

        view_menu = menu.addMenu("&View")
        view_menu.addAction(self._action("Zoom &in", [QKeySequence.StandardKey.ZoomIn, QKeySequence("Ctrl+=")],
                                         lambda: self._forward("zoom", None, "in"), "mdi6.magnify-plus-outline"))
        view_menu.addAction(self._action("Zoom &out", QKeySequence.StandardKey.ZoomOut,
                                         lambda: self._forward("zoom", None, "out"), "mdi6.magnify-minus-outline"))
        view_menu.addAction(self._action("&Fit to window", "Ctrl+0", lambda: self._forward("zoom", None, "fit"),
                                         "mdi6.fit-to-screen-outline"))
        view_menu.addAction(self._action("&Actual size (100 %)", "Ctrl+1",
                                         lambda: self._forward("zoom", None, "100"), "mdi6.magnify"))
        view_menu.addSeparator()
        for spec in self._specs:
            shortcut = self._view_shortcut(spec)
            view_menu.addAction(self._action(spec.title, shortcut, lambda _=False, key=spec.key: self.show_view(key),
                                             spec.icon))
        view_menu.addAction(self._action("Next view", "Ctrl+PgDown",
                                         lambda: self.nav.setCurrentRow((self.nav.currentRow() + 1) % len(self._specs))))
        view_menu.addAction(self._action("Previous view", "Ctrl+PgUp",
                                         lambda: self.nav.setCurrentRow((self.nav.currentRow() - 1) % len(self._specs))))
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self._action("&About gantrans", "", self._about))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files
        for path in recent:
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _=False, p=path: self.open_paths([p]))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.settings.clear_recent_files)
        else:
            self.recent_menu.addAction("No recent files").setEnabled(False)

    def _about(self) -> None:
        from gantrans import __version__

        QMessageBox.about(self, "About gantrans",
                          f"gantrans {__version__}\nGAN image-to-image translation: train, export to ONNX, "
                          f"translate.\nSettings: {self.settings.file_name()}")

    # -- closing -------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        for view in self._views.values():
            shutdown = getattr(view, "shutdown", None)
            if shutdown is not None:
                shutdown()
        self.settings.set_geometry(self.saveGeometry())
        workers.wait_for_workers(5000)
        workers.set_default_error_handler(None)
        super().closeEvent(event)


def make_button(text: str, icon_name: str = "", tip: str = "", accessible: str = "") -> QPushButton:
    """A push button with a palette-tinted icon, tooltip and accessible name (used by every view)."""
    b = QPushButton(text)
    if icon_name:
        set_icon(b, icon_name)
    if tip:
        b.setToolTip(tip)
    b.setAccessibleName(accessible or text.replace("…", "").replace("&", ""))
    return b
