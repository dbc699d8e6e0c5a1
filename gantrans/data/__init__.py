"""Data for training: safe image loading, data set formats, joint transforms, built-in sets.

The trainer calls :func:`open_dataset`; plugins implement :class:`gantrans.data.formats.DataFormat`
and :class:`gantrans.data.builtin.BuiltinDataset`. Importing this package does not import
torch (the plugin loader and the inference engine import it); :func:`open_dataset` does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gantrans.errors import ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover
    from gantrans.data.datasets import GanDataset

__all__ = ["open_dataset", "detect_format", "find_formats", "build_dataset"]


def find_formats(root: str | os.PathLike[str]) -> list[Any]:
    """Every registered format whose ``detect`` accepts ``root``, in registration order.

    ``detect`` is plugin code: one that raises is skipped with a warning naming its plugin, so a
    bug in one data format never stops training on a folder that another format reads.
    """
    import warnings

    from gantrans.data.formats import DataWarning
    from gantrans.plugins import get_registries
    from gantrans.plugins.guard import REPORT, one_line

    root = Path(root)
    found = []
    for entry in get_registries().data_formats:
        try:
            if entry.obj.detect(root):
                found.append(entry.obj)
        except OSError:  # the folder could not be read: not this format's fault
            continue
        except Exception as exc:  # noqa: BLE001 - whatever plugin code raises
            warnings.warn(f"{describe_format(entry.name)}: detect() failed on {root} ({one_line(exc)}); the "
                          f"format was skipped; {REPORT}", DataWarning, stacklevel=2)
    return found


def detect_format(root: str | os.PathLike[str], accepted_kinds: Sequence[str] | None = None,
                  data_format: str | None = None) -> Any:
    """The format to read ``root`` with: the named one, or the first detected of an accepted kind."""
    from gantrans.plugins import get_registries

    root = Path(root)
    accepted = list(accepted_kinds) if accepted_kinds else None
    needs = " or ".join(accepted or [])
    if data_format is not None:
        fmt = get_registries().data_formats.get(data_format).obj
        if accepted is not None and fmt.kind not in accepted:
            raise DataError(f"{root}: format '{data_format}' holds {fmt.kind} data, but {needs} data is needed")
        return fmt
    found = find_formats(root)
    for fmt in found:
        if accepted is None or fmt.kind in accepted:
            return fmt
    raise DataError(wrong_layout(root, found, accepted))


def wrong_layout(root: Path, found: list[Any], accepted: list[str] | None) -> str:
    """What the folder looks like, which layouts are accepted, and their trees."""
    from gantrans.data.formats import LAYOUT_TREES, layout_help, subfolders

    kinds = accepted or list(LAYOUT_TREES)
    wanted = " or ".join(LAYOUT_TREES.get(k, (k,))[0] for k in kinds)
    if found:
        what = ", ".join(f"{f.kind} data ('{f.name}' layout)" for f in found)
        head = f"{root}: {wanted} data is needed, but this folder looks like {what}"
    else:
        head = f"{root}: no images in a layout gantrans recognises; {wanted} data is needed"
    folders = [p.name for p in subfolders(root)]
    hint = ""
    if "unpaired" in kinds and any(f.kind == "labelled" for f in found):
        two = [p for p in folders if p not in ("train", "test", "val")]
        if len(two) == 2:
            hint = (f"\n  to use {two[0]}/ and {two[1]}/ as the two domains, rename them trainA/ and trainB/")
    if not found:
        hint += _one_class_hint(root)
    if "labelled" in kinds:
        hint += _loose_images_hint(root)
    return f"{head}{hint}\nexpected layout:\n{layout_help(kinds)}{_plugin_layouts(kinds)}"


def _plugin_layouts(kinds: list[str]) -> str:
    """The installed plugins' formats of these kinds, which the built-in trees do not show."""
    from gantrans.plugins import get_registries

    lines = [f"  {e.name} ({e.origin.describe()}): {getattr(e.obj, 'description', '') or e.obj.kind}"
             for e in get_registries().data_formats if not e.origin.builtin and e.obj.kind in kinds]
    return "\nor a plugin's layout (--data-format NAME):\n" + "\n".join(lines) if lines else ""


def _one_class_hint(root: Path) -> str:
    """A folder of class folders with only one of them looks like nothing: say what it is."""
    from gantrans.data.formats import iter_images, subfolders

    for base in (root / "train", root):
        classes = subfolders(base) if base.is_dir() else []
        if len(classes) == 1 and next(iter_images(classes[0]), None) is not None \
                and next(iter_images(base, recursive=False), None) is None:
            return (f"\n  {base} has one class folder ({classes[0].name}/): class-labelled data needs 2 or "
                    f"more; for unlabelled (vanilla) data put the images in {base}/ itself")
    return ""


def _loose_images_hint(root: Path) -> str:
    """Class folders with images beside them are not read as classes (the images would belong to
    none): name the images, the usual cause being one stray file."""
    from gantrans.data.formats import LabelledFormat, iter_images

    for base in (root / "train", root):
        loose = list(iter_images(base, recursive=False)) if base.is_dir() else []
        classes = LabelledFormat._class_dirs(base) if loose else []
        if len(classes) >= 2:
            more = f" and {len(loose) - 1} more" if len(loose) > 1 else ""
            return (f"\n  {base} has class folders ({', '.join(d.name + '/' for d in classes[:4])}"
                    f"{' ...' if len(classes) > 4 else ''}) and images outside them ({loose[0].name}{more}), "
                    f"which belong to no class: move them into a class folder or remove them")
    return ""


def open_dataset(data: str | os.PathLike[str], *, accepted_kinds: Sequence[str], data_format: str | None = None,
                 split: str = "train", load_size: int = 286, crop_size: int = 256,
                 preprocess: str = "resize_and_crop", flip: bool = True, train: bool = True,
                 channels: int | None = None, serial: bool = False, seed: int = 0, size_multiple: int = 1,
                 max_items: int | None = None, min_items: int = 1,
                 on_skip: Callable[[str], None] | None = None) -> GanDataset:
    """Open a folder, or a built-in data set by name, as a torch data set of an accepted kind.

    ``data`` that is not an existing path but names a registered built-in set is written once
    under ``$GANTRANS_DATA_DIR`` and reused. Items are dicts (see :mod:`gantrans.data.datasets`)
    that depend only on ``(seed, epoch, index)``. Unusable files are told to ``on_skip``
    (``"skipping FILE: why"``, e.g. a :class:`gantrans.data.formats.SkipReport`), or else
    raised as :class:`gantrans.data.formats.DataWarning`.
    """
    from gantrans.data.builtin import materialise
    from gantrans.data.transforms import build_transform
    from gantrans.plugins import get_registries

    channels = 3 if channels is None else int(channels)
    if channels not in (1, 3, 4):
        raise ConfigError(f"channels must be 1, 3 or 4, not {channels}")
    root = Path(data).expanduser()
    if not root.exists():
        builtins = get_registries().builtin_datasets
        if str(data) in builtins:
            root = materialise(str(data), accepted_kinds=accepted_kinds, data_format=data_format)
        else:
            names = ", ".join(builtins.names()) or "none"
            raise DataError(f"{data}: no such folder, and no built-in data set of that name (built-ins: {names})")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; give a data set folder or a built-in data set name")
    fmt = detect_format(root, accepted_kinds, data_format)
    transform_args = dict(channels=channels, preprocess=preprocess, load_size=load_size, crop_size=crop_size,
                          flip=flip, train=train, size_multiple=size_multiple)
    transform = build_transform(**transform_args)
    opts: dict[str, Any] = {"on_skip": on_skip} if on_skip is not None else {}
    dataset = build_dataset(fmt, root, split, transform, channels=channels, size=crop_size, seed=seed,
                            serial=serial, max_items=max_items, min_items=min_items, **opts)
    if on_skip is not None:
        dataset.on_skip = on_skip
    if getattr(dataset, "transform_args", False) is None:
        dataset.transform_args = transform_args
    return dataset


def build_dataset(fmt: Any, root: Path, split: str, transform: Any, **opts: Any) -> GanDataset:
    """``fmt.build(root, split, transform, **opts)``, checked: a format is plugin code.

    What it raises (other than gantrans's own errors) and what it returns when that is no
    :class:`gantrans.data.datasets.GanDataset` become one line naming the format and its plugin,
    instead of an "internal error" in the trainer naming neither.
    """
    from gantrans.data.datasets import GanDataset
    from gantrans.plugins.guard import REPORT, call_plugin

    who = describe_format(fmt.name)
    return call_plugin(lambda: fmt.build(root, split, transform, **opts), error=DataError,
                       failed=f"{root}: {who} could not open split '{split}'", advice=REPORT, returns=GanDataset,
                       wrong=lambda made: f"{root}: {who} returned {type(made).__name__}, not a "
                                          f"gantrans.data.datasets.GanDataset (docs/plugins.md, 'Writing a data "
                                          f"format'); {REPORT}")


def describe_format(name: str) -> str:
    """``data format 'NAME' (plugin 'P' (dist V))``, the plugin left out for an unregistered name."""
    from gantrans.plugins import get_registries

    formats = get_registries().data_formats
    return f"data format '{name}'" + (f" ({formats.get(name).origin.describe()})" if name in formats else "")
