"""Atomic writes: all-or-nothing, normal permissions, no clobbering when asked."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

from gantrans.errors import ConfigError
from gantrans.fileio import atomic_write


def test_published_file_has_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.bin") as fh:
            fh.write(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o644


def test_failure_inside_the_block_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as fh:
        fh.write("new, half written")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_no_clobber_refuses_an_existing_target(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("mine")
    with pytest.raises(FileExistsError), atomic_write(target, "w", overwrite=False) as fh:
        fh.write("theirs")
    assert target.read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    with atomic_write(target, "w") as fh:
        fh.write("replaced")
    assert target.read_text() == "replaced"


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM, errno.EROFS])
def test_a_folder_that_cannot_be_written_is_named_not_its_temporary_file(tmp_path, monkeypatch, code):
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if str(path).endswith(".tmp"):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(ConfigError) as info:
        with atomic_write(tmp_path / "out" / "model.onnx") as fh:
            fh.write(b"x")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'out'}: cannot write here (") and message.endswith("choose another folder")
    assert ".tmp" not in message and not list((tmp_path / "out").iterdir())


def test_a_missing_folder_under_one_that_cannot_be_written_names_the_one_that_exists(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(tmp_path))}: cannot write here \(permission denied\)"):
        with atomic_write(tmp_path / "a" / "b" / "f.txt", "w") as fh:
            fh.write("x")


def test_a_dead_writers_temporary_files_are_swept_by_the_next_write(tmp_path):
    """A kill -9 mid-save left a hidden temporary file as large as the checkpoint it was writing;
    the next write into that folder removes it, and only it."""
    import subprocess
    import sys

    from gantrans import fileio

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = fileio._HOST
    stale_file = tmp_path / f".latest.pt.{host}-{dead.pid}-0123abcd.tmp"
    stale_file.write_bytes(b"x" * 1000)
    stale_dir = tmp_path / f".shapes.{host}-{dead.pid}-89abcdef.tmp"
    stale_dir.mkdir()
    (stale_dir / "a.png").write_bytes(b"x")
    live = tmp_path / f".other.pt.{host}-{os.getpid()}-0123abcd.tmp"  # a writer still at work
    foreign = tmp_path / f".latest.pt.ffffff-{dead.pid}-0123abcd.tmp"  # another machine's (a shared disk)
    unknown = tmp_path / ".notes.tmp"
    for path in (live, foreign, unknown):
        path.write_bytes(b"y")
    with fileio.atomic_write(tmp_path / "latest.pt") as fh:
        fh.write(b"new")
    assert not stale_file.exists() and not stale_dir.exists()
    assert live.exists() and foreign.exists() and unknown.exists()
    assert (tmp_path / "latest.pt").read_bytes() == b"new"
