"""What the part-2 views need from the main window (contract D), in one place.

The views take ``(window)`` only; everything they ask of it goes through these functions, so
the window's API is spelt once on this side.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox, QWidget


def settings() -> QSettings:
    """The application's settings file (the one :mod:`gantrans_gui.settings` uses: INI, user scope)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "gantrans", "gantrans")


def get_list(key: str) -> list[str]:
    raw = settings().value(key, "[]")
    try:
        value = json.loads(raw) if isinstance(raw, str) else list(raw or [])
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def set_list(key: str, values: list[str]) -> None:
    s = settings()
    s.setValue(key, json.dumps(list(values)))
    s.sync()


def show_error(window: Any, message: str, details: str = "") -> None:
    """The window's one error dialog (a plain message box for a window without one)."""
    if hasattr(window, "show_error"):
        window.show_error(message, details)
        return
    parent = window if isinstance(window, QWidget) else None
    box = QMessageBox(QMessageBox.Icon.Warning, "gantrans", message, parent=parent)
    if details:
        box.setDetailedText(details)
    box.open()


def library(window: Any) -> Any | None:
    return getattr(window, "library", None)


def add_to_library(window: Any, path: str | Path) -> None:
    """Put a freshly written model in the library at once (not on the next folder scan).

    Through the main window, which reads the one header and leaves folder scans to a worker.
    """
    window.add_model(Path(path))


def library_models(window: Any) -> list[tuple[Path, str | None]]:
    """(path, task or None if unknown) of each model the library knows."""
    lib = library(window)
    if lib is None:
        return []
    for attr in ("entries", "models", "items"):
        got = getattr(lib, attr, None)
        if got is None:
            continue
        items = got() if callable(got) else got
        out: list[tuple[Path, str | None]] = []
        for it in items or []:
            p = it if isinstance(it, (str, Path)) else getattr(it, "path", None)
            if p is None or not getattr(it, "valid", True):
                continue
            task = getattr(it, "task", None)
            for holder in ("contract", "metadata"):
                task = task or getattr(getattr(it, holder, None), "task", None)
            out.append((Path(p), task if isinstance(task, str) else None))
        return out
    return []


def model_labels(window: Any, paths: list[Path]) -> dict[Path, str]:
    """Names for ``paths`` that tell them apart, as the Models view shows them where the library
    knows the file (run, head, epoch), else the file name with its folder where names repeat."""
    from gantrans_gui.model_library import ModelEntry, unique_labels

    got = getattr(library(window), "entries", None)
    entries = [e for e in ((got() if callable(got) else got) or []) if isinstance(e, ModelEntry)]
    known = {e.path: e for e in entries}
    labels = {p: p.name for p in paths}
    labels.update(unique_labels(known[p] for p in paths if p in known))
    counts = Counter(labels.values())
    return {p: f"{label} — {p.parent.name}/" if counts[label] > 1 else label for p, label in labels.items()}


def library_changed(window: Any):
    """The library's ``changed`` signal, or None."""
    lib = library(window)
    return getattr(lib, "changed", None) if lib is not None else None


def on_library_changed(window: Any, widget: QWidget, slot) -> None:
    """Call ``slot`` when the library changes, for as long as ``widget`` lives.

    The library's ``changed`` may be a plain callback list (not a Qt signal), which would keep
    calling a deleted widget; the wrapper unhooks itself once the widget is gone.
    """
    changed = library_changed(window)
    if changed is None:
        return
    import shiboken6

    def relay(*_args) -> None:
        if shiboken6.isValid(widget):
            slot()
        else:
            try:
                changed.disconnect(relay)
            except (RuntimeError, TypeError, ValueError):
                pass

    changed.connect(relay)
