"""A form generated from declared options (contract C): one editor per option.

Types pick the editor (int: spin box, float: line edit that takes ``2e-4``, bool: check box,
choices: combo box, str: line edit); the help text becomes the tooltip. A plugin's recipe gets
its form with no GUI code.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtGui import QDoubleValidator, QIntValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QWidget

from gantrans_gui.plugin_catalog import OptionSpec


class OptionsForm(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        # A narrow panel puts a long option name above its editor instead of cutting both off.
        self.layout_.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.specs: list[OptionSpec] = []
        self.editors: dict[str, QWidget] = {}

    def set_options(self, specs: list[OptionSpec], empty_text: str = "This recipe declares no options.") -> None:
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.specs, self.editors = list(specs), {}
        if not specs:
            self.layout_.addRow(QLabel(empty_text))
        for spec in specs:
            editor = self._editor(spec)
            tip = spec.help + (f"\n(default: {spec.default!r})" if spec.default is not None else "")
            editor.setToolTip(tip.strip())
            editor.setAccessibleName(spec.name)
            editor.setObjectName(f"option_{spec.name}")
            label = QLabel(spec.name)
            label.setToolTip(tip.strip())
            self.layout_.addRow(label, editor)
            self.editors[spec.name] = editor

    @staticmethod
    def _editor(spec: OptionSpec) -> QWidget:
        if spec.choices:
            box = QComboBox()
            # as narrow as the panel needs (a long choice is cut, whole in the open list)
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(8)
            if spec.default is None:  # "not set": the recipe decides (e.g. norm_D follows norm)
                box.addItem("(not set)", None)
            for c in spec.choices:
                box.addItem(str(c), c)
            k = box.findData(spec.default)
            box.setCurrentIndex(max(0, k))
            return box
        if spec.type == "bool":
            check = QCheckBox()
            check.setChecked(bool(spec.default))
            return check
        if spec.type == "int" and spec.default is None:
            edit = QLineEdit()
            edit.setValidator(QIntValidator())
            edit.setPlaceholderText("(not set)")
            return edit
        if spec.type == "int":
            spin = QSpinBox(minimum=-(2**31 - 1), maximum=2**31 - 1)
            spin.setValue(int(spec.default) if isinstance(spec.default, (int, float)) else 0)
            return spin
        edit = QLineEdit("" if spec.default is None else str(spec.default))
        if spec.type == "float":
            edit.setValidator(QDoubleValidator())
            if spec.default is None:
                edit.setPlaceholderText("(not set)")
        return edit

    def value(self, name: str) -> Any:
        spec = next(s for s in self.specs if s.name == name)
        w = self.editors[name]
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QSpinBox):
            return w.value()
        text = w.text().strip()
        if spec.type == "int":
            try:
                return int(text) if text else spec.default
            except ValueError:
                return spec.default
        if spec.type == "float":
            if not text:
                return spec.default
            try:
                return float(text)
            except ValueError:
                return spec.default
        if not text and spec.default is None:
            return None
        return text

    def values(self) -> dict[str, Any]:
        return {s.name: self.value(s.name) for s in self.specs}

    def changed_values(self) -> dict[str, Any]:
        """Options the user set away from their declared default."""
        out = {}
        for s in self.specs:
            v = self.value(s.name)
            if v != s.default and not (isinstance(v, float) and isinstance(s.default, (int, float))
                                       and float(s.default) == v):
                out[s.name] = v
        return out

    def set_value(self, name: str, value: Any) -> None:
        w = self.editors[name]
        if isinstance(w, QComboBox):
            w.setCurrentIndex(max(0, w.findData(value)))
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QSpinBox):
            w.setValue(int(value))
        else:
            w.setText("" if value is None else str(value))

    def reset(self) -> None:
        for s in self.specs:
            self.set_value(s.name, s.default)


def option_args(values: dict[str, Any]) -> list[str]:
    """``-o KEY=VALUE`` arguments; values are JSON unless they are plain strings."""
    args: list[str] = []
    for key, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value)
        args += ["-o", f"{key}={text}"]
    return args
