"""A full disk on demand: writes to chosen files fail with ENOSPC part-way, as on a real disk."""

from __future__ import annotations

import builtins
import errno
import os
from typing import Any


class _Filling:
    """A real file whose writes stop with ENOSPC once ``room`` bytes have gone in."""

    def __init__(self, fh: Any, room: int):
        self._fh, self._room = fh, room

    def write(self, data: Any) -> int:
        if len(data) > self._room:
            self._fh.write(data[: self._room])
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _Filling:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._fh.close()


def full_disk_open(match: str, room: int = 1000, after: int = 0):
    """An ``open`` for monkeypatching: writing a file whose name contains ``match`` fills the
    disk after ``room`` bytes, from the ``after``-th such file on (0: the first)."""
    seen = [0]

    def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = builtins.open(file, mode, *args, **kwargs)
        if match in os.fspath(file) and any(c in mode for c in "wax"):
            seen[0] += 1
            if seen[0] > after:
                return _Filling(fh, room)
        return fh

    return fake_open
