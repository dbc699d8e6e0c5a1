"""The Translate view (being built)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class TranslateView(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.window_ = window
        QVBoxLayout(self).addWidget(QLabel("Translate: coming in the next commit"))
