"""An image viewer with zoom, pan and a before/after split, synchronised through a shared state.

Every canvas that shares one :class:`ViewState` shows the same zoom and the same image point at
its centre, so side-by-side views and the Compare grid move together. Zoom is either ``fit``
(each canvas fits its own size) or a scale factor; at 100 % (one image pixel per device pixel,
also on high-DPI screens) the image is drawn at whole-pixel offsets without resampling, so the
pixels shown are exactly the pixels computed.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from gantrans_gui.theme import state_colour

ZOOM_STEP = 1.25
MIN_SCALE, MAX_SCALE = 1 / 32, 64.0
SPLIT_GRAB_PX = 10


class ViewState(QObject):
    """Zoom and centre shared by several canvases. ``scale`` None means fit to the canvas."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scale: float | None = None
        self.center: QPointF | None = None  # image coordinates; None: the image's centre

    def set(self, scale: float | None, center: QPointF | None) -> None:
        if scale is not None:
            scale = max(MIN_SCALE, min(MAX_SCALE, scale))
        self.scale, self.center = scale, center
        self.changed.emit()

    def fit(self) -> None:
        self.set(None, None)


class ImageCanvas(QWidget):
    """Shows one image, or two (before | after) split by a draggable vertical line."""

    split_changed = Signal(float)

    def __init__(self, state: ViewState | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state or ViewState(self)
        self.state.changed.connect(self.update)
        self.before: QImage | None = None
        self.after: QImage | None = None
        self.mode = "single"  # or "split"
        self.show_before = False  # in single mode: which image
        self.split = 0.5  # fraction of the width where "after" begins
        self.placeholder = ""
        self.placeholder_is_error = False  # a failure's text, drawn in the error colour, not faint grey
        self.labels = ("Before", "After")
        self.caption = ""  # drawn in single mode (Compare: model name and latency)
        self._drag: str | None = None
        self._last: QPointF | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setMinimumSize(120, 90)
        self.setAccessibleName("Image view")
        self.setAccessibleDescription("Wheel or +/- to zoom, drag or arrow keys to pan, 0 to fit, 1 for 100 %")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(480, 360)

    # -- content -------------------------------------------------------------------------------
    def set_images(self, before: QImage | None, after: QImage | None = None) -> None:
        self.before, self.after = before, after
        self.update()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.setCursor(Qt.CursorShape.ArrowCursor)
        self.update()

    def set_split(self, fraction: float) -> None:
        self.split = max(0.0, min(1.0, fraction))
        self.split_changed.emit(self.split)
        self.update()

    def _reference(self) -> QImage | None:
        """The image whose size defines the geometry (both have the input's size)."""
        return self.before if self.before is not None and not self.before.isNull() else self.after

    # -- geometry ------------------------------------------------------------------------------
    def fit_scale(self) -> float:
        img = self._reference()
        if img is None or img.isNull() or self.width() < 2 or self.height() < 2:
            return 1.0
        return max(MIN_SCALE, min(self.width() / img.width(), self.height() / img.height()))

    def scale(self) -> float:
        return self.state.scale if self.state.scale is not None else self.fit_scale()

    def _center(self) -> QPointF:
        img = self._reference()
        if self.state.center is not None:
            return self.state.center
        return QPointF(img.width() / 2, img.height() / 2) if img is not None else QPointF(0, 0)

    def image_rect(self) -> QRectF:
        """Where the image lies in widget coordinates (whole-pixel origin)."""
        img = self._reference()
        if img is None:
            return QRectF()
        s = self.scale()
        c = self._center()
        x0 = round(self.width() / 2 - c.x() * s)
        y0 = round(self.height() / 2 - c.y() * s)
        return QRectF(x0, y0, img.width() * s, img.height() * s)

    def widget_to_image(self, p: QPointF) -> QPointF:
        r = self.image_rect()
        s = self.scale()
        return QPointF((p.x() - r.x()) / s, (p.y() - r.y()) / s)

    # -- zoom and pan (shared) -----------------------------------------------------------------
    def zoom(self, kind: str, anchor: QPointF | None = None) -> None:
        """``in``, ``out``, ``fit`` or ``100``; ``anchor`` (widget coordinates) stays put."""
        if self._reference() is None:
            return
        if kind == "fit":
            self.state.fit()
            return
        s = self.scale()
        # 100 %: one image pixel per device pixel (on a high-DPI screen, a logical pixel is several)
        new = 1.0 / self.devicePixelRatioF() if kind == "100" else s * ZOOM_STEP if kind == "in" else s / ZOOM_STEP
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        q = self.widget_to_image(anchor)
        new = max(MIN_SCALE, min(MAX_SCALE, new))
        center = QPointF(q.x() - (anchor.x() - self.width() / 2) / new,
                         q.y() - (anchor.y() - self.height() / 2) / new)
        self.state.set(new, center)

    def pan(self, dx: float, dy: float) -> None:
        """Move the view by (dx, dy) widget pixels."""
        if self._reference() is None:
            return
        s = self.scale()
        c = self._center()
        self.state.set(s, QPointF(c.x() - dx / s, c.y() - dy / s))

    # -- events --------------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt API
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom("in" if steps > 0 else "out", event.position())
        event.accept()

    def _near_split(self, x: float) -> bool:
        return self.mode == "split" and abs(x - self.split * self.width()) <= SPLIT_GRAB_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag = "split" if self._near_split(event.position().x()) else "pan"
            self._last = event.position()
            if self._drag == "pan":
                self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        pos = event.position()
        if self._drag == "split":
            self.set_split(pos.x() / max(1, self.width()))
        elif self._drag == "pan" and self._last is not None:
            self.pan(pos.x() - self._last.x(), pos.y() - self._last.y())
            self._last = pos
        else:
            self.setCursor(Qt.CursorShape.SplitHCursor if self._near_split(pos.x()) else Qt.CursorShape.OpenHandCursor
                           if self._reference() is not None else Qt.CursorShape.ArrowCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        self._drag, self._last = None, None
        self.setCursor(Qt.CursorShape.ArrowCursor)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        self.zoom("fit" if self.state.scale is not None else "100", event.position())

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        key = event.key()
        step = 40
        actions = {
            Qt.Key.Key_Plus: lambda: self.zoom("in"), Qt.Key.Key_Equal: lambda: self.zoom("in"),
            Qt.Key.Key_Minus: lambda: self.zoom("out"), Qt.Key.Key_0: lambda: self.zoom("fit"),
            Qt.Key.Key_1: lambda: self.zoom("100"),
            Qt.Key.Key_Left: lambda: self.pan(step, 0), Qt.Key.Key_Right: lambda: self.pan(-step, 0),
            Qt.Key.Key_Up: lambda: self.pan(0, step), Qt.Key.Key_Down: lambda: self.pan(0, -step),
            Qt.Key.Key_BracketLeft: lambda: self.set_split(self.split - 0.05),
            Qt.Key.Key_BracketRight: lambda: self.set_split(self.split + 0.05),
        }
        action = actions.get(Qt.Key(key))
        if action is not None and not (event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            action()
            event.accept()
        else:
            super().keyPressEvent(event)

    # -- painting ------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base).darker(108))
        img = self._reference()
        if img is None:
            if self.placeholder:
                p.setPen(QColor(state_colour("failed", pal)) if self.placeholder_is_error
                         else pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
                p.drawText(self.rect().adjusted(20, 20, -20, -20),
                           Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        s = self.scale()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, s * self.devicePixelRatioF() < 1.0)
        target = self.image_rect()
        if self.mode == "split" and self.after is not None and self.before is not None:
            x = round(self.split * self.width())
            p.save()
            p.setClipRect(QRectF(0, 0, x, self.height()))
            p.drawImage(target, self.before)
            p.restore()
            p.save()
            p.setClipRect(QRectF(x, 0, self.width() - x, self.height()))
            p.drawImage(target, self.after)
            p.restore()
            self._draw_split_handle(p, x)
            self._draw_label(p, self.labels[0], left=True)
            self._draw_label(p, self.labels[1], left=False)
        else:
            shown = self.before if (self.show_before or self.after is None) else self.after
            if shown is not None:
                p.drawImage(target, shown)
            if self.caption:
                self._draw_label(p, self.caption, left=True)
            elif self.after is not None and self.before is not None:
                self._draw_label(p, self.labels[0] if self.show_before else self.labels[1], left=True)
        p.end()

    def _draw_split_handle(self, p: QPainter, x: int) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(QPen(QColor(255, 255, 255, 230), 2))
        p.drawLine(x, 0, x, self.height())
        cy = self.height() / 2
        p.setBrush(QColor(30, 30, 30, 200))
        p.drawEllipse(QPointF(x, cy), 14, 14)
        path = QPainterPath()
        for sign in (-1, 1):
            path.moveTo(x + sign * 4, cy - 5)
            path.lineTo(x + sign * 9, cy)
            path.lineTo(x + sign * 4, cy + 5)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)

    def _draw_label(self, p: QPainter, text: str, left: bool) -> None:
        if not text:
            return
        fm = p.fontMetrics()
        w, h = fm.horizontalAdvance(text) + 14, fm.height() + 6
        x = 8 if left else self.width() - w - 8
        rect = QRectF(x, 8, w, h)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 150))
        p.drawRoundedRect(rect, 4, 4)
        p.setPen(QColor(255, 255, 255))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
