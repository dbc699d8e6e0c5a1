"""On-disk data set formats: how a folder is laid out, how to recognise it, how to open it.

A format is a small object registered by a plugin (``register_data_formats``); the built-in
ones are registered by the ``datasets`` plugin in the order below, which is also the order
in which :func:`detect_format` tries them:

========== ========= ==========================================================================
name       kind      layout
========== ========= ==========================================================================
unpaired   unpaired  ``trainA/ trainB/`` (``testA/ testB/``): the reference CycleGAN layout
paired     paired    ``A/ B/`` (or ``A/train/ B/train/``) with matching file names
aligned    paired    ``train/ test/`` of side-by-side ``A|B`` images: the reference pix2pix layout
labelled   labelled  ``<class>/`` folders (or ``train/<class>/``), classes in sorted order
folder     single    images in the folder (or in ``train/``)
========== ========= ==========================================================================

This module is torch-free; :meth:`DataFormat.build` imports the torch data sets lazily.
An optional ``gantrans-data.json`` at the root may name the domains (``{"domains": [..]}``).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from gantrans.errors import DataError, ImageError
from gantrans.images import ImageInfo, iter_images, probe_image

if TYPE_CHECKING:  # pragma: no cover
    from torch.utils.data import Dataset

SPLITS = ("train", "test", "val")
METADATA_FILE = "gantrans-data.json"


class DataWarning(UserWarning):
    """A file in a data set was skipped (the message names it and says why)."""


class DataNotice(DataWarning):
    """Files of a data set that are used all the same but look wrong (the message names them,
    says why and what to do): a pair whose two images differ in shape."""


SkipReporter = Callable[[str], None]
"""Told ``"skipping FILE: why"`` once per unusable file; without one, a :class:`DataWarning`.
Also told the :class:`DataNotice` lines (through its ``note`` method where it has one)."""


class SkipReport:
    """A :data:`SkipReporter` for commands: each file once, as a ``gantrans: warning:`` line.

    Python's warning filters cannot hide these lines and no source line is echoed under them.
    Picklable, so loader worker processes report through their copy; the files already named
    travel with it and are not named again.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.seen: set[str] = set()
        self.noted: set[str] = set()

    def __call__(self, text: str) -> None:
        self._say(text, self.seen)

    def note(self, text: str) -> None:
        """A warning about files that are used all the same: said once, not counted as skipped."""
        self._say(text, self.noted)

    def _say(self, text: str, said: set[str]) -> None:
        if text in said:
            return
        said.add(text)
        if self.enabled:
            from gantrans import console

            console.warning(text)

    @property
    def count(self) -> int:
        """Files skipped (the notes are not)."""
        return len(self.seen)


#: Why a readable image does not belong to a data set (``usable_images``'s ``check``), or None.
ImageCheck = Callable[[ImageInfo], "str | None"]


def report_skip(on_skip: SkipReporter | None, text: str) -> None:
    if on_skip is not None:
        on_skip(text)
    else:
        warnings.warn(text, DataWarning, stacklevel=3)


def report_notice(on_skip: SkipReporter | None, text: str) -> None:
    """Tell ``on_skip`` (its ``note`` where it has one) of files used all the same; without one,
    a :class:`DataNotice`."""
    note = getattr(on_skip, "note", None)
    if callable(note):
        note(text)
    elif on_skip is not None:
        on_skip(text)
    else:
        warnings.warn(text, DataNotice, stacklevel=3)


@runtime_checkable
class DataFormat(Protocol):
    """What a plugin registers to teach gantrans a folder layout."""

    name: str
    kind: str  # one of gantrans.kinds.DATA_KINDS
    description: str

    def detect(self, root: Path) -> bool:
        """Cheap check (a few directory listings) that ``root`` has this layout."""
        ...

    def build(self, root: Path, split: str, transform: Any, **opts: Any) -> Dataset:
        """Open split ``split`` of ``root`` as a :class:`gantrans.data.datasets.GanDataset`."""
        ...


# -- scanning -------------------------------------------------------------------------------------

def has_images(folder: Path, recursive: bool = False) -> bool:
    """Whether ``folder`` holds at least one image file (stops at the first)."""
    return next(iter_images(folder, recursive=recursive), None) is not None


def subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def scan_images(folder: Path, *, what: str | None = None, max_items: int | None = None,
                min_items: int = 1, validate: bool = True, recursive: bool = True,
                on_skip: SkipReporter | None = None, check: ImageCheck | None = None) -> list[str]:
    """The usable images of one folder (one domain or class), validated by their headers.

    Unreadable files are skipped, each told to ``on_skip`` (the caller sums them up), or
    without one, with a :class:`DataWarning` each and a count at the end; fewer than
    ``min_items`` usable images is a :class:`DataError` naming the folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder ({what or folder})")
    return usable_images(iter_images(folder, recursive=recursive), where=folder, what=what, max_items=max_items,
                         min_items=min_items, validate=validate, on_skip=on_skip, check=check)


def usable_images(files: Iterable[str | os.PathLike[str]], *, where: str | os.PathLike[str],
                  what: str | None = None, max_items: int | None = None, min_items: int = 1,
                  validate: bool = True, on_skip: SkipReporter | None = None,
                  check: ImageCheck | None = None) -> list[str]:
    """The files, in their order, whose headers read as images: what :func:`scan_images` does
    for a folder, for a format that lists its files itself (a CSV of pairs, a manifest).

    ``where`` names the list in messages (its folder or file). A file that is missing or not an
    image is skipped and told to ``on_skip`` (else a :class:`DataWarning` each and a count);
    fewer than ``min_items`` left is a :class:`DataError`. ``check`` (with ``validate``) gives the
    reason a readable image does not belong (skipped and told the same way), or None.
    """
    label = what or str(where)
    good: list[str] = []
    bad = 0
    seen = 0
    for path in files:
        seen += 1
        if validate:
            try:
                info = probe_image(path)
            except ImageError as exc:
                bad += 1
                report_skip(on_skip, f"skipping {exc}")
                continue
            why = check(info) if check is not None else None
            if why:
                bad += 1
                report_skip(on_skip, f"skipping {path}: {why}")
                continue
        good.append(str(path))
        if max_items is not None and len(good) >= max_items:
            break
    if bad and on_skip is None:
        warnings.warn(f"{where}: skipped {bad} unreadable file(s) of {seen}", DataWarning, stacklevel=3)
    if len(good) < max(min_items, 1):
        found = f"{len(good)} usable image(s)" + (f", {bad} unreadable" if bad else "")
        raise DataError(f"{where}: {found}; need at least {max(min_items, 1)} for {label}")
    return good


def side_by_side(info: ImageInfo) -> bool:
    """Whether an image is an A|B pair side by side (the reference pix2pix layout): wide for its height."""
    return info.width >= 1.5 * info.height


def first_image_info(folder: Path, recursive: bool = False) -> ImageInfo | None:
    for path in iter_images(folder, recursive=recursive):
        try:
            return probe_image(path)
        except ImageError:
            continue
    return None


def read_metadata(root: Path) -> dict[str, Any]:
    """The optional ``gantrans-data.json`` of a data set (domain names, description)."""
    path = Path(root) / METADATA_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
    return data if isinstance(data, dict) else {}


def _domains(root: Path, default: tuple[str, ...]) -> tuple[str, ...]:
    names = read_metadata(root).get("domains")
    if isinstance(names, list) and len(names) == len(default) and all(isinstance(n, str) and n for n in names):
        return tuple(names)
    return default


def _split_error(root: Path, split: str, missing: str, look_in: Iterable[str] = ()) -> DataError:
    """No split ``split`` in ``root``: ``missing`` says exactly what is not there; the folders
    that are (in ``root`` and its folders ``look_in``) are listed."""
    bases = [root, *(root / d for d in look_in)]
    found = [p.relative_to(root).as_posix() + "/" for base in bases for p in subfolders(base)]
    present = ", ".join(found[:12]) + (f" and {len(found) - 12} more" if len(found) > 12 else "") or "nothing"
    return DataError(f"{root}: no {missing} for split '{split}' (found: {present}); add what is missing, "
                     f"or use a split the folder has")


def _missing_folders(root: Path, names: Iterable[str]) -> str:
    """``B/test/ folder`` or ``testA/ and testB/ folders``: those of ``names`` not in ``root``."""
    gone = [n + "/" for n in names if not (root / n).is_dir()]
    return f"{' and '.join(gone)} folder{'s' if len(gone) > 1 else ''}"


def _common(opts: dict[str, Any]) -> dict[str, Any]:
    return {"channels": int(opts.get("channels") or 3), "size": int(opts.get("size", 256)),
            "seed": int(opts.get("seed", 0))}


def _scan_opts(opts: dict[str, Any]) -> dict[str, Any]:
    return {"max_items": opts.get("max_items"), "min_items": int(opts.get("min_items", 1)),
            "validate": bool(opts.get("validate", True)), "on_skip": opts.get("on_skip")}


# -- the formats ----------------------------------------------------------------------------------

class UnpairedFormat:
    name = "unpaired"
    kind = "unpaired"
    description = "trainA/ trainB/ (testA/ testB/): two unpaired domains, the reference CycleGAN layout"

    def detect(self, root: Path) -> bool:
        return any((root / f"{s}A").is_dir() and (root / f"{s}B").is_dir() for s in SPLITS)

    def build(self, root: Path, split: str, transform: Any, **opts: Any) -> Dataset:
        from gantrans.data.datasets import UnpairedDataset

        dir_a, dir_b = root / f"{split}A", root / f"{split}B"
        if not (dir_a.is_dir() and dir_b.is_dir()):
            raise _split_error(root, split, _missing_folders(root, (dir_a.name, dir_b.name)))
        domains = _domains(root, ("A", "B"))
        a = scan_images(dir_a, what=f"domain {domains[0]}", **_scan_opts(opts))
        b = scan_images(dir_b, what=f"domain {domains[1]}", **_scan_opts(opts))
        return UnpairedDataset(a, b, root=root, format_name=self.name, transform=transform,
                               serial=bool(opts.get("serial", False)), domains=domains, **_common(opts))


def pair_key(path: str | Path, base: Path) -> str:
    """What pairs two files of a paired set: the path under its folder, without the extension."""
    return Path(path).relative_to(base).with_suffix("").as_posix()


def _stem_map(files: list[str], base: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in files:
        key = pair_key(f, base)
        if key in out:
            raise DataError(f"{base}: two files for the same name '{key}': "
                            f"{Path(out[key]).name} and {Path(f).name}")
        out[key] = f
    return out


def match_pairs(files_a: list[str], base_a: Path, files_b: list[str], base_b: Path) -> list[tuple[str, str]]:
    """Pair files by their path relative to their folder, without extension; refuse orphans."""
    map_a, map_b = _stem_map(files_a, base_a), _stem_map(files_b, base_b)
    problems = [f"{map_a[k]} has no partner in {base_b}/" for k in sorted(set(map_a) - set(map_b))]
    problems += [f"{map_b[k]} has no partner in {base_a}/" for k in sorted(set(map_b) - set(map_a))]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DataError(f"unmatched pairs: {'; '.join(problems[:3])}{more}; a pair is two files of the same "
                        f"name, one in each folder: rename or remove the strays")
    return [(map_a[k], map_b[k]) for k in sorted(map_a)]


def _without_partners_of_unusable(a: list[str], dir_a: Path, b: list[str], dir_b: Path,
                                  on_skip: SkipReporter | None) -> tuple[list[str], list[str]]:
    """``a`` and ``b`` without the files whose partner was skipped as unreadable: the pair is
    left out (and said), rather than the good half being called a stray."""
    def stems(files: Iterable[str | Path], base: Path) -> dict[str, str]:
        return {pair_key(f, base): str(f) for f in files}

    kept = []
    for mine, base, theirs, their_base in ((a, dir_a, b, dir_b), (b, dir_b, a, dir_a)):
        listed, usable = stems(iter_images(their_base), their_base), stems(theirs, their_base)
        unusable = {k: f for k, f in listed.items() if k not in usable}
        out = []
        for f in mine:
            k = pair_key(f, base)
            if k in unusable:
                report_skip(on_skip, f"skipping {f}: its partner {unusable[k]} is not a usable image")
            else:
                out.append(f)
        kept.append(out)
    return kept[0], kept[1]


def same_shape(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether (width, height) ``a`` and ``b`` have one aspect ratio: within 1%, or within the
    pixel that rounding gives a side when one image was scaled from the other (101x51 halved is 50x25)."""
    (wa, ha), (wb, hb) = a, b
    if abs(wa * hb - wb * ha) <= 0.01 * max(wa * hb, wb * ha):
        return True
    (ws, hs), (wl, hl) = sorted((a, b), key=lambda size: size[0] * size[1])
    return abs(ws - wl * hs / hl) <= 1 or abs(hs - hl * ws / wl) <= 1


#: pairs of different shapes named one by one; the rest are counted
PAIR_SHAPES_SHOWN = 5


def notice_pairs_of_two_shapes(pairs: Iterable[tuple[str, str]], infos: dict[str, ImageInfo],
                               on_skip: SkipReporter | None, where: str) -> int:
    """Tell ``on_skip`` (:func:`report_notice`) of the pairs whose two images differ in shape as
    decoded, the first :data:`PAIR_SHAPES_SHOWN` one line each, then a count; return how many.

    ``infos`` are the headers the scan read (``check=``), by file; a pair without both is not
    looked at. A pair is kept: a paired data set resizes a target to its input's size, which
    stretches one of another shape, most likely a mistake (a photo that lost its EXIF rotation)
    but perhaps meant. Images of one shape and another size are resized, and not said."""
    def size(info: ImageInfo) -> tuple[int, int, str]:
        w, h = info.oriented_size
        return w, h, f"{w}x{h}" + (f" (stored {info.width}x{info.height}, turned by its EXIF orientation)"
                                   if info.quarter_turned else "")

    count = 0
    for a, b in pairs:
        if a not in infos or b not in infos:
            continue
        (wa, ha, said_a), (wb, hb, said_b) = size(infos[a]), size(infos[b])
        if same_shape((wa, ha), (wb, hb)):
            continue
        count += 1
        if count <= PAIR_SHAPES_SHOWN:
            report_notice(on_skip, f"{a} is {said_a} but its partner {b} is {said_b}: different shapes, so "
                                   f"training stretches the partner to {wa}x{ha} and their pixels do not line "
                                   f"up; crop or turn one to match the other (a photo that lost its EXIF "
                                   f"rotation lies on its side), or remove the pair")
    if count > PAIR_SHAPES_SHOWN:
        report_notice(on_skip, f"{where}: {count - PAIR_SHAPES_SHOWN} more pair(s) of two different shapes "
                               f"(the first {PAIR_SHAPES_SHOWN} are named above); make each pair one shape")
    return count


class PairedFormat:
    name = "paired"
    kind = "paired"
    description = "A/ B/ (or A/train/ B/train/, or trainA/ trainB/) with matching file names"

    def detect(self, root: Path) -> bool:
        if (root / "A").is_dir() and (root / "B").is_dir():
            return True
        # trainA/ trainB/ is the unpaired layout first (detected before this format); where its file
        # names match one for one, a recipe that takes only paired data reads it as pairs.
        for split in SPLITS:
            a, b = root / f"{split}A", root / f"{split}B"
            if a.is_dir() and b.is_dir():
                names = [{pair_key(p, d) for p in iter_images(d)} for d in (a, b)]
                return bool(names[0]) and names[0] == names[1]
        return False

    def _folders(self, root: Path, split: str) -> tuple[Path, Path]:
        layouts = ((f"A/{split}", f"B/{split}"), (f"{split}A", f"{split}B"))
        for a, b in layouts:
            if (root / a).is_dir() and (root / b).is_dir():
                return root / a, root / b
        if split == "train" and has_images(root / "A") and has_images(root / "B"):
            return root / "A", root / "B"
        # the layout half there is the one meant: name what it lacks; with neither, both
        started = [names for names in layouts if any((root / n).is_dir() for n in names)]
        missing = (_missing_folders(root, started[0]) if started else
                   f"{_missing_folders(root, layouts[0])} (nor {layouts[1][0]}/ and {layouts[1][1]}/)")
        raise _split_error(root, split, missing, look_in=("A", "B"))

    def build(self, root: Path, split: str, transform: Any, **opts: Any) -> Dataset:
        from gantrans.data.datasets import PairedDataset

        dir_a, dir_b = self._folders(root, split)
        domains = _domains(root, ("A", "B"))
        sopts = _scan_opts(opts)
        limit = sopts.pop("max_items")
        infos: dict[str, ImageInfo] = {}  # the headers the scan reads, for the shapes of the pairs

        def remember(info: ImageInfo) -> None:
            infos[info.path] = info

        a = scan_images(dir_a, what=f"domain {domains[0]}", check=remember, **sopts)
        b = scan_images(dir_b, what=f"domain {domains[1]}", check=remember, **sopts)
        a, b = _without_partners_of_unusable(a, dir_a, b, dir_b, opts.get("on_skip"))
        pairs = match_pairs(a, dir_a, b, dir_b)[:limit]
        notice_pairs_of_two_shapes(pairs, infos, opts.get("on_skip"), where=f"{dir_a}/ and {dir_b}/")
        return PairedDataset(pairs, root=root, format_name=self.name, transform=transform, domains=domains,
                             **_common(opts))


def _not_a_pair(info: ImageInfo) -> str | None:
    if side_by_side(info):
        return None
    return f"{info.width}x{info.height}, not an A|B pair side by side (about twice as wide as tall)"


class AlignedFormat:
    name = "aligned"
    kind = "paired"
    description = "train/ test/ of side-by-side A|B images, the reference pix2pix layout"

    def detect(self, root: Path) -> bool:
        for s in SPLITS:
            info = first_image_info(root / s)
            if info is not None:
                return side_by_side(info)
        return False

    def build(self, root: Path, split: str, transform: Any, **opts: Any) -> Dataset:
        from gantrans.data.datasets import AlignedDataset

        folder = root / split
        if not folder.is_dir():
            raise _split_error(root, split, f"{split}/ folder")
        domains = _domains(root, ("A", "B"))
        info = first_image_info(folder, recursive=True)
        if info is not None and not side_by_side(info):  # --data-format on a folder of single images or classes
            raise DataError(f"{folder}: its images are {info.width}x{info.height}, not A|B pairs side by side "
                            f"(about twice as wide as tall), so they are not '{self.name}' data; choose another "
                            f"format (or 'detect')")
        # an image that is no pair (a stray square one) would be cut in half: it is skipped, and said
        files = scan_images(folder, what="side-by-side A|B images", check=_not_a_pair, **_scan_opts(opts))

        return AlignedDataset(files, root=root, format_name=self.name, transform=transform, domains=domains,
                              **_common(opts))


class LabelledFormat:
    name = "labelled"
    kind = "labelled"
    description = "one folder per class (<class>/ or train/<class>/); class names in sorted order"

    @staticmethod
    def _class_dirs(base: Path) -> list[Path]:
        return [d for d in subfolders(base) if has_images(d, recursive=True)]

    def _base(self, root: Path, split: str) -> Path | None:
        if len(self._class_dirs(root / split)) >= 2 and not has_images(root / split):
            return root / split
        if split == "train" and not any((root / s).is_dir() for s in SPLITS) and len(self._class_dirs(root)) >= 2:
            return root
        return None

    def detect(self, root: Path) -> bool:
        # trainA/ trainB/ or A/ B/ would pass for classes; they are domains (force with --data-format).
        if has_images(root) or UnpairedFormat().detect(root) or PairedFormat().detect(root):
            return False
        return any(self._base(root, s) is not None for s in SPLITS)

    def build(self, root: Path, split: str, transform: Any, **opts: Any) -> Dataset:
        from gantrans.data.datasets import LabelledDataset

        base = self._base(root, split)
        if base is None:
            raise _split_error(root, split, f"{split}/<class>/ folders (2 or more, with images)")
        class_dirs = self._class_dirs(base)
        names = [d.name for d in class_dirs]
        if len(class_dirs) < 2:
            raise DataError(f"{base}: a labelled data set needs at least 2 class folders with images, "
                            f"found {len(class_dirs)}")
        empty = [d.name + "/" for d in subfolders(base) if d not in class_dirs]
        if empty:  # a class the user meant to have, silently missing, surfaces only as "unknown class"
            report_notice(opts.get("on_skip"), f"{base}: left out {len(empty)} folder(s) with no images, so no "
                                               f"class: {', '.join(empty)}")
        items: list[tuple[str, int]] = []
        for label, d in enumerate(class_dirs):
            items += [(f, label) for f in scan_images(d, what=f"class '{d.name}'", **_scan_opts(opts))]
        return LabelledDataset(items, root=root, format_name=self.name, transform=transform,
                               class_names=list(names), **_common(opts))


class FolderFormat:
    name = "folder"
    kind = "single"
    description = "unlabelled images in one folder (or in train/, test/)"

    def detect(self, root: Path) -> bool:
        return has_images(root) or any(has_images(root / s) for s in SPLITS)

    def build(self, root: Path, split: str, transform: Any, **opts: Any) -> Dataset:
        from gantrans.data.datasets import FolderDataset

        if has_images(root / split):
            folder, recursive = root / split, True
        elif split == "train" and has_images(root):
            folder, recursive = root, not any((root / s).is_dir() for s in SPLITS)
        else:
            raise _split_error(root, split, f"images in {split}/")
        files = scan_images(folder, what="images", recursive=recursive, **_scan_opts(opts))
        return FolderDataset(files, root=root, format_name=self.name, transform=transform, **_common(opts))


#: The folder tree each kind of data expects, for error messages (``gantrans data`` and training).
LAYOUT_TREES = {
    "unpaired": ("unpaired (CycleGAN)", "DATA/\n  trainA/  one domain's images, e.g. horses (any names)\n"
                 "  trainB/  the other domain's images, e.g. zebras\n  testA/ testB/  optional held-out images"),
    "paired": ("paired (pix2pix)", "DATA/\n  A/train/0001.png  input\n  B/train/0001.png  its target, same name\n"
               "  (or trainA/ trainB/ with matching names, or train/ of side-by-side A|B images)"),
    "labelled": ("labelled (cgan)", "DATA/\n  train/\n    cat/  images of class 'cat'\n    dog/  images of class "
                 "'dog' (2 or more class folders)"),
    "single": ("unlabelled (vanilla)", "DATA/\n  train/  the images (or the images directly in DATA/)"),
}


def layout_help(kinds: list[str] | tuple[str, ...]) -> str:
    """The expected trees of these data kinds, indented, one block per kind."""
    blocks = []
    for kind in kinds:
        title, tree = LAYOUT_TREES.get(kind, (kind, ""))
        body = "\n".join("    " + line for line in tree.splitlines())
        blocks.append(f"  {title}:\n{body}" if body else f"  {title}")
    return "\n".join(blocks)


BUILTIN_FORMATS: tuple[DataFormat, ...] = (UnpairedFormat(), PairedFormat(), AlignedFormat(), LabelledFormat(),
                                           FolderFormat())
"""In detection order; the ``datasets`` plugin registers these."""
