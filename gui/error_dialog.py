"""The one error dialog: the one-line message up front, the details folded away.

Built on superqt's ``QCollapsible`` so the traceback (or a command's output) is one click away
without scaring anyone who only needs the line that names the file and what to do.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible


class ErrorDialog(QDialog):
    def __init__(self, message: str, details: str = "", title: str = "gantrans", parent: QWidget | None = None,
                 icon: QStyle.StandardPixmap = QStyle.StandardPixmap.SP_MessageBoxCritical) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAccessibleName("Error")
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        pic = QLabel()
        pic.setPixmap(self.style().standardIcon(icon).pixmap(40, 40))
        pic.setAlignment(Qt.AlignmentFlag.AlignTop)
        top.addWidget(pic)
        self.message_label = QLabel(message)
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.setAccessibleName("Error message")
        top.addWidget(self.message_label, 1)
        layout.addLayout(top)
        self.details_box: QCollapsible | None = None
        self.details_text: QPlainTextEdit | None = None
        if details:
            self.details_box = QCollapsible("Details")
            self.details_box.setAccessibleName("Error details")
            self.details_text = QPlainTextEdit(details)
            self.details_text.setReadOnly(True)
            self.details_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            self.details_text.setMinimumHeight(180)
            self.details_box.addWidget(self.details_text)
            layout.addWidget(self.details_box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        copy = QPushButton("Copy")
        copy.setToolTip("Copy the message and the details to the clipboard")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(f"{message}\n\n{details}".strip()))
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
