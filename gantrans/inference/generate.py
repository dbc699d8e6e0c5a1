"""Sampling from ``generate`` and ``generate-conditional`` models, and image grids.

Latents are drawn with NumPy's PCG64 from a seed, so one seed gives the same image on every
machine and provider; interpolation is spherical (slerp), the usual choice for Gaussian latents.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from gantrans.errors import ConfigError, ModelError
from gantrans.inference import processing
from gantrans.inference.model import Model, load_model
from gantrans.inference.progress import CancelToken, Progress, ProgressCallback, check


def latents(n: int, size: int, seed: int | None) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, size)).astype(np.float32)


MIN_STEPS = 2  # an interpolation has both of its ends


def slerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` points from ``a`` to ``b`` (inclusive) along the great circle, norms interpolated."""
    if steps < MIN_STEPS:
        raise ConfigError(f"--steps must be at least {MIN_STEPS}, got {steps}")
    t = np.linspace(0.0, 1.0, steps, dtype=np.float64)[:, None]
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    ua, ub = a64 / max(na, 1e-12), b64 / max(nb, 1e-12)
    omega = np.arccos(np.clip(np.dot(ua, ub), -1.0, 1.0))
    if omega < 1e-6:
        out = (1 - t) * a64 + t * b64
    else:
        s = np.sin(omega)
        dirs = np.sin((1 - t) * omega) / s * ua + np.sin(t * omega) / s * ub
        out = dirs * ((1 - t) * na + t * nb)
    return out.astype(np.float32)


def grid_columns(n: int, classes: int = 0) -> int:
    """Columns of a grid of ``n`` samples, as square as it can be. With ``classes`` (samples of
    every class in turn, :meth:`Generator.default_labels`) a multiple of them, so that each
    column holds one class: 256 samples of 6 classes are 18 columns, not a strip of 6."""
    square = max(1, int(np.ceil(np.sqrt(n))))
    if classes <= 0:
        return square
    return classes * max(1, round(square / classes))


def make_grid(images: Sequence[np.ndarray] | np.ndarray, nrow: int | None = None, padding: int = 2,
              pad_value: int = 0) -> np.ndarray:
    """Tile HxWxC images into one image, ``nrow`` per row (as torchvision's make_grid)."""
    imgs = [np.asarray(i) for i in images]
    if not imgs:
        raise ConfigError("no images to put in a grid")
    h, w, c = imgs[0].shape
    n = len(imgs)
    ncol = nrow or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncol))
    grid = np.full((nrows * (h + padding) + padding, ncol * (w + padding) + padding, c), pad_value,
                   dtype=imgs[0].dtype)
    for k, img in enumerate(imgs):
        r, q = divmod(k, ncol)
        y, x = padding + r * (h + padding), padding + q * (w + padding)
        grid[y:y + h, x:x + w] = img
    return grid


COLUMN_HEADER = 16  # px above a grid's columns for their class names


def label_columns(grid: np.ndarray, labels: Sequence[int], class_names: Sequence[str], nrow: int,
                  cell_width: int, padding: int = 2) -> np.ndarray:
    """``grid`` (from :func:`make_grid`) with each column's class name above it, where every
    image of that column is of one class (samples of every class in turn, or one class asked
    for); unchanged when no column is."""
    from PIL import Image, ImageDraw

    from gantrans.drawing import draw_label

    columns: list[set[int]] = [set() for _ in range(nrow)]
    for k, label in enumerate(labels):
        columns[k % nrow].add(int(label))
    names = [class_names[next(iter(c))] if len(c) == 1 else "" for c in columns]
    if not any(names) or grid.shape[2] not in (1, 3):
        return grid
    head = np.zeros((COLUMN_HEADER, *grid.shape[1:]), dtype=grid.dtype)
    canvas = Image.fromarray(np.concatenate([head, grid]).squeeze(2) if grid.shape[2] == 1 else
                             np.concatenate([head, grid]))
    draw = ImageDraw.Draw(canvas)
    for j, name in enumerate(names):
        if name:
            draw_label(draw, (padding + j * (cell_width + padding) + 1, COLUMN_HEADER / 2 + 1), name,
                       cell_width - 2, size=min(11, max(8, cell_width // 5)),  # small cells, smaller words
                       fill=255 if canvas.mode == "L" else (255, 255, 255), middle=True)
    return np.asarray(canvas).reshape(grid.shape[0] + COLUMN_HEADER, *grid.shape[1:])


class Generator:
    """Runs a ``generate`` or ``generate-conditional`` model."""

    def __init__(self, model: Model | str | os.PathLike, *, providers: Sequence[str] | None = None,
                 threads: int | None = None):
        self.model = model if isinstance(model, Model) else load_model(model, providers=providers,
                                                                        threads=threads)
        c = self.contract = self.model.contract
        if c.task not in ("generate", "generate-conditional"):
            raise ModelError(f"{self.model.path}: a '{c.task}' model does not generate images; "
                             f"use 'gantrans translate'")
        if not c.latent_size:
            raise ModelError(f"{self.model.path}: the metadata gives no latent size")
        first = self.model.inputs[0].shape
        self._max_batch = first[0] if first and isinstance(first[0], int) and first[0] > 0 else None

    @property
    def conditional(self) -> bool:
        return self.contract.task == "generate-conditional"

    @property
    def class_names(self) -> list[str]:
        return list(self.contract.class_names)

    def class_id(self, name_or_id: str | int) -> int:
        """A class index from its name or number, with an error listing the classes."""
        names = self.class_names
        if not self.conditional:
            raise ConfigError(f"{self.model.path}: this model is not class-conditional; drop --class")
        text = str(name_or_id)
        if text in names:
            return names.index(text)
        try:
            k = int(text)
        except ValueError:
            raise ConfigError(f"{self.model.path}: unknown class '{text}'; classes: "
                              f"{', '.join(names) or '(unnamed)'}") from None
        if names and not 0 <= k < len(names):
            raise ConfigError(f"{self.model.path}: class id {k} is out of range 0..{len(names) - 1}")
        return k

    def default_labels(self, n: int) -> np.ndarray:
        """Classes in turn (0, 1, ..., k-1, 0, ...), so a grid shows every class."""
        k = max(1, len(self.class_names))
        return (np.arange(n) % k).astype(np.int64)

    def run_latents(self, z: np.ndarray, labels: np.ndarray | None = None, *, batch_size: int = 16,
                    cancel: CancelToken | None = None, progress: ProgressCallback | None = None) -> np.ndarray:
        """Images (N x H x W x C uint8) for latents ``z`` (and labels for a conditional model)."""
        n = len(z)
        if self.conditional and labels is None:
            labels = self.default_labels(n)
        if self._max_batch:
            batch_size = min(batch_size, self._max_batch)
        names = [i.name for i in self.model.inputs]
        out: list[np.ndarray] = []
        for start in range(0, n, batch_size):
            check(cancel, "generation")
            if progress:
                progress(Progress(start, n, None, "infer"))
            feeds = {names[0]: np.ascontiguousarray(z[start:start + batch_size], dtype=np.float32)}
            if self.conditional:
                feeds[names[1]] = np.asarray(labels[start:start + batch_size], dtype=np.int64)
            try:
                y = self.model.session.run([self.model.output_name], feeds)[0]
            except Exception as exc:  # noqa: BLE001
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ModelError(f"{self.model.path}: generation failed ({msg})") from None
            y01 = processing.from_model_range(np.asarray(y, dtype=np.float32), self.contract.value_range)
            out.extend(processing.from_unit_float(i) for i in processing.from_nchw(y01))
        if progress:
            progress(Progress(n, n, None, "done"))
        return np.stack(out)

    def generate(self, n: int, seed: int | None = None, labels: np.ndarray | int | None = None,
                 **kwargs) -> np.ndarray:
        if n < 1:
            raise ConfigError(f"-n must be at least 1, got {n}")
        if labels is not None and not self.conditional:
            raise ConfigError(f"{self.model.path}: this model is not class-conditional; drop --class")
        if isinstance(labels, (int, np.integer)):
            labels = np.full(n, int(labels), dtype=np.int64)
        return self.run_latents(latents(n, self.contract.latent_size, seed), labels, **kwargs)

    def interpolate(self, seed_a: int, seed_b: int, steps: int, label: int | None = None,
                    **kwargs) -> np.ndarray:
        size = self.contract.latent_size
        z = slerp(latents(1, size, seed_a)[0], latents(1, size, seed_b)[0], steps)
        labels = None
        if self.conditional:
            labels = np.full(steps, 0 if label is None else label, dtype=np.int64)
        elif label is not None:
            raise ConfigError(f"{self.model.path}: this model is not class-conditional; drop --class")
        return self.run_latents(z, labels, **kwargs)
