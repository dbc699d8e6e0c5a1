"""The ``photos-*`` built-in data sets: crops of real photographs and fixed edits as ground truth.

Why: a user's typical job is a few hundred crops of their own photos and a look to learn. These
sets are that job with an exact answer, so translation quality can be measured rather than
eyeballed: A is a crop of a photograph, B is the same crop after a fixed, known edit.

The photographs (``photos/``, public domain or CC0, see ``photos/LICENCES.md``) are split by
photograph: the test crops come from photographs that no training crop was taken from. Each
edit is applied to the whole photograph before cropping, so a spatial edit sees real context
at the crop's border. NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

PHOTO_DIR = Path(__file__).with_name("photos")
TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "hubble_deep_field", "retina")
TEST_PHOTOS = ("chelsea",)
CROP = 64

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def load_photo(name: str) -> np.ndarray:
    from PIL import Image

    with Image.open(PHOTO_DIR / f"{name}.png") as im:
        return np.asarray(im.convert("RGB"))


def _unit(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / 255.0


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _luma(x: np.ndarray) -> np.ndarray:
    return (x @ _LUMA)[..., None]


def warm(image: np.ndarray) -> np.ndarray:
    """A warm white balance: red up, blue down, per channel and linear (the easiest look)."""
    x = _unit(image)
    return _to_uint8(x * np.array([1.12, 1.0, 0.82], dtype=np.float32) + np.array([0.02, 0.01, 0.0],
                                                                                  dtype=np.float32))


def fade(image: np.ndarray) -> np.ndarray:
    """A faded matte print: half the saturation, blacks lifted, whites lowered, a cool cast."""
    x = _unit(image)
    y = _luma(x)
    x = y + 0.5 * (x - y)
    return _to_uint8(0.12 + 0.76 * x + np.array([0.0, 0.01, 0.04], dtype=np.float32))


def teal_orange(image: np.ndarray) -> np.ndarray:
    """A split tone with an S-curve: shadows pulled to teal, highlights to orange (non-linear,
    depends on each pixel's brightness)."""
    x = _unit(image)
    y = _luma(x)
    s = x + 0.6 * (x - 0.5) * x * (1.0 - x)  # S-curve contrast on each channel
    shadow = (1.0 - y) ** 2
    highlight = y**2
    teal = np.array([-0.10, 0.04, 0.08], dtype=np.float32)
    orange = np.array([0.10, 0.03, -0.08], dtype=np.float32)
    return _to_uint8(s + shadow * teal + highlight * orange)


def _gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of an HxWxC float image, edges reflected."""
    radius = max(1, int(3 * sigma + 0.5))
    t = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    p = np.pad(x, ((radius, radius), (0, 0), (0, 0)), mode="reflect")
    x = sum(k[i] * p[i:i + x.shape[0]] for i in range(len(k)))
    p = np.pad(x, ((0, 0), (radius, radius), (0, 0)), mode="reflect")
    return sum(k[i] * p[:, i:i + x.shape[1]] for i in range(len(k)))


def sharpen(image: np.ndarray) -> np.ndarray:
    """An unsharp mask (sigma 1 px, amount 0.8): needs each pixel's neighbourhood."""
    x = _unit(image)
    return _to_uint8(x + 0.8 * (x - _gaussian(x, 1.0)))


def soften(image: np.ndarray) -> np.ndarray:
    """A mild Gaussian blur (sigma 1 px): spatial, and easier to learn than sharpening."""
    return _to_uint8(_gaussian(_unit(image), 1.0))


TASKS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "warm": (warm, "warm white balance (per-channel gains)"),
    "fade": (fade, "faded matte look (half saturation, lifted blacks, cool cast)"),
    "teal-orange": (teal_orange, "S-curve with teal shadows and orange highlights"),
    "sharpen": (sharpen, "unsharp mask, sigma 1 px (spatial)"),
    "soften": (soften, "Gaussian blur, sigma 1 px (spatial)"),
}


def crop_positions(shape: tuple[int, ...], count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    h, w = shape[:2]
    return [(int(rng.integers(0, h - CROP + 1)), int(rng.integers(0, w - CROP + 1))) for _ in range(count)]


def crops(photos: tuple[str, ...], task: str, count: int, rng: np.random.Generator):
    """``count`` (photo name, A crop, B crop) triples spread evenly over ``photos``."""
    edit = TASKS[task][0]
    loaded = [(name, load_photo(name)) for name in photos]
    edited = [edit(image) for _, image in loaded]
    for i in range(count):
        k = i % len(loaded)
        name, image = loaded[k]
        (y, x), = crop_positions(image.shape, 1, rng)
        yield name, image[y:y + CROP, x:x + CROP], edited[k][y:y + CROP, x:x + CROP]
