"""The one QSettings wrapper: every remembered choice of the GUI, typed, with its default.

Organisation and application are both "gantrans"; the INI format is used on every platform so
a user (and the tests, through ``QSettings.setPath``) finds one readable file. Views read and
write through :class:`Settings` and never name QSettings keys themselves.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QByteArray, QObject, QSettings, Signal

ORGANISATION = "gantrans"
APPLICATION = "gantrans"
MAX_RECENT = 10

PROVIDER_AUTO = "auto"
TILING_CHOICES = ("auto", "off", "256", "512", "1024")
THEMES = ("system", "light", "dark")
PIXEL_LIMIT_ENV = "GANTRANS_MAX_PIXELS"  # what gantrans.images reads, in this process and its children
_LAUNCH_PIXEL_LIMIT = os.environ.get(PIXEL_LIMIT_ENV)  # what the app was started with, kept for "default"


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


class Settings(QObject):
    """Typed access to the GUI's QSettings; ``changed(key)`` fires after every write."""

    changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._qs = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)

    # -- generic -----------------------------------------------------------------------------
    def value(self, key: str, default: Any = None) -> Any:
        return self._qs.value(key, default)

    def set_value(self, key: str, value: Any) -> None:
        self._qs.setValue(key, value)
        self._qs.sync()
        self.changed.emit(key)

    def _str(self, key: str, default: str, choices: tuple[str, ...] | None = None) -> str:
        v = str(self._qs.value(key, default) or default)
        return v if choices is None or v in choices else default

    def _int(self, key: str, default: int) -> int:
        try:
            return int(self._qs.value(key, default))
        except (TypeError, ValueError):
            return default

    def file_name(self) -> str:
        return self._qs.fileName()

    # -- inference ---------------------------------------------------------------------------
    @property
    def provider(self) -> str:
        """``auto`` (CUDA when present, then CPU) or an ONNX Runtime provider name."""
        return self._str("inference/provider", PROVIDER_AUTO)

    @provider.setter
    def provider(self, value: str) -> None:
        self.set_value("inference/provider", value or PROVIDER_AUTO)

    def providers(self) -> list[str] | None:
        """What to pass to ``gantrans.inference`` (None: its own default order)."""
        p = self.provider
        return None if p == PROVIDER_AUTO else [p]

    @property
    def threads(self) -> int:
        """ONNX Runtime intra-op threads; 0 means one per core."""
        return max(0, self._int("inference/threads", 0))

    @threads.setter
    def threads(self, value: int) -> None:
        self.set_value("inference/threads", max(0, int(value)))

    @property
    def tiling(self) -> str:
        return self._str("inference/tiling", "auto", TILING_CHOICES)

    @tiling.setter
    def tiling(self, value: str) -> None:
        self.set_value("inference/tiling", value if value in TILING_CHOICES else "auto")

    @property
    def max_megapixels(self) -> int:
        """The largest image opened, in millions of pixels; 0 keeps gantrans's default."""
        return max(0, self._int("inference/max_megapixels", 0))

    @max_megapixels.setter
    def max_megapixels(self, value: int) -> None:
        self.set_value("inference/max_megapixels", max(0, int(value)))
        self.apply_pixel_limit()

    def apply_pixel_limit(self) -> None:
        """Put the limit where gantrans.images reads it (the environment: the CLI's children too)."""
        mp = self.max_megapixels
        if mp:
            os.environ[PIXEL_LIMIT_ENV] = str(mp * 1_000_000)
        elif _LAUNCH_PIXEL_LIMIT is not None:
            os.environ[PIXEL_LIMIT_ENV] = _LAUNCH_PIXEL_LIMIT
        else:
            os.environ.pop(PIXEL_LIMIT_ENV, None)

    # -- appearance --------------------------------------------------------------------------
    @property
    def theme(self) -> str:
        return self._str("appearance/theme", "system", THEMES)

    @theme.setter
    def theme(self, value: str) -> None:
        self.set_value("appearance/theme", value if value in THEMES else "system")

    # -- library -----------------------------------------------------------------------------
    @property
    def library_folders(self) -> list[str]:
        return _as_list(self._qs.value("library/folders", []))

    @library_folders.setter
    def library_folders(self, folders: list[str]) -> None:
        self.set_value("library/folders", [str(f) for f in folders])

    @property
    def library_models(self) -> list[str]:
        return _as_list(self._qs.value("library/models", []))

    @library_models.setter
    def library_models(self, models: list[str]) -> None:
        self.set_value("library/models", [str(m) for m in models])

    # -- files -------------------------------------------------------------------------------
    @property
    def recent_files(self) -> list[str]:
        return _as_list(self._qs.value("files/recent", []))

    def add_recent_file(self, path: str) -> None:
        items = [p for p in self.recent_files if p != path]
        self.set_value("files/recent", [path, *items][:MAX_RECENT])

    def remove_recent_file(self, path: str) -> None:
        self.set_value("files/recent", [p for p in self.recent_files if p != path])

    def clear_recent_files(self) -> None:
        self.set_value("files/recent", [])

    def last_dir(self, kind: str) -> str:
        return str(self._qs.value(f"files/last_dir_{kind}", "") or "")

    def set_last_dir(self, kind: str, folder: str) -> None:
        self.set_value(f"files/last_dir_{kind}", folder)

    # -- window ------------------------------------------------------------------------------
    @property
    def last_view(self) -> str:
        return self._str("window/view", "")

    @last_view.setter
    def last_view(self, key: str) -> None:
        self.set_value("window/view", key)

    def geometry(self) -> QByteArray | None:
        g = self._qs.value("window/geometry")
        return g if isinstance(g, QByteArray) else None

    def set_geometry(self, data: QByteArray) -> None:
        self.set_value("window/geometry", data)
