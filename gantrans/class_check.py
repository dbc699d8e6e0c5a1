"""Do generated samples show the class they were asked for? A nearest-centroid classifier of
shape descriptors, fitted on the real images of a labelled folder (torch-free).

The built-in ``shape-classes`` draw one flat shape per image, rotated, sized and coloured at
random on a random background. A classifier of raw pixels or of box-cropped silhouettes mostly
measures rotation and the speckle a generator leaves in the background, so it calls visibly
right samples wrong. This one describes the outline itself, invariantly to colour, position,
size and rotation: the foreground is what differs in colour from the border; its outline is the
distance from the centroid to the farthest foreground pixel along 64 rays, and the magnitudes of
that signature's Fourier harmonics (3 for a triangle, 4 for a square or cross, 5 for a star, none
for a circle) plus the fill of the circumscribed disc and an empty centre (a ring) tell the
classes apart. Features are scaled by their within-class spread on the real images.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from gantrans.errors import DataError
from gantrans.images import is_image_file

SIZE = 32  # every image is compared at this size
RAYS = 64
HARMONICS = 7
COLOUR_THRESHOLD = 60.0  # RGB distance from the border colour that makes a pixel foreground
N_FEATURES = HARMONICS + 3


@dataclass
class ClassCheck:
    count: int
    correct: int
    classes: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.count if self.count else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "accuracy": self.accuracy}


def foreground(path: Path) -> np.ndarray:
    """Pixels (at ``SIZE`` x ``SIZE``) whose colour differs from the border's median colour; a
    3 x 3 median filter removes the isolated speckle generators leave in flat backgrounds."""
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB").resize((SIZE, SIZE), Image.BILINEAR), np.float32)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    distance = np.sqrt(((rgb - np.median(border, axis=0)) ** 2).sum(axis=-1))
    mask = Image.fromarray((distance > COLOUR_THRESHOLD).astype(np.uint8) * 255)
    return np.asarray(mask.filter(ImageFilter.MedianFilter(3))) > 127


def shape_descriptor(path: Path) -> np.ndarray:
    """Outline harmonics, disc fill and hollow centre of the image's foreground (see the module)."""
    mask = foreground(path)
    if mask.sum() < 4:
        return np.zeros(N_FEATURES, np.float32)
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    angles = np.linspace(0, 2 * np.pi, RAYS, endpoint=False)
    radii = np.arange(0, SIZE, 0.5)
    py = np.rint(cy + radii[None, :] * np.sin(angles)[:, None]).astype(int)
    px = np.rint(cx + radii[None, :] * np.cos(angles)[:, None]).astype(int)
    inside = (py >= 0) & (py < SIZE) & (px >= 0) & (px < SIZE)
    hit = np.zeros(inside.shape, bool)
    hit[inside] = mask[py[inside], px[inside]]
    # farthest foreground sample along each ray (0 where a ray meets none)
    outline = np.where(hit.any(axis=1), radii[hit.shape[1] - 1 - np.argmax(hit[:, ::-1], axis=1)], 0.0)
    r_max = max(float(outline.max()), 1e-6)
    signature = outline / r_max
    harmonics = np.abs(np.fft.rfft(signature))[1:HARMONICS + 1] / max(float(signature.sum()), 1e-6)
    fill = mask.sum() / (np.pi * r_max ** 2)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    centre = (yy - cy) ** 2 + (xx - cx) ** 2 <= (0.35 * outline.mean()) ** 2
    hollow = 1.0 - mask[centre].mean() if centre.any() else 0.0
    return np.concatenate([harmonics, [fill, hollow, signature.min()]]).astype(np.float32)


def nearest_centroid_check(real: Path, generated: Path) -> ClassCheck:
    """How many generated images a nearest-centroid classifier of the real images assigns to the
    class they were generated for.

    ``real`` holds one folder per class; generated file names end in ``_<class>.png`` (as
    ``gantrans generate`` names them). An untrained or label-blind generator scores about
    chance (1 / classes); the built-in shapes' held-out images are all told apart.
    """
    classes = sorted(p.name for p in Path(real).iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DataError(f"{real}: need at least 2 class folders for the class check")
    features = [np.stack([shape_descriptor(f) for f in sorted((Path(real) / c).iterdir()) if is_image_file(f)])
                for c in classes]
    centroids = np.stack([f.mean(axis=0) for f in features])
    scale = np.sqrt(np.mean([f.var(axis=0) for f in features], axis=0)) + 1e-3
    pattern = re.compile(r"_(" + "|".join(re.escape(c) for c in sorted(classes, key=len, reverse=True)) + r")$")
    count = correct = 0
    for f in sorted(Path(generated).iterdir()):
        m = pattern.search(f.stem) if is_image_file(f) else None
        if m is None:
            continue
        guess = int(np.argmin((((centroids - shape_descriptor(f)) / scale) ** 2).sum(axis=1)))
        count += 1
        correct += classes[guess] == m.group(1)
    if not count:
        raise DataError(f"{generated}: no generated images named after a class of {real}")
    return ClassCheck(count, correct, len(classes))
