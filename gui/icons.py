"""Icons from qtawesome (Material Design Icons), tinted with the palette's text colour."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QIcon, QPalette
from PySide6.QtWidgets import QApplication


@lru_cache(maxsize=128)
def icon(name: str) -> QIcon:
    """A qtawesome icon; an empty icon when the name is unknown (never an exception in a toolbar)."""
    try:
        import qtawesome as qta

        pal = QApplication.palette()
        return qta.icon(name, color=pal.color(QPalette.ColorRole.WindowText),
                        color_disabled=pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText))
    except Exception:  # noqa: BLE001 - a missing glyph must not break a view
        return QIcon()
