"""Showing NumPy images in Qt: conversion and a label that scales its picture to fit.

Small generator outputs (32-64 px) are enlarged with nearest-neighbour sampling so pixels stay
crisp; large ones are reduced smoothly.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy


def array_to_qimage(arr: np.ndarray) -> QImage:
    """HxW, HxWx1, HxWx3 or HxWx4 uint8 to a QImage that owns a copy of the pixels."""
    a = np.ascontiguousarray(arr)
    if a.ndim == 3 and a.shape[2] == 1:
        a = np.ascontiguousarray(a[:, :, 0])
    h, w = a.shape[:2]
    if a.ndim == 2:
        fmt = QImage.Format.Format_Grayscale8
    elif a.shape[2] == 3:
        fmt = QImage.Format.Format_RGB888
    else:
        fmt = QImage.Format.Format_RGBA8888
    return QImage(a.data, w, h, a.strides[0], fmt).copy()


class ScaledImageLabel(QLabel):
    """A label showing one image as large as it fits; emits the clicked image pixel."""

    clicked = Signal(int, int, object)  # x, y in image pixels, the mouse button

    def __init__(self, placeholder: str = "", parent=None):
        super().__init__(placeholder, parent)
        self._pixmap: QPixmap | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(64, 64)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage | np.ndarray | None) -> None:
        if image is None:
            self._pixmap = None
            self.clear()
            return
        if isinstance(image, np.ndarray):
            image = array_to_qimage(image)
        self._pixmap = QPixmap.fromImage(image)
        self._rescale()

    def image_size(self) -> QSize | None:
        return self._pixmap.size() if self._pixmap is not None else None

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is None:
            return
        target = self.contentsRect().size()
        src = self._pixmap.size()
        if src.width() <= 0 or target.width() <= 0:
            return
        scale = min(target.width() / src.width(), target.height() / src.height())
        if scale >= 1:
            if scale >= 3:
                scale = int(scale)  # whole multiples keep pixels square where it shows
            mode = Qt.TransformationMode.FastTransformation  # enlarged pixels stay crisp
        else:
            mode = Qt.TransformationMode.SmoothTransformation
        size = QSize(max(1, int(src.width() * scale)), max(1, int(src.height() * scale)))
        super().setPixmap(self._pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, mode))

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        shown = self.pixmap()
        if self._pixmap is None or shown is None or shown.isNull():
            return super().mousePressEvent(event)
        r = self.contentsRect()
        x0 = r.x() + (r.width() - shown.width()) / 2
        y0 = r.y() + (r.height() - shown.height()) / 2
        pos = event.position()
        fx = (pos.x() - x0) / shown.width()
        fy = (pos.y() - y0) / shown.height()
        if 0 <= fx < 1 and 0 <= fy < 1:
            self.clicked.emit(int(fx * self._pixmap.width()), int(fy * self._pixmap.height()), event.button())
