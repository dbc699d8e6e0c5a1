"""The Models view: library folders, every model in them with its card, and the broken ones.

A Qt list model over :class:`gantrans_gui.model_library.ModelLibrary`; it never reads files
itself (the window scans in a worker and the library tells us when it changed).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gantrans_gui.icons import icon
from gantrans_gui.main_window import MainWindow, make_button
from gantrans_gui.model_library import ModelEntry, ModelLibrary, unique_labels

EntryRole = Qt.ItemDataRole.UserRole + 1


class LibraryListModel(QAbstractListModel):
    """Rows are library entries: valid models first (by folder and name), then invalid ones."""

    def __init__(self, library: ModelLibrary, parent=None) -> None:
        super().__init__(parent)
        self._library = library
        self._rows: list[ModelEntry] = []
        library.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.beginResetModel()
        self._icons = {"ok": icon("mdi6.cube-outline"), "int8": icon("mdi6.cube-scan"),
                       "gen": icon("mdi6.dice-multiple-outline"), "bad": icon("mdi6.alert-circle-outline")}
        entries = self._library.entries
        self._rows = sorted((e for e in entries if e.valid), key=lambda e: (str(e.path.parent), e.path.name)) + \
            sorted((e for e in entries if not e.valid), key=lambda e: str(e.path))
        self._labels = unique_labels(e for e in entries if e.valid)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def entry(self, row: int) -> ModelEntry | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, path: Path) -> int:
        return next((k for k, e in enumerate(self._rows) if e.path == path), -1)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        e = self.entry(index.row())
        if e is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if not e.valid:
                return f"{e.path.name} — {e.error}"
            what = e.direction_label if e.task == "translate" else e.task
            return f"{self._labels.get(e.path, e.display_name)}   ·   {what}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(e.path) if e.valid else f"{e.path}\n{e.error}"
        if role == Qt.ItemDataRole.DecorationRole:
            if not e.valid:
                return self._icons["bad"]
            if e.task != "translate":
                return self._icons["gen"]
            return self._icons["int8" if e.int8 else "ok"]
        if role == Qt.ItemDataRole.ForegroundRole and not e.valid:
            return QBrush(Qt.GlobalColor.red)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{e.display_name}, {'invalid: ' + (e.error or '') if not e.valid else e.task}"
        if role == EntryRole:
            return e
        return None


CARD_TITLE_WIDTH = 320  # px


class ModelCard(QGroupBox):
    """The metadata card of one entry as a form."""

    def __init__(self, parent=None) -> None:
        super().__init__("Model", parent)
        self.setAccessibleName("Model card")
        self.form = QFormLayout(self)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.show_entry(None)

    def show_entry(self, entry: ModelEntry | None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        if entry is None:
            self.setTitle("Model")
            self.setToolTip("")
            hint = QLabel("Select a model to see its card. Add folders where you keep models, open a single "
                          ".onnx file, or drop one on the window.")
            hint.setWordWrap(True)
            self.form.addRow(hint)
            return
        # the title is a file name (data, any length): cut in the middle, whole in the tooltip
        self.setTitle(self.fontMetrics().elidedText(entry.display_name, Qt.TextElideMode.ElideMiddle, CARD_TITLE_WIDTH))
        self.setToolTip(entry.display_name)
        for label, value in entry.card():
            v = QLabel(value)
            v.setWordWrap(True)
            v.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            v.setAccessibleName(label)
            if label == "Problem":
                v.setStyleSheet("color: #c0392b;")
            self.form.addRow(f"{label}:", v)


class LibraryView(QWidget):
    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window_ = window
        self.library = window.library

        # folders
        folders_box = QGroupBox("Folders")
        fl = QVBoxLayout(folders_box)
        self.folder_list = QListWidget()
        self.folder_list.setAccessibleName("Model folders")
        fl.addWidget(self.folder_list)
        row = QHBoxLayout()
        self.add_folder_button = make_button("Add folder…", "mdi6.folder-plus-outline",
                                             "Add a folder; its .onnx files (and new ones) appear here")
        self.remove_folder_button = make_button("Remove", "mdi6.folder-remove-outline",
                                                "Forget this folder (files are not touched)", "Remove folder")
        self.add_folder_button.clicked.connect(self.add_folder_dialog)
        self.remove_folder_button.clicked.connect(self.remove_selected_folder)
        row.addWidget(self.add_folder_button)
        row.addWidget(self.remove_folder_button)
        fl.addLayout(row)
        watch = QLabel("Folders are watched: new exports appear by themselves.")
        watch.setWordWrap(True)
        watch.setEnabled(False)
        fl.addWidget(watch)

        # models
        models_box = QGroupBox("Models")
        ml = QVBoxLayout(models_box)
        self.model_list = QListView()
        self.model_list.setAccessibleName("Models")
        self.list_model = LibraryListModel(self.library, self)
        self.model_list.setModel(self.list_model)
        self.model_list.setUniformItemSizes(True)
        self.model_list.selectionModel().currentChanged.connect(self._current_changed)
        self.model_list.doubleClicked.connect(lambda _i: self.use_selected())
        ml.addWidget(self.model_list)
        buttons = QHBoxLayout()
        self.open_button = make_button("Open model…", "mdi6.file-plus-outline", "Add one .onnx file (Ctrl+Shift+O)")
        self.open_button.clicked.connect(window.open_model_dialog)
        self.rescan_button = make_button("Rescan", "mdi6.refresh", "Read every folder again")
        self.rescan_button.clicked.connect(window.rescan_library)
        self.use_button = make_button("Translate with it", "mdi6.arrow-right-bold-outline",
                                      "Open the Translate view with this model")
        self.use_button.clicked.connect(self.use_selected)
        self.forget_button = make_button("Forget", "mdi6.close", "Remove a single added file from the list",
                                         "Forget model")
        self.forget_button.clicked.connect(self.forget_selected)
        for b in (self.open_button, self.rescan_button, self.use_button, self.forget_button):
            buttons.addWidget(b)
        ml.addLayout(buttons)
        self.summary = QLabel()
        self.summary.setAccessibleName("Library summary")
        ml.addWidget(self.summary)

        self.card = ModelCard()
        card_inner = QWidget()
        cl = QVBoxLayout(card_inner)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.card)
        cl.addStretch(1)
        # a file name or path with no space to break at scrolls here rather than widening the window
        card_frame = QScrollArea()
        card_frame.setWidgetResizable(True)
        card_frame.setFrameShape(QFrame.Shape.NoFrame)
        card_frame.setWidget(card_inner)

        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(folders_box)
        left.addWidget(models_box)
        left.setStretchFactor(1, 3)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(card_frame)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([640, 460])
        left.setSizes([200, 520])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self.library.changed.connect(self._refresh)
        window.settings.changed.connect(lambda key: self.list_model.refresh() or self._refresh()
                                        if key == "appearance/theme" else None)
        self._refresh()

    # -- library -------------------------------------------------------------------------------
    def _refresh(self) -> None:
        self.folder_list.clear()
        defaults = set(self.library.default_folders)
        for f in self.library.all_folders:
            state = "" if f.is_dir() else "  (missing)"
            item = QListWidgetItem(icon("mdi6.folder-outline"), f"{f}{state}" + ("  (default)" if f in defaults else ""))
            item.setData(Qt.ItemDataRole.UserRole, str(f))
            if f in defaults:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsSelectable)
                item.setForeground(self.palette().brush(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            self.folder_list.addItem(item)
        for m in self.library.models:
            item = QListWidgetItem(icon("mdi6.file-outline"), f"{m}  (single file)")
            item.setData(Qt.ItemDataRole.UserRole, str(m))
            self.folder_list.addItem(item)
        valid = self.library.valid_entries(task=None)
        bad = self.library.invalid_entries()
        self.summary.setText(f"{len(valid)} model(s)" + (f", {len(bad)} unusable file(s) listed with the reason"
                                                         if bad else ""))
        self._current_changed(self.model_list.currentIndex(), QModelIndex())
        if not self.model_list.currentIndex().isValid() and self.list_model.rowCount():
            self.model_list.setCurrentIndex(self.list_model.index(0))

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        entry = self.list_model.entry(current.row()) if current.isValid() else None
        self.card.show_entry(entry)
        self.use_button.setEnabled(bool(entry and entry.valid and entry.task == "translate"))
        self.forget_button.setEnabled(bool(entry and entry.path in self.library.models))

    def selected_entry(self) -> ModelEntry | None:
        idx = self.model_list.currentIndex()
        return self.list_model.entry(idx.row()) if idx.isValid() else None

    def select_path(self, path: Path) -> None:
        row = self.list_model.row_of(path)
        if row >= 0:
            self.model_list.setCurrentIndex(self.list_model.index(row))

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add model folder",
                                                  self.window_.settings.last_dir("model") or str(Path.cwd()))
        if folder:
            self.window_.settings.set_last_dir("model", folder)
            self.window_.add_model_folder(folder)

    def remove_selected_folder(self) -> None:
        item = self.folder_list.currentItem()
        if item is None:
            return
        path = item.data(Qt.ItemDataRole.UserRole)
        if Path(path) in self.library.models:
            self.library.remove_model(path, scan=False)
        else:
            self.library.remove_folder(path, scan=False)
        self.window_.rescan_library()

    def forget_selected(self) -> None:
        entry = self.selected_entry()
        if entry is not None and entry.path in self.library.models:
            self.library.remove_model(entry.path, scan=False)
            self.window_.rescan_library()

    def use_selected(self) -> None:
        entry = self.selected_entry()
        if entry is not None and entry.valid and entry.task == "translate":
            self.window_.show_view("translate").select_model(entry.path)
