"""System, light or dark: Qt's own colour scheme, so every widget and the system palette agree."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

_SCHEMES = {"system": Qt.ColorScheme.Unknown, "light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}


def apply_theme(theme: str) -> None:
    app = QApplication.instance()
    if app is None:
        return
    hints = app.styleHints()
    if hasattr(hints, "setColorScheme"):  # Qt 6.8+
        hints.setColorScheme(_SCHEMES.get(theme, Qt.ColorScheme.Unknown))
    try:
        import qtawesome as qta

        qta.reset_cache()
    except Exception:  # noqa: BLE001
        pass
    from gantrans_gui.icons import icon

    icon.cache_clear()
