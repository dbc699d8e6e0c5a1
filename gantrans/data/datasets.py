"""Torch data sets over scanned file lists, with items that are pure functions of (seed, epoch, i).

Exact resume needs the item at index ``i`` of epoch ``e`` to be the same after a restart, on
any number of loader workers. So every ``__getitem__`` seeds a private copy of torch's RNG
(``torch.random.fork_rng``) and a numpy ``Generator`` from ``(seed, epoch, i)`` and draws the
random crop, flip and unpaired partner from those alone; global RNG state is neither read nor
changed.

The epoch lives in a shared-memory tensor, so :meth:`GanDataset.set_epoch` in the main process
also reaches persistent loader workers (call it before iterating the loader for that epoch).
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as F

from gantrans.data.formats import DataWarning, SkipReporter
from gantrans.data.transforms import apply, to_tv_image
from gantrans.errors import DataError, ImageError
from gantrans.images import load_image
from gantrans.recipe import DataSpec

_MAX_SUBSTITUTES = 16


def item_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed that depends on nothing but (seed, epoch, index)."""
    words = [int(v) & 0xFFFFFFFFFFFFFFFF for v in (seed, epoch, index)]
    state = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


@dataclasses.dataclass(frozen=True)
class ImageSurvey:
    """See :meth:`GanDataset.survey`; ``side`` is None when no header could be read."""

    side: int | None
    grey: bool


#: decoded images a data set keeps in memory (per loader process)
DECODED_CACHE_BYTES = 256 * 2**20


class GanDataset(Dataset):
    """Base of every gantrans data set: ``spec``, ``root``, ``format_name``, ``set_epoch``."""

    def __init__(self, *, root: Path, format_name: str, spec: DataSpec, transform: Any, seed: int, channels: int):
        self.root = Path(root)
        self.format_name = format_name
        self.spec = spec
        self.transform = transform
        self.seed = int(seed)
        self.channels = int(channels)
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()
        self._warned: set[str] = set()
        self.on_skip: SkipReporter | None = None  # where undecodable files are told (else a DataWarning)
        self.transform_args: dict[str, Any] | None = None  # how open_dataset built ``transform``
        self._decoded: dict[str, np.ndarray] = {}  # see _load
        self._decoded_bytes = 0

    # -- epoch ------------------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return int(self._epoch.item())

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random crops/flips/partners the items use."""
        self._epoch.fill_(int(epoch))

    def for_samples(self) -> GanDataset | None:
        """The same files with the evaluation transform (no random flip), for fixed sample
        grids: the folder is not scanned a second time. None if the transform is not known."""
        view = self._with_transform(flip=False, train=False)
        if view is not None:
            view._epoch = torch.zeros((), dtype=torch.int64).share_memory_()
            view._warned = set(self._warned)
        return view

    def at_size(self, crop_size: int, load_size: int) -> GanDataset | None:
        """The same files with the transform rebuilt for another training size (the folder is not
        scanned a second time); None if the transform is not known (a plugin's own data set)."""
        resized = self._with_transform(crop_size=int(crop_size), load_size=int(load_size))
        if resized is not None:
            resized.spec = dataclasses.replace(self.spec, size=int(crop_size))
        return resized

    def _with_transform(self, **changes: Any) -> GanDataset | None:
        """A shallow copy whose transform is rebuilt with ``changes`` to how open_dataset built it."""
        if self.transform_args is None:
            return None
        from gantrans.data.transforms import build_transform

        copied = copy.copy(self)
        copied.transform_args = {**self.transform_args, **changes}
        copied.transform = build_transform(**copied.transform_args)
        return copied

    def survey(self, limit: int = 200) -> ImageSurvey:
        """What the headers of (up to ``limit``, evenly spread) of its images say: the median
        shorter side of what an item is cut from (the training size, when it is left to the data)
        and whether they are all greyscale (a colour model of grey images is told of ``--channels 1``)."""
        from gantrans.images import probe_image

        files = self.image_files()
        step = max(1, len(files) // max(1, limit))
        sides, grey = [], True
        for path in files[::step][:limit]:
            try:
                info = probe_image(path)
            except ImageError:
                continue  # an unreadable file is skipped (and said) when it is loaded
            sides.append(self._item_side(info.width, info.height))
            grey = grey and info.grey
        return ImageSurvey(side=int(np.median(sides)) if sides else None, grey=bool(sides) and grey)

    @staticmethod
    def _item_side(width: int, height: int) -> int:
        """The shorter side of what an item takes from a ``width`` x ``height`` file."""
        return min(width, height)

    # -- items ------------------------------------------------------------------------------
    def __len__(self) -> int:
        raise NotImplementedError

    def image_files(self) -> list[str]:
        """The files whose sizes its items take (for checks over the whole set; [] checks nothing)."""
        return []

    def _item(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self)
        index = int(index)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for a data set of {n} items")
        epoch = self.epoch
        # A file that passed the header scan can still fail to decode: stand in the next items.
        for k in range(min(n, _MAX_SUBSTITUTES)):
            j = (index + k) % n
            seed = item_seed(self.seed, epoch, j)
            try:
                with torch.random.fork_rng(devices=[]):
                    # the CPU generator only: torch.manual_seed also queues a seed for every
                    # accelerator type with a captured stack trace, which cost more than the
                    # decoding and transforms of a small image together
                    torch.random.default_generator.manual_seed(seed)
                    return self._item(j, np.random.default_rng(seed))
            except ImageError as exc:
                key = str(exc)
                if key not in self._warned:
                    self._warned.add(key)
                    if self.on_skip is not None:
                        self.on_skip(f"skipping {exc}")
                    else:
                        warnings.warn(f"skipping {exc}", DataWarning, stacklevel=2)
        raise DataError(f"{self.root}: {min(n, _MAX_SUBSTITUTES)} items in a row from index {index} "
                        f"could not be decoded")

    def __getstate__(self) -> dict[str, Any]:
        # loader workers (spawned or forked per epoch) fill their own cache instead of being
        # sent a copy of this one
        return {**self.__dict__, "_decoded": {}, "_decoded_bytes": 0}

    def _load(self, path: str) -> np.ndarray:
        """The file's pixels, decoded once while the decoded images fit in ``DECODED_CACHE_BYTES``.

        Small data sets are read hundreds of times (a few hundred images, thousands of steps) and
        decoding dominated loading them; the cached arrays are read-only, so the transforms copy
        them before touching them. Each loader worker keeps its own cache.
        """
        pixels = self._decoded.get(path)
        if pixels is None:
            pixels = load_image(path, self.channels).pixels
            if self._decoded_bytes + pixels.nbytes <= DECODED_CACHE_BYTES:
                pixels.flags.writeable = False
                self._decoded[path] = pixels
                self._decoded_bytes += pixels.nbytes
        return pixels

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(root={str(self.root)!r}, format={self.format_name!r}, "
                f"kind={self.spec.kind!r}, items={len(self)})")


class UnpairedDataset(GanDataset):
    """Two unpaired domains; length max(|A|, |B|); A in order, B random (or in order if ``serial``)."""

    def __init__(self, files_a: Sequence[str], files_b: Sequence[str], *, root: Path, format_name: str,
                 transform: Any, channels: int = 3, size: int = 256, seed: int = 0, serial: bool = False,
                 domains: tuple[str, ...] = ("A", "B")):
        spec = DataSpec(kind="unpaired", channels={"A": channels, "B": channels}, size=size,
                        domains=tuple(domains))
        super().__init__(root=root, format_name=format_name, spec=spec, transform=transform, seed=seed,
                         channels=channels)
        self.files_a = list(files_a)
        self.files_b = list(files_b)
        self.serial = bool(serial)

    def __len__(self) -> int:
        return max(len(self.files_a), len(self.files_b))

    def image_files(self) -> list[str]:
        return [*self.files_a, *self.files_b]

    def _item(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        a_path = self.files_a[index % len(self.files_a)]
        b_index = index % len(self.files_b) if self.serial else int(rng.integers(len(self.files_b)))
        b_path = self.files_b[b_index]
        (a,) = apply(self.transform, self._load(a_path))
        (b,) = apply(self.transform, self._load(b_path))  # independent crop and flip
        return {"A": a, "B": b, "A_path": a_path, "B_path": b_path}


class PairedDataset(GanDataset):
    """Matched (A, B) files; A and B share one crop and flip."""

    def __init__(self, pairs: Sequence[tuple[str, str]], *, root: Path, format_name: str, transform: Any,
                 channels: int = 3, size: int = 256, seed: int = 0, domains: tuple[str, ...] = ("A", "B")):
        spec = DataSpec(kind="paired", channels={"A": channels, "B": channels}, size=size, domains=tuple(domains))
        super().__init__(root=root, format_name=format_name, spec=spec, transform=transform, seed=seed,
                         channels=channels)
        self.pairs = list(pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def image_files(self) -> list[str]:
        return [a for a, _b in self.pairs]  # a target is resized to its input

    def _pair(self, index: int) -> tuple[Any, Any]:
        a_path, b_path = self.pairs[index]
        a, b = to_tv_image(self._load(a_path)), to_tv_image(self._load(b_path))
        if a.shape[-2:] != b.shape[-2:]:  # one joint crop needs one size
            b = F.resize(b, list(a.shape[-2:]), interpolation=F.InterpolationMode.BICUBIC, antialias=True)
        return a, b

    def _item(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        a, b = apply(self.transform, *self._pair(index))
        a_path, b_path = self.pairs[index]
        return {"A": a, "B": b, "A_path": a_path, "B_path": b_path}


class AlignedDataset(PairedDataset):
    """Side-by-side A|B files split down the middle (both halves ``width // 2`` wide)."""

    def __init__(self, files: Sequence[str], **kwargs: Any):
        super().__init__([(f, f) for f in files], **kwargs)

    @staticmethod
    def _item_side(width: int, height: int) -> int:
        return min(width // 2, height)  # A and B are the two halves

    def _pair(self, index: int) -> tuple[Any, Any]:
        path = self.pairs[index][0]
        ab = self._load(path)
        half = ab.shape[1] // 2
        if half < 1:
            raise ImageError(f"{path}: {ab.shape[1]} px wide, too narrow to hold A|B side by side")
        return to_tv_image(ab[:, :half]), to_tv_image(ab[:, half:2 * half])


class LabelledDataset(GanDataset):
    """Images with integer labels indexing ``spec.class_names``."""

    def __init__(self, items: Sequence[tuple[str, int]], *, root: Path, format_name: str, transform: Any,
                 class_names: Sequence[str], channels: int = 3, size: int = 256, seed: int = 0):
        spec = DataSpec(kind="labelled", channels={"image": channels}, size=size,
                        class_names=list(class_names), domains=("image",))
        super().__init__(root=root, format_name=format_name, spec=spec, transform=transform, seed=seed,
                         channels=channels)
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def image_files(self) -> list[str]:
        return [path for path, _label in self.items]

    def _item(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        path, label = self.items[index]
        (image,) = apply(self.transform, self._load(path))
        return {"image": image, "label": int(label), "path": path}


class FolderDataset(GanDataset):
    """Unlabelled images."""

    def __init__(self, files: Sequence[str], *, root: Path, format_name: str, transform: Any,
                 channels: int = 3, size: int = 256, seed: int = 0):
        spec = DataSpec(kind="single", channels={"image": channels}, size=size, domains=("image",))
        super().__init__(root=root, format_name=format_name, spec=spec, transform=transform, seed=seed,
                         channels=channels)
        self.files = list(files)

    def __len__(self) -> int:
        return len(self.files)

    def image_files(self) -> list[str]:
        return list(self.files)

    def _item(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        path = self.files[index]
        (image,) = apply(self.transform, self._load(path))
        return {"image": image, "path": path}


def check_one_size(dataset: Any, size_multiple: int, preprocess: str = "none") -> None:
    """``--preprocess none`` keeps each image's size (down to the network's multiple), so a batch,
    a step of two domains and the sample grid need one size throughout: say so before training
    rather than fail inside it."""
    from gantrans.images import probe_image

    m = max(int(size_multiple), 1)
    first: tuple[str, tuple[int, int]] | None = None
    files = dataset.image_files() if callable(getattr(dataset, "image_files", None)) else []  # a plugin's own set
    for path in files:
        try:
            info = probe_image(path)
        except ImageError:
            continue  # an unreadable file is skipped (and said) when it is loaded
        size = (max(info.width // m * m, m), max(info.height // m * m, m))
        if first is None:
            first = (path, size)
        elif size != first[1]:
            raise DataError(f"--preprocess {preprocess} keeps each image's size, but {first[0]} is "
                            f"{first[1][0]}x{first[1][1]} and {path} is {size[0]}x{size[1]} (after rounding to "
                            f"multiples of {m}); use --preprocess resize_and_crop or crop, or make the images "
                            f"one size")
