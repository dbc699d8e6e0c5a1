"""Built-in, offline data sets: the protocol plugins implement, and materialising them on disk.

A built-in data set is generated (or read from data shipped inside an installed package),
never downloaded. It is written in one of the on-disk formats of :mod:`gantrans.data.formats`
so users get real folders they can look at, copy and replace with their own images.

:func:`materialise` writes a set once under ``$GANTRANS_DATA_DIR`` (default
``~/.cache/gantrans/datasets``) into a temporary folder renamed into place, so an interrupted
write never leaves a half data set that looks complete. The helpers at the bottom write
image pairs in each two-domain form, for plugin authors.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from gantrans.data.formats import METADATA_FILE
from gantrans.errors import ConfigError, DataError, DiskFullError
from gantrans.fileio import is_disk_full, temp_dir_for

TWO_DOMAIN_FORMS = ("unpaired", "aligned", "paired")


@runtime_checkable
class BuiltinDataset(Protocol):
    """What ``register_builtin_datasets`` expects."""

    name: str
    description: str
    forms: tuple[str, ...]
    """Names of the data formats :meth:`make` can write, preferred first."""
    size: str
    """Human description of the contents, e.g. ``"184 scenes, 64x64 px"``."""

    def make(self, out_dir: Path, form: str, seed: int = 0) -> Path:
        """Write the set in ``form`` into ``out_dir`` (created if needed) and return its root."""
        ...


def data_dir() -> Path:
    """Where built-in sets are materialised: ``$GANTRANS_DATA_DIR``, else ``~/.cache/gantrans/datasets``
    (``$XDG_CACHE_HOME/gantrans/datasets`` when that is set)."""
    env = os.environ.get("GANTRANS_DATA_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(cache).expanduser() if cache else Path.home() / ".cache") / "gantrans" / "datasets"


def get_builtin(name: str) -> BuiltinDataset:
    from gantrans.plugins import get_registries

    return get_registries().builtin_datasets.get(name).obj


def choose_form(dataset: BuiltinDataset, accepted_kinds: Iterable[str] | None = None,
                data_format: str | None = None) -> str:
    """The form to write: ``data_format`` if given, else the first form whose kind is accepted."""
    from gantrans.plugins import get_registries

    formats = get_registries().data_formats
    if data_format is not None:
        if data_format not in dataset.forms:
            raise ConfigError(f"built-in data set '{dataset.name}' comes as {', '.join(dataset.forms)}, "
                              f"not '{data_format}'")
        return data_format
    accepted = list(accepted_kinds) if accepted_kinds is not None else None
    for form in dataset.forms:
        kind = formats.get(form).obj.kind if form in formats else None
        if accepted is None or kind in accepted:
            return form
    kinds = [formats.get(f).obj.kind if f in formats else "?" for f in dataset.forms]
    raise DataError(f"built-in data set '{dataset.name}' holds {'/'.join(dict.fromkeys(kinds))} data, "
                    f"but {' or '.join(accepted or [])} data is needed")


def materialise(name: str, *, accepted_kinds: Iterable[str] | None = None, data_format: str | None = None,
                root: Path | None = None) -> Path:
    """The folder of built-in set ``name`` in a suitable form, written on first use."""
    dataset = get_builtin(name)
    form = choose_form(dataset, accepted_kinds, data_format)
    base = Path(root) if root is not None else data_dir()
    version = getattr(dataset, "version", 1)
    final = base / f"{dataset.name}-{form}-v{version}"
    if (final / METADATA_FILE).is_file():
        return final
    if final.exists():
        raise DataError(f"{final}: exists but is not a complete gantrans data set; remove it and retry")
    try:
        tmp = temp_dir_for(final)
    except OSError as exc:
        raise DataError(f"{base}: cannot create the data folder ({exc}); set GANTRANS_DATA_DIR") from None
    try:
        dataset.make(tmp, form, 0)
        if not (tmp / METADATA_FILE).is_file():  # the completeness marker
            write_metadata(tmp, name=dataset.name, form=form, seed=0)
        os.rename(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if (final / METADATA_FILE).is_file():  # another process finished first
            return final
        if is_disk_full(exc):
            raise DiskFullError(final, "set GANTRANS_DATA_DIR to a folder on a disk with room") from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# -- helpers for writing sets ---------------------------------------------------------------------

def save_png(array: np.ndarray, path: Path) -> None:
    """Write a uint8 H x W (x C) array as PNG (inside a temporary folder, so no atomic dance)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path, format="PNG", compress_level=6)


def write_pairs(out_dir: Path, form: str, split: str, pairs: Iterable[tuple[str, np.ndarray, np.ndarray]]) -> int:
    """Write ``(stem, A, B)`` images of one split in a two-domain form; returns the count.

    ``unpaired``: ``{split}A/stem.png`` and ``{split}B/stem.png``; ``paired``:
    ``A/{split}/stem.png`` and ``B/{split}/stem.png``; ``aligned``: ``{split}/stem.png`` with A
    and B side by side. For a truly unpaired training split, pass A and B of different scenes.
    """
    out_dir = Path(out_dir)
    n = 0
    for stem, a, b in pairs:
        if form == "unpaired":
            save_png(a, out_dir / f"{split}A" / f"{stem}.png")
            save_png(b, out_dir / f"{split}B" / f"{stem}.png")
        elif form == "paired":
            save_png(a, out_dir / "A" / split / f"{stem}.png")
            save_png(b, out_dir / "B" / split / f"{stem}.png")
        elif form == "aligned":
            save_png(np.concatenate([a, b], axis=1), out_dir / split / f"{stem}.png")
        else:
            raise ConfigError(f"'{form}' is not a two-domain form ({', '.join(TWO_DOMAIN_FORMS)})")
        n += 1
    return n


def write_metadata(out_dir: Path, **fields: Any) -> None:
    """Write ``gantrans-data.json`` (domain names, description, generator and seed)."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / METADATA_FILE).write_text(json.dumps(fields, indent=2) + "\n", encoding="utf-8")
