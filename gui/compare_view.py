"""The Compare view (being built)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class CompareView(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.window_ = window
        QVBoxLayout(self).addWidget(QLabel("Compare: coming in the next commit"))
