"""Atomic file writes: a temporary file in the target folder, fsync, then rename into place.

Every file gantrans publishes (checkpoints, exports, images, configs, sample grids) goes
through here, so a crash at any moment leaves either the old file or the new one, never a torn
one, and published files get the permissions any other file of the user would have (0666
minus the umask, unlike ``mkstemp``'s 0600). Torch-free.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import socket
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from gantrans.errors import ConfigError, DiskFullError

DISK_FULL_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if e is not None)

_UNSAFE = set('/\\:*?"<>|')
MAX_NAME_CHARS = 120


def safe_name(name: object, fallback: str = "model") -> str:
    """``name`` as one harmless file-name component, for names read from files (run, head, class).

    Such names are data, never paths: separators, control characters and characters Windows
    forbids become ``_``, leading dots and spaces go (no ``..``, no hidden files), and the
    result is never empty. Letters of any script, digits, spaces and ``-_.+()[]`` survive.
    """
    text = "".join("_" if (c in _UNSAFE or unicodedata.category(c).startswith("C")) else c for c in str(name))
    text = text.strip().lstrip(". ").rstrip(". ")[:MAX_NAME_CHARS]
    return text or fallback


def inside(folder: str | os.PathLike, name: str) -> Path:
    """``folder / name``, refused (ValueError) unless it lands directly inside ``folder``."""
    folder = Path(folder)
    target = folder / name
    if Path(name).name != name or target.resolve().parent != folder.resolve():
        raise ValueError(f"{name!r} is not a plain file name inside {folder}")
    return target


def not_a_folder(folder: str | os.PathLike) -> Path | None:
    """The file that stands where ``folder`` or one of its parents must be a folder, if any.

    Outputs go into folders created on demand; a file in the way would otherwise fail every
    write with an OS error, one per output, after the work is done.
    """
    for p in (Path(folder), *Path(folder).parents):
        if p.exists():
            return None if p.is_dir() else p
    return None


def check_output_folder(folder: str | os.PathLike, flag: str) -> None:
    """Refuse, in one line and before any work, an output folder that a file stands in the way of."""
    blocker = not_a_folder(folder)
    if blocker is not None:
        where = "" if blocker == Path(folder) else f" (it is in the way of {folder})"
        raise ConfigError(f"{blocker}: is a file, not a folder{where}; choose another {flag}")


def make_output_folder(folder: str | os.PathLike, flag: str) -> Path:
    """Create the output folder (and its parents) and make sure a file can be written in it,
    before any work: one line naming the folder, instead of the same failure once per output.
    """
    check_output_folder(folder, flag)
    folder = Path(folder)
    try:  # makes the folder; one that cannot be written is a ConfigError naming it
        discard(temp_path_for(folder / "probe"))
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot create it ({(exc.strerror or type(exc).__name__).lower()}); "
                          f"choose another {flag}") from None
    return folder


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk or the user's quota is full."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


@contextlib.contextmanager
def reporting_disk_full(target: str | os.PathLike, note: str = "") -> Iterator[None]:
    """Turn a full disk inside the block into one :class:`DiskFullError` naming ``target``."""
    try:
        yield
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(target, note) from None
        raise


#: How the command line says an existing file may be replaced; the GUI words it for its own control.
OVERWRITE_HINT = "pass --overwrite to replace it"

#: errno values that mean "this folder is not ours to write", whoever asks (a read-only mount too).
NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


#: This machine, in the names of temporary files: only its own dead writers' files are swept.
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_TEMP = re.compile(r"^\..+\.([0-9a-f]{6})-(\d+)-[0-9a-f]{8}\.tmp$")


def _temp_name(target: Path) -> str:
    """``.NAME.HOST-PID-RANDOM.tmp``: hidden, unique, and saying who writes it."""
    return f".{target.name}.{_HOST}-{os.getpid()}-{secrets.token_hex(4)}.tmp"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: alive
        return True
    return True


def sweep_dead_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files and folders in ``folder`` whose writer died (a kill -9 or a
    crash mid-write), and return them.

    Why: each such death left a hidden ``.NAME...tmp`` beside its target, as large as what it
    was writing (a 200 MB checkpoint), which nothing else would ever remove. Only names this
    module made on this machine are touched, and only when their process no longer exists.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP.match(entry.name)
        if m is None or m.group(1) != _HOST or _alive(int(m.group(2))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def temp_path_for(target: str | os.PathLike) -> Path:
    """A fresh, empty temporary file next to ``target`` (same file system: os.replace is atomic).

    A folder that cannot be written is a :class:`ConfigError` naming the folder, not the hidden
    temporary file the OS refused.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        sweep_dead_temps(target.parent)
        for _ in range(100):
            tmp = target.parent / _temp_name(target)
            try:
                os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
                return tmp
            except FileExistsError:
                continue
    except OSError as exc:
        problem = not_writable(target.parent, exc)
        if problem:
            raise ConfigError(problem) from None
        raise
    raise FileExistsError(f"{target.parent}: cannot create a temporary file")


def not_writable(path: str | os.PathLike, exc: OSError) -> str | None:
    """The one line for a write under ``path`` the OS refused (permissions, a read-only file
    system), naming the nearest folder that exists; None for any other error."""
    if exc.errno not in NOT_WRITABLE:
        return None
    path = Path(path)
    folder = next((p for p in (path, *path.parents) if p.exists()), path)
    return f"{folder}: cannot write here ({(exc.strerror or 'permission denied').lower()}); choose another folder"


def temp_dir_for(target: str | os.PathLike) -> Path:
    """A fresh, empty folder next to ``target``, to fill and then rename into place.

    Created 0777 minus the umask (``mkdtemp`` would make it 0700): a data set or run written
    through it is as readable as any other folder of the user.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_dead_temps(target.parent)
    for _ in range(100):
        tmp = target.parent / _temp_name(target)
        try:
            tmp.mkdir(mode=0o777)
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{target.parent}: cannot create a temporary folder")


def publish(tmp: str | os.PathLike, target: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """fsync a finished temporary file and move it to ``target``.

    With ``overwrite=False`` an existing ``target`` (even one that appeared while we wrote) is
    never replaced: a hard link publishes only if the name is free, and FileExistsError says so.
    """
    tmp, target = Path(tmp), Path(target)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    if overwrite:
        os.replace(tmp, target)
        return target
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise FileExistsError(f"{target}: already exists") from None
    except OSError:  # file systems without hard links
        if os.path.lexists(target):
            raise FileExistsError(f"{target}: already exists") from None
        os.replace(tmp, target)
        return target
    discard(tmp)
    return target


def discard(path: str | os.PathLike | None) -> None:
    """Remove a temporary file if it is still there."""
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


@contextlib.contextmanager
def atomic_write(target: str | os.PathLike, mode: str = "wb", *, overwrite: bool = True,
                 encoding: str | None = None) -> Iterator[IO]:
    """Write ``target`` through a temporary file; published only if the block succeeds.

    A full disk, here or inside the block, is a :class:`DiskFullError` naming ``target``.
    """
    tmp = None
    try:
        with reporting_disk_full(target):
            tmp = temp_path_for(target)
            with open(tmp, mode, encoding=encoding if "b" not in mode else None) as fh:
                yield fh
                fh.flush()
            publish(tmp, target, overwrite=overwrite)
    finally:
        discard(tmp)
