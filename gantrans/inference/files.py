"""Which files to translate and where each result goes.

Inputs are files, folders (their images; ``recursive`` descends) and globs. Results mirror
each folder's tree under the output folder; a file named directly lands at the top. Every
conflict is refused before anything runs: an output equal to an input, two inputs with one
output. An output that already exists is a per-file failure unless ``overwrite``.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gantrans.errors import ConfigError
from gantrans.images import is_image_file

OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "webp": ".webp"}
KEEP_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
DEFAULT_OUTDIR = "translated"
#: The command line's words for "go into sub-folders"; a front end says it its own way.
RECURSE_HINT = "pass -r to translate them too"


@dataclass(frozen=True)
class FileJob:
    src: Path
    dst: Path


def _has_magic(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _walk(folder: Path, recursive: bool, skip: Path | None, notes: list[str]) -> list[Path]:
    found: list[Path] = []
    if recursive:
        for root, dirs, files in os.walk(folder):
            rootp = Path(root)
            linked = sorted(d for d in dirs if (rootp / d).is_symlink())
            if linked:  # os.walk does not follow them: a loop of links would never end
                notes.append(f"{rootp}: not entered: linked folder(s) {', '.join(d + '/' for d in linked)}; "
                             f"give the folder they point to as an input of its own")
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in linked
                             and (skip is None or (rootp / d).resolve() != skip))
            found.extend(rootp / f for f in sorted(files) if is_image_file(f))
    else:
        entries = sorted(folder.iterdir())
        found = [p for p in entries if not p.is_dir() and is_image_file(p)]  # files, and links to nothing
        below = [p for p in entries if p.is_dir() and not p.name.startswith(".")
                 and (skip is None or p.resolve() != skip)]
        if below:
            notes.append(f"{folder}: {len(below)} sub-folder(s) not entered ({', '.join(p.name + '/' for p in below[:3])}"
                         f"{', ...' if len(below) > 3 else ''}); {RECURSE_HINT}")
    broken = [p for p in found if p.is_symlink() and not p.exists()]
    for p in broken:
        notes.append(f"{p}: skipped, a broken symbolic link (to {os.readlink(p)})")
    return [p for p in found if p not in broken]


def collect_inputs(inputs: Sequence[str | os.PathLike], recursive: bool = False,
                   skip: str | os.PathLike | None = None,
                   notes: list[str] | None = None) -> list[tuple[Path, Path]]:
    """``(file, relative output path)`` for every input image, in a stable order, no duplicates.

    ``skip`` is a folder never descended into (the output folder, when it lies inside an input).
    A file reached twice (a symbolic link to it, or to a folder above it) is translated once,
    under the path that goes through no link. What is left out (broken links, folders not
    entered, such second paths) is added to ``notes`` as one line each, for the caller to say.
    """
    notes = notes if notes is not None else []
    skip_p = Path(skip).resolve() if skip is not None else None
    out: list[tuple[Path, Path]] = []
    seen: dict[Path, int] = {}
    twice: dict[Path, Path] = {}  # resolved file -> the path left out

    def direct(file: Path) -> bool:  # reached through no symbolic link, of the file or a folder
        return os.path.realpath(file) == os.path.abspath(file)

    def add(file: Path, rel: Path) -> None:
        key = file.resolve()
        if key not in seen:
            seen[key] = len(out)
            out.append((file, rel))
            return
        kept = out[seen[key]][0]
        if kept == file:
            return
        if not direct(kept) and direct(file):
            out[seen[key]] = (file, rel)
            twice[key] = kept
        else:
            twice[key] = file

    for item in inputs:
        text = os.fspath(item)
        p = Path(text)
        if p.is_dir():
            for f in _walk(p, recursive, skip_p, notes):
                add(f, f.relative_to(p))
        elif p.is_file():
            add(p, Path(p.name))
        elif _has_magic(text):
            parts = Path(text).parts
            base_parts = []
            for part in parts:
                if _has_magic(part):
                    break
                base_parts.append(part)
            base = Path(*base_parts) if base_parts else Path(".")
            matches = sorted(glob.glob(text, recursive=recursive))
            if not matches:
                raise ConfigError(f"{text}: the pattern matches no file")
            for m in matches:
                mp = Path(m)
                if mp.is_file() and is_image_file(mp):
                    add(mp, mp.relative_to(base) if mp.is_relative_to(base) else Path(mp.name))
        else:
            raise ConfigError(f"{text}: no such file or folder")
    for key, left in twice.items():
        notes.append(f"{left}: the same file as {out[seen[key]][0]}; translated once, under that name")
    return out


def output_extension(src: Path, fmt: str | None) -> str:
    if fmt:
        try:
            return OUTPUT_FORMATS[fmt.lower().lstrip(".")]
        except KeyError:
            raise ConfigError(f"--format must be one of png, jpg, webp, not '{fmt}'") from None
    ext = src.suffix.lower()
    return ext if ext in KEEP_EXTENSIONS else ".png"


def check_suffix(suffix: str) -> str:
    """``--suffix`` is part of a file name: a folder or ``..`` in it would write outside ``-o``."""
    seps = {"/", os.sep, os.altsep or "/"}
    if any(sep in suffix for sep in seps) or suffix in (".", ".."):
        raise ConfigError(f"--suffix {suffix!r}: a suffix is added to each file name and may not hold "
                          f"'/' or '..'; choose the folder with -o")
    return suffix


def output_path(src: Path, rel: Path, outdir: Path, suffix: str = "", fmt: str | None = None) -> Path:
    """Where ``src`` (``rel`` under its input folder) is written: same sub-folder, name + suffix."""
    return outdir / rel.parent / f"{rel.stem}{check_suffix(suffix)}{output_extension(src, fmt)}"


def without_own_outputs(items: Sequence[tuple[Path, Path]], outdir: str | os.PathLike, suffix: str = "",
                        fmt: str | None = None) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """``items`` less the files that are another item's output (an earlier run of the same command
    into its input folder with ``--suffix``): they are results, not images to translate again."""
    output_of = {output_path(src, rel, Path(outdir), suffix, fmt).resolve(): src.resolve() for src, rel in items}
    kept, dropped = [], []
    for src, rel in items:
        key = src.resolve()
        (dropped if output_of.get(key, key) != key else kept).append((src, rel))  # its own output: plan_jobs refuses
    return kept, [src for src, _ in dropped]


def plan_jobs(items: Sequence[tuple[Path, Path]], outdir: str | os.PathLike, suffix: str = "",
              fmt: str | None = None) -> list[FileJob]:
    """Output paths for collected inputs; refuses any plan that could overwrite an input."""
    outdir = Path(outdir)
    jobs: list[FileJob] = []
    inputs = {src.resolve(): src for src, _ in items}
    taken: dict[Path, Path] = {}
    for src, rel in items:
        dst = output_path(src, rel, outdir, suffix, fmt)
        key = dst.resolve()
        if key in inputs:
            raise ConfigError(f"{dst}: the output would overwrite the input {inputs[key]}; "
                              f"choose another -o folder or a --suffix")
        if dst.is_dir():
            raise ConfigError(f"{dst}: a folder stands where the output image of {src} would go; rename it, or "
                              f"choose another output folder")
        if key in taken:
            raise ConfigError(f"{taken[key]} and {src} would both be written to {dst}; "
                              f"rename one of them, or translate them in separate runs into different -o folders")
        taken[key] = src
        jobs.append(FileJob(src, dst))
    return jobs


def default_outdir(inputs: Sequence[str | os.PathLike]) -> Path:
    """``translated/`` in the current folder, unless that is one of the input folders."""
    out = Path(DEFAULT_OUTDIR)
    for item in inputs:
        p = Path(item)
        if p.is_dir() and p.resolve() == out.resolve():
            raise ConfigError(f"{p}: the default output folder '{DEFAULT_OUTDIR}/' is this input folder; "
                              f"pass -o OUTDIR")
    return out
