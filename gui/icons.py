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


ICON_PROPERTY = "gantrans_icon"


def set_icon(target, name: str) -> None:
    """Give a button or action an icon that follows theme changes (see :func:`refresh_icons`)."""
    target.setProperty(ICON_PROPERTY, name)
    target.setIcon(icon(name))


def refresh_icons() -> None:
    """Re-tint every icon set through :func:`set_icon` (after the palette changed)."""
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QAbstractButton

    icon.cache_clear()
    for top in QApplication.topLevelWidgets():
        for obj in [top, *top.findChildren(QAbstractButton), *top.findChildren(QAction)]:
            name = obj.property(ICON_PROPERTY)
            if name:
                obj.setIcon(icon(name))
