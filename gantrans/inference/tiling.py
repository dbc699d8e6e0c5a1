"""Tiled inference with feathered overlap blending, for images too large to run at once.

Tiles overlap by ``overlap`` pixels; each tile's contribution ramps up from its edges that face
a neighbour (linear or cosine, after a zero-weight margin where the network saw its own border
padding) and the sum is normalised by the total weight, so there is no visible seam and a
pointwise network gives exactly the untiled result. Image borders get full
weight. The last tile on each axis is aligned to the end instead of being padded.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gantrans.errors import ConfigError
from gantrans.inference.progress import CancelToken, check

BLENDS = ("linear", "cosine")
TileFn = Callable[[np.ndarray], np.ndarray]


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering ``length`` with tiles of ``tile`` overlapping by >= ``overlap``."""
    if tile >= length:
        return [0]
    step = tile - overlap
    if step <= 0:
        raise ConfigError(f"tile overlap {overlap} must be smaller than the tile size {tile}")
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return sorted(set(starts))


def ramp(length: int, overlap: int, rise: bool, fall: bool, blend: str = "linear") -> np.ndarray:
    """1-D weights: ramps over ``overlap`` pixels at the rising/falling ends, 1 in between.

    The outer quarter of each ramp has weight 0: those pixels saw the network's border padding
    instead of real context, and the neighbouring tile covers them fully. The rest ramps up
    linearly (or as a half cosine), so two facing ramps sum to exactly 1.
    """
    if blend not in BLENDS:
        raise ConfigError(f"tile blend must be one of {', '.join(BLENDS)}, not '{blend}'")
    w = np.ones(length, dtype=np.float64)
    n = min(overlap, length)
    if n > 0:
        margin = n // 4
        t = np.clip((np.arange(n) + 0.5 - margin) / (n - 2 * margin), 0.0, 1.0)
        r = t if blend == "linear" else 0.5 - 0.5 * np.cos(np.pi * t)
        if rise:
            w[:n] = np.minimum(w[:n], r)
        if fall:
            w[length - n:] = np.minimum(w[length - n:], r[::-1])
    return w


def count_tiles(height: int, width: int, tile: int, overlap: int) -> int:
    return len(tile_starts(height, tile, overlap)) * len(tile_starts(width, tile, overlap))


def run_tiled(x: np.ndarray, fn: TileFn, tile: int, overlap: int, blend: str = "linear",
              cancel: CancelToken | None = None,
              on_tile: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Run ``fn`` (NCHW -> NCHW, same spatial size) over overlapping tiles of HxWxC ``x``.

    ``x`` must already satisfy the model's size rule and ``tile`` be a multiple of it.
    """
    h, w = x.shape[:2]
    th, tw = min(tile, h), min(tile, w)
    overlap = max(0, min(overlap, tile // 2))  # ramps at both ends must not cross
    ys, xs = tile_starts(h, th, overlap), tile_starts(w, tw, overlap)
    total = len(ys) * len(xs)
    acc: np.ndarray | None = None
    wsum = np.zeros((h, w, 1), dtype=np.float64)
    done = 0
    for y0 in ys:
        wy = ramp(th, overlap, rise=y0 > 0, fall=y0 + th < h, blend=blend)
        for x0 in xs:
            check(cancel, "translation")
            wx = ramp(tw, overlap, rise=x0 > 0, fall=x0 + tw < w, blend=blend)
            patch = np.ascontiguousarray(x[y0:y0 + th, x0:x0 + tw].transpose(2, 0, 1)[None])
            out = np.asarray(fn(patch))[0].transpose(1, 2, 0)
            if out.shape[:2] != (th, tw):
                raise ConfigError("tiling needs a model whose output has its input's size")
            if acc is None:
                acc = np.zeros((h, w, out.shape[2]), dtype=np.float64)
            weight = (wy[:, None] * wx[None, :])[:, :, None]
            acc[y0:y0 + th, x0:x0 + tw] += out * weight
            wsum[y0:y0 + th, x0:x0 + tw] += weight
            done += 1
            if on_tile is not None:
                on_tile(done, total)
    assert acc is not None
    return (acc / wsum).astype(np.float32)
