"""System, light or dark.

Qt's own colour scheme is asked first (Qt 6.8+), so native styles switch properly; where the
platform cannot switch (some Linux desktops, the offscreen platform) an explicit palette is set,
and "system" puts the palette the application started with back.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

_SCHEMES = {"system": Qt.ColorScheme.Unknown, "light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}
_system_palette: QPalette | None = None


def dark_palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2b2b", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f1f1f", QPalette.ColorRole.AlternateBase: "#2b2b2b",
        QPalette.ColorRole.ToolTipBase: "#3a3a3a", QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#353535",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.BrightText: "#ff5555",
        QPalette.ColorRole.Highlight: "#2f7fd1", QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#5aa9ff", QPalette.ColorRole.PlaceholderText: "#8a8a8a",
        QPalette.ColorRole.Light: "#505050", QPalette.ColorRole.Midlight: "#404040",
        QPalette.ColorRole.Mid: "#303030", QPalette.ColorRole.Dark: "#1a1a1a", QPalette.ColorRole.Shadow: "#000000",
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))
    return p


def apply_theme(theme: str) -> None:
    global _system_palette
    app = QApplication.instance()
    if app is None:
        return
    if _system_palette is None:
        _system_palette = QPalette(app.palette())
    hints = app.styleHints()
    wanted = _SCHEMES.get(theme, Qt.ColorScheme.Unknown)
    if hasattr(hints, "setColorScheme"):  # Qt 6.8+
        hints.setColorScheme(wanted)
    honoured = hasattr(hints, "colorScheme") and hints.colorScheme() == wanted
    if theme == "dark" and not honoured:
        app.setPalette(dark_palette())
    elif theme == "light" and not honoured:
        app.setPalette(app.style().standardPalette())
    else:
        app.setPalette(_system_palette)
    from gantrans_gui.icons import refresh_icons

    refresh_icons()  # icons take the new text colour


#: State colours for a light and a dark background (each readable on its own, ~4.5:1 or more).
STATE_COLOURS = {"running": "#2e7d32", "starting": "#2e7d32", "finished": "#1565c0", "interrupted": "#b45309",
                 "failed": "#c62828", "stopped-nonfinite": "#c62828", None: "#616161"}
DARK_STATE_COLOURS = {"running": "#81c784", "starting": "#81c784", "finished": "#64b5f6", "interrupted": "#ffb74d",
                      "failed": "#ef7070", "stopped-nonfinite": "#ef7070", None: "#a0a0a0"}


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def state_colour(state: Any, palette: QPalette) -> str:
    """The colour a run state is written in, readable on ``palette``'s background."""
    colours = DARK_STATE_COLOURS if is_dark(palette) else STATE_COLOURS
    return colours.get(state) or colours[None]
