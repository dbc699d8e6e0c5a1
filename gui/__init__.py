"""gantrans desktop GUI (import name ``gantrans_gui``).

Imports PySide6, gantrans.inference and gantrans.runs only — never torch. Importing the package
itself is free (no Qt), because the plugin manager imports it to find the ``gantrans gui``
command; ``MainWindow`` is imported on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MainWindow", "main"]


def __getattr__(name: str) -> Any:
    if name == "MainWindow":
        from gantrans_gui.main_window import MainWindow

        return MainWindow
    if name == "main":
        from gantrans_gui.app import main

        return main
    raise AttributeError(f"module 'gantrans_gui' has no attribute '{name}'")
