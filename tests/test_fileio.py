"""Atomic writes: all-or-nothing, normal permissions, no clobbering when asked."""

from __future__ import annotations

import os

import pytest

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
