"""Atomic file writes for exports: temp file in the target folder, fsync, rename into place."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def temp_path_for(target: Path) -> Path:
    """A fresh, empty temporary file next to ``target`` (same file system, so os.replace is atomic).

    Created with mode 0666 minus the umask (unlike mkstemp's 0600), so the published file has
    the permissions any other file written by the user would have.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{target.parent}: cannot create a temporary file")


def publish(tmp: Path, target: Path) -> Path:
    """fsync a finished temp file and rename it over ``target``."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return target


def discard(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
