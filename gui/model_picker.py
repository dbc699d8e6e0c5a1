"""Choosing a translation model: one combo for the export, one for its direction (A→B / B→A).

Heads exported together (same folder, same name, same precision) form one choice; the direction
combo lists the heads present and is disabled when there is only one. Items follow the library.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from gantrans_gui import view_support
from gantrans_gui.model_library import ModelEntry, ModelLibrary, distinct_labels


def _key(entry: ModelEntry) -> str:
    """The group key as a string (combo item data must survive the trip through QVariant)."""
    folder, stem, int8 = entry.group_key
    return f"{folder}\x1f{stem}\x1f{int(int8)}"


class ModelPicker(QWidget):
    """Emits ``entry_changed(ModelEntry | None)`` when the chosen model file changes."""

    entry_changed = Signal(object)
    #: the chosen file left the library (deleted, moved): its path, once its successor is chosen
    entry_lost = Signal(object)

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None, label: bool = True,
                 settings_key: str | None = None) -> None:
        super().__init__(parent)
        self.library = library
        # the model chosen last time (by hand), taken up when the library lists it again
        self._settings_key = settings_key
        saved = view_support.settings().value(settings_key, "") if settings_key else ""
        self._wanted: Path | None = Path(str(saved)) if saved else None
        self.model_combo = QComboBox()
        self.model_combo.setAccessibleName("Model")
        self.model_combo.setToolTip("The exported model (Models view lists every file with its card)")
        self.model_combo.setMinimumContentsLength(10)
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.direction_combo = QComboBox()
        self.direction_combo.setAccessibleName("Direction")
        self.direction_combo.setToolTip("Which generator of the export: A→B or B→A when both were exported")
        self.direction_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.labels = [QLabel("Model:"), QLabel("Direction:")] if label else []
        if label:
            layout.addWidget(self.labels[0])
        layout.addWidget(self.model_combo, 1)
        if label:
            layout.addWidget(self.labels[1])
        layout.addWidget(self.direction_combo)
        self._groups: dict[str, list[ModelEntry]] = {}
        self._current: Path | None = None
        self._quiet = False
        self.model_combo.currentIndexChanged.connect(self._group_changed)
        self.direction_combo.currentIndexChanged.connect(lambda _i: self._sync(chosen=True))
        library.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        groups: dict[str, list[ModelEntry]] = {}
        for e in self.library.valid_entries("translate"):
            groups.setdefault(_key(e), []).append(e)
        for heads in groups.values():
            heads.sort(key=lambda e: e.direction)
        self._groups = groups
        keep = self.library.entry(self._current) if self._current is not None else None
        lost = self._current if self._current is not None and keep is None else None
        wanted = self.library.entry(self._wanted) if self._wanted is not None else None
        if wanted is not None:
            keep, lost, self._wanted = wanted, None, None
        self._quiet = True
        self.model_combo.clear()
        labels = distinct_labels({k: h[0].group_stem + (" (int8)" if h[0].int8 else "") for k, h in groups.items()},
                                 {k: h[0] for k, h in groups.items()})
        for key, heads in sorted(groups.items(), key=lambda kv: (labels[kv[0]], kv[0])):
            e = heads[0]
            self.model_combo.addItem(labels[key], key)
            self.model_combo.setItemData(self.model_combo.count() - 1, str(e.path.parent),
                                         Qt.ItemDataRole.ToolTipRole)
        if not groups:
            self.model_combo.addItem("No model — open one or add a folder in Models")
        self.model_combo.setEnabled(bool(groups))
        index = self.model_combo.findData(_key(keep)) if keep is not None and _key(keep) in groups else 0
        self.model_combo.setCurrentIndex(index)
        self._fill_directions(keep.direction if keep is not None else "")
        self._quiet = False
        self._sync()
        if lost is not None:
            self.entry_lost.emit(lost)

    def _fill_directions(self, prefer: str) -> None:
        heads = self._groups.get(self.model_combo.currentData(), [])
        quiet, self._quiet = self._quiet, True
        self.direction_combo.clear()
        for e in heads:
            self.direction_combo.addItem(f"{e.direction}: {e.direction_label}" if e.direction else "—", str(e.path))
        self.direction_combo.setEnabled(len(heads) > 1)
        self.direction_combo.setMinimumWidth(self.direction_combo.sizeHint().width())
        self.direction_combo.setCurrentIndex(next((k for k, e in enumerate(heads) if e.direction == prefer), 0))
        self._quiet = quiet

    def _group_changed(self, _index: int) -> None:
        if self._quiet:
            return
        current = self.current_entry()
        self._fill_directions(current.direction if current is not None else "")
        self._sync(chosen=True)

    def _sync(self, chosen: bool = False) -> None:
        """Follow the combos; ``chosen``: the user (or a caller) picked it, so it is remembered."""
        if self._quiet:
            return
        data = self.direction_combo.currentData()
        path = Path(data) if data else None
        if chosen and path is not None and self._settings_key:
            self._wanted = None
            view_support.settings().setValue(self._settings_key, str(path))
        if path != self._current:
            self._current = path
            self.entry_changed.emit(self.current_entry())

    def current_entry(self) -> ModelEntry | None:
        return self.library.entry(self._current) if self._current is not None else None

    def select_path(self, path: str | Path) -> bool:
        """Select the model file ``path``; False when the library does not list it (yet)."""
        entry = self.library.entry(path)
        if entry is None or _key(entry) not in self._groups:
            return False
        self._quiet = True
        self.model_combo.setCurrentIndex(self.model_combo.findData(_key(entry)))
        self._fill_directions(entry.direction)
        self._quiet = False
        self._sync(chosen=True)
        return True
