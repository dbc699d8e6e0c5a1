"""A stand-in main window for driving the part-2 views alone (contract D's surface)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMainWindow


class StubLibrary(QObject):
    changed = Signal()

    def __init__(self):
        super().__init__()
        self.paths: list[Path] = []

    def models(self) -> list[Path]:
        return list(self.paths)

    def add_model(self, path) -> None:
        self.paths.append(Path(path))
        self.changed.emit()

    def add_folder(self, path) -> None:
        for p in sorted(Path(path).rglob("*.onnx")):
            self.add_model(p)

    def rescan(self) -> None:
        self.changed.emit()


class StubWindow(QMainWindow):
    def __init__(self):
        super().__init__()
        self.library = StubLibrary()
        self.errors: list[tuple[str, str]] = []

    def show_error(self, message: str, details: str = "") -> None:
        self.errors.append((message, details))

    def add_model(self, path) -> None:
        self.library.add_model(path)


def isolate_settings(monkeypatch, tmp_path) -> Path:
    """Point the part-2 views' settings at a file of the test's own (never the user's)."""
    from PySide6.QtCore import QSettings

    from gantrans_gui import view_support

    file = Path(tmp_path) / "settings.ini"
    monkeypatch.setattr(view_support, "settings", lambda: QSettings(str(file), QSettings.Format.IniFormat))
    return file
