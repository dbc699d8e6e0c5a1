"""The Settings view: execution provider, threads, default tiling, theme.

Every change is written to :class:`gantrans_gui.settings.Settings` at once and used by the next
inference (sessions are cached per provider and thread count, so switching back costs nothing).
"""

from __future__ import annotations

import os

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gantrans.images import DEFAULT_MAX_PIXELS
from gantrans_gui import workers
from gantrans_gui.main_window import MainWindow
from gantrans_gui.settings import PROVIDER_AUTO, THEMES, TILING_CHOICES
from gantrans_gui.theme import apply_theme

TILING_LABELS = {"auto": "Automatic (when the model allows and the image is large)", "off": "Never",
                 "256": "256 px tiles", "512": "512 px tiles", "1024": "1024 px tiles"}


def short_provider(name: str) -> str:
    return name.replace("ExecutionProvider", "")


def _available_providers() -> list[str]:
    from gantrans.inference import available_providers

    return available_providers()


class SettingsView(QWidget):
    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window_ = window
        self.settings = window.settings

        runtime = QGroupBox("Inference")
        form = QFormLayout(runtime)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.provider_combo = QComboBox()
        self.provider_combo.setAccessibleName("Execution provider")
        self.provider_combo.addItem("Automatic (CUDA when available, then CPU)", PROVIDER_AUTO)
        self.provider_combo.currentIndexChanged.connect(self._provider_changed)
        form.addRow("Execution provider:", self.provider_combo)
        self.available_label = QLabel("Available: looking…")
        self.available_label.setAccessibleName("Available providers")
        form.addRow("", self.available_label)
        self.in_use_label = QLabel()
        self.in_use_label.setAccessibleName("Provider in use")
        form.addRow("In use:", self.in_use_label)
        self.threads_spin = QSpinBox()
        self.threads_spin.setAccessibleName("Threads")
        self.threads_spin.setRange(0, max(64, os.cpu_count() or 1))
        self.threads_spin.setSpecialValueText(f"Automatic (one per core, {os.cpu_count() or 1} here)")
        self.threads_spin.setValue(self.settings.threads)
        self.threads_spin.valueChanged.connect(lambda v: setattr(self.settings, "threads", v))
        form.addRow("Threads:", self.threads_spin)
        self.tiling_combo = QComboBox()
        self.tiling_combo.setAccessibleName("Default tiling")
        for key in TILING_CHOICES:
            self.tiling_combo.addItem(TILING_LABELS[key], key)
        self.tiling_combo.setCurrentIndex(TILING_CHOICES.index(self.settings.tiling))
        self.tiling_combo.currentIndexChanged.connect(
            lambda i: setattr(self.settings, "tiling", self.tiling_combo.itemData(i)))
        form.addRow("Default tiling:", self.tiling_combo)
        self.pixels_spin = QSpinBox()
        self.pixels_spin.setAccessibleName("Largest image")
        self.pixels_spin.setRange(0, 4000)
        self.pixels_spin.setSuffix(" Mpx")
        self.pixels_spin.setSpecialValueText(f"{DEFAULT_MAX_PIXELS // 1_000_000} Mpx (the default)")
        self.pixels_spin.setValue(self.settings.max_megapixels)
        self.pixels_spin.setToolTip("Larger images are refused as possible decompression bombs; raise this for "
                                    "very large scans or panoramas (they need memory, or tiles)")
        self.pixels_spin.valueChanged.connect(lambda v: setattr(self.settings, "max_megapixels", v))
        form.addRow("Largest image:", self.pixels_spin)

        look = QGroupBox("Appearance")
        lform = QFormLayout(look)
        lform.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.theme_combo = QComboBox()
        self.theme_combo.setAccessibleName("Theme")
        for key in THEMES:
            self.theme_combo.addItem(key.capitalize(), key)
        self.theme_combo.setCurrentIndex(THEMES.index(self.settings.theme))
        self.theme_combo.currentIndexChanged.connect(self._theme_changed)
        lform.addRow("Theme:", self.theme_combo)

        about = QLabel(f"Settings are kept in {self.settings.file_name()}")
        about.setWordWrap(True)
        about.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addWidget(runtime)
        layout.addWidget(look)
        layout.addWidget(about)
        layout.addStretch(1)

        self.settings.changed.connect(self._settings_changed)
        self._update_in_use()
        workers.run_in_thread(_available_providers, on_result=self._fill_providers, owner=self)

    def _fill_providers(self, names: list[str]) -> None:
        current = self.settings.provider
        self.provider_combo.blockSignals(True)
        for name in names:
            self.provider_combo.addItem(short_provider(name), name)
        if current != PROVIDER_AUTO and current not in names:
            self.provider_combo.addItem(f"{short_provider(current)} (not available)", current)
        idx = self.provider_combo.findData(current)
        self.provider_combo.setCurrentIndex(max(0, idx))
        self.provider_combo.blockSignals(False)
        self.available_label.setText("Available: " + ", ".join(short_provider(n) for n in names))

    def _provider_changed(self, index: int) -> None:
        value = self.provider_combo.itemData(index)
        if value:
            self.settings.provider = value

    def _theme_changed(self, index: int) -> None:
        theme = self.theme_combo.itemData(index)
        apply_theme(theme)
        self.settings.theme = theme  # listeners re-tint what they drew with the new palette

    def _settings_changed(self, key: str) -> None:
        if key == "inference/provider":
            idx = self.provider_combo.findData(self.settings.provider)
            if idx >= 0 and idx != self.provider_combo.currentIndex():
                self.provider_combo.setCurrentIndex(idx)
        elif key == "inference/tiling":
            idx = TILING_CHOICES.index(self.settings.tiling)
            if idx != self.tiling_combo.currentIndex():
                self.tiling_combo.setCurrentIndex(idx)
        self._update_in_use()

    def _update_in_use(self) -> None:
        used = getattr(self.window_, "providers_in_use", None)
        self.in_use_label.setText(", ".join(short_provider(p) for p in used) if used
                                  else "nothing yet (no model has run in this session)")

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._update_in_use()
        super().showEvent(event)
