"""Built-in plugin 'datasets': the on-disk data formats and the offline, generated data sets.

Registered through the ``gantrans`` entry point like any third-party plugin. The drawing code
(:mod:`gantrans_plugins.datasets.draw`) is imported only when a set is written.

Built-in sets (64 x 64 px, deterministic per seed, written in a second or two):

* ``shapes`` - two domains of the same scenes: A = flat label maps (one colour per shape
  class), B = shaded renders (sphere, wooden crate, two-tone pyramid, drop shadows). Unpaired
  (CycleGAN: the training A and B show different scenes), aligned and paired (pix2pix); the
  test split is paired in every form, so translation quality can be measured on it.
* ``shape-classes`` - six classes (circle, cross, ring, square, star, triangle) in random
  colours, for class-conditional GANs.
* ``smileys`` - cartoon faces with varying colour, eyes and mouth, for an unconditional GAN.
* ``photos-warm``, ``photos-fade``, ``photos-teal-orange``, ``photos-sharpen``, ``photos-soften``
  - 64 px crops of real photographs (public domain / CC0, shipped in ``photos/``) as A and the
  same crops after a fixed edit as B: exact ground truth for measuring translation on the data
  people have. Split by photograph; the test split is paired in every form
  (:mod:`gantrans_plugins.datasets.grades`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gantrans import hookimpl
from gantrans.data.formats import BUILTIN_FORMATS


def _check_form(ds, form: str) -> None:
    if form not in ds.forms:
        from gantrans.errors import ConfigError

        raise ConfigError(f"built-in data set '{ds.name}' comes as {', '.join(ds.forms)}, not '{form}'")


def _rng(seed: int, split: str, index: int, stream: int = 0):
    import numpy as np

    return np.random.default_rng([int(seed) & 0xFFFFFFFF, {"train": 1, "test": 2}[split], stream, index])


class ShapesDataset:
    name = "shapes"
    description = "label maps (A) -> shaded renders (B) of 1-3 circles, crates and pyramids"
    forms = ("unpaired", "aligned", "paired")
    counts = {"train": 160, "test": 24}
    size = "160 train + 24 test scenes per domain, 64x64 px"
    version = 1

    def make(self, out_dir: Path, form: str, seed: int = 0) -> Path:
        from gantrans.data.builtin import write_metadata, write_pairs

        from . import draw

        _check_form(self, form)

        def pairs(split: str):
            for i in range(self.counts[split]):
                if form == "unpaired" and split == "train":  # B of another scene: truly unpaired
                    a = draw.render_labels(draw.scene(_rng(seed, split, i)))
                    b = draw.shapes_pair(_rng(seed, split, i, stream=1))[1]
                else:
                    a, b = draw.shapes_pair(_rng(seed, split, i))
                yield f"{i:04d}", a, b

        out_dir = Path(out_dir)
        for split in self.counts:
            write_pairs(out_dir, form, split, pairs(split))
        write_metadata(out_dir, name=self.name, form=form, seed=seed, domains=["labels", "photos"],
                       description=self.description, classes=list(draw.SCENE_CLASSES),
                       label_colours={k: list(v) for k, v in draw.LABEL_COLOURS.items()})
        return out_dir


class ShapeClassesDataset:
    name = "shape-classes"
    description = "one shape per image in 6 classes (circle, cross, ring, square, star, triangle)"
    forms = ("labelled",)
    counts = {"train": 40, "test": 8}
    size = "6 classes x (40 train + 8 test), 64x64 px"
    version = 1

    def make(self, out_dir: Path, form: str = "labelled", seed: int = 0) -> Path:
        from gantrans.data.builtin import save_png, write_metadata

        from . import draw

        _check_form(self, form)

        out_dir = Path(out_dir)
        for split, n in self.counts.items():
            for c, kind in enumerate(draw.CLASS_SHAPES):
                for i in range(n):
                    save_png(draw.class_image(kind, _rng(seed, split, i, stream=c)), out_dir / split / kind / f"{i:04d}.png")
        write_metadata(out_dir, name=self.name, form=form, seed=seed, description=self.description,
                       classes=list(draw.CLASS_SHAPES))
        return out_dir


class SmileysDataset:
    name = "smileys"
    description = "cartoon faces with varying colour, eyes and mouth (unlabelled)"
    forms = ("folder",)
    counts = {"train": 240, "test": 16}
    size = "240 train + 16 test images, 64x64 px"
    version = 1

    def make(self, out_dir: Path, form: str = "folder", seed: int = 0) -> Path:
        from gantrans.data.builtin import save_png, write_metadata

        from . import draw

        _check_form(self, form)

        out_dir = Path(out_dir)
        for split, n in self.counts.items():
            for i in range(n):
                save_png(draw.smiley(_rng(seed, split, i)), out_dir / split / f"{i:04d}.png")
        write_metadata(out_dir, name=self.name, form=form, seed=seed, description=self.description)
        return out_dir


class PhotosDataset:
    """One ``photos-TASK`` set: photo crops (A) and the same crops after edit TASK (B)."""

    forms = ("paired", "unpaired", "aligned")
    counts = {"train": 200, "test": 40}
    version = 1

    def __init__(self, task: str, what: str):
        self.task = task
        self.name = f"photos-{task}"
        self.description = f"real photo crops (A) -> the same crops, {what} (B)"
        self.size = ("200 train crops of 5 photographs + 40 test crops of another, 64x64 px "
                     "(unpaired: A and B crops of the training photos are disjoint)")

    def make(self, out_dir: Path, form: str, seed: int = 0) -> Path:
        from gantrans.data.builtin import write_metadata, write_pairs

        from . import grades

        _check_form(self, form)
        out_dir = Path(out_dir)
        sources = {"train": grades.TRAIN_PHOTOS, "test": grades.TEST_PHOTOS}
        for split, photos in sources.items():
            n = self.counts[split]
            if form == "unpaired" and split == "train":  # B crops from other positions than A's
                a = grades.crops(photos, self.task, n, _rng(seed, split, 0, stream=0))
                b = grades.crops(photos, self.task, n, _rng(seed, split, 0, stream=1))
                pairs = ((f"{i:04d}_{pa}", ca, cb) for i, ((pa, ca, _), (_, _, cb)) in enumerate(zip(a, b)))
            else:
                pairs = ((f"{i:04d}_{p}", ca, cb)
                         for i, (p, ca, cb) in enumerate(grades.crops(photos, self.task, n, _rng(seed, split, 0))))
            write_pairs(out_dir, form, split, pairs)
        write_metadata(out_dir, name=self.name, form=form, seed=seed, domains=["photo", self.task],
                       description=self.description, task=self.task,
                       photos={k: list(v) for k, v in sources.items()},
                       licences="see gantrans_plugins/datasets/photos/LICENCES.md")
        return out_dir


def _photo_sets() -> tuple[PhotosDataset, ...]:
    from .grades import TASKS

    return tuple(PhotosDataset(task, what) for task, (_, what) in TASKS.items())


BUILTIN_DATASETS = (ShapesDataset(), ShapeClassesDataset(), SmileysDataset(), *_photo_sets())


@hookimpl
def register_data_formats(register: Callable[..., None]) -> None:
    for fmt in BUILTIN_FORMATS:
        register(fmt)


@hookimpl
def register_builtin_datasets(register: Callable[..., None]) -> None:
    for ds in BUILTIN_DATASETS:
        register(ds)
