"""Procedural 64 x 64 images for the built-in data sets (numpy + Pillow, deterministic per seed).

Each image comes from ``numpy.random.default_rng([seed, split, index])``, so an image does
not depend on how many others are drawn. Shapes are drawn at 4x and box-filtered down, which
gives anti-aliased edges without any external asset.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

SIZE = 64
SS = 4  # supersampling factor
BIG = SIZE * SS

# -- geometry -------------------------------------------------------------------------------------

def _regular(cx: float, cy: float, r: float, n: int, rot: float) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(rot + 2 * math.pi * k / n), cy + r * math.sin(rot + 2 * math.pi * k / n))
            for k in range(n)]


def _star(cx: float, cy: float, r: float, rot: float, points: int = 5, inner: float = 0.45) -> list[tuple[float, float]]:
    out = []
    for k in range(2 * points):
        rr = r if k % 2 == 0 else r * inner
        a = rot + math.pi * k / points
        out.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return out


def _cross(cx: float, cy: float, r: float, rot: float, arm: float = 0.36) -> list[tuple[float, float]]:
    w = r * arm
    pts = [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w), (-r, w), (-r, -w), (-w, -w)]
    c, s = math.cos(rot), math.sin(rot)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts]


def shape_mask(kind: str, cx: float, cy: float, r: float, rot: float, size: int = BIG) -> np.ndarray:
    """Boolean mask of one shape on a ``size`` x ``size`` canvas (coordinates in that canvas)."""
    im = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(im)
    if kind == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif kind == "ring":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        ri = r * 0.55
        d.ellipse([cx - ri, cy - ri, cx + ri, cy + ri], fill=0)
    elif kind == "square":
        d.polygon(_regular(cx, cy, r * 1.05, 4, rot + math.pi / 4), fill=255)
    elif kind == "triangle":
        d.polygon(_regular(cx, cy + r * 0.15, r * 1.15, 3, rot - math.pi / 2), fill=255)
    elif kind == "star":
        d.polygon(_star(cx, cy, r * 1.1, rot - math.pi / 2), fill=255)
    elif kind == "cross":
        d.polygon(_cross(cx, cy, r, rot), fill=255)
    else:  # pragma: no cover - programming error
        raise ValueError(kind)
    return np.asarray(im) > 127


def downsample(big: np.ndarray) -> np.ndarray:
    """Box-filter a float (BIG x BIG [x C]) image in [0, 255] to SIZE and round to uint8."""
    h, w = big.shape[:2]
    small = big.reshape(h // SS, SS, w // SS, SS, *big.shape[2:]).mean(axis=(1, 3))
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


# -- "shapes": label maps (A) and rendered photos (B) of the same scene ---------------------------

SCENE_CLASSES = ("circle", "square", "triangle")
LABEL_COLOURS = {"background": (32, 32, 96), "circle": (230, 40, 40), "square": (40, 200, 60),
                 "triangle": (250, 220, 30)}
_PHOTO_BASE = {"circle": (235, 140, 45), "square": (150, 98, 50), "triangle": (40, 165, 170)}


def scene(rng: np.random.Generator) -> list[tuple[str, float, float, float, float]]:
    """1 to 3 shapes ``(kind, cx, cy, r, rotation)`` in BIG-canvas coordinates, back to front."""
    out = []
    for _ in range(int(rng.integers(1, 4))):
        kind = SCENE_CLASSES[int(rng.integers(len(SCENE_CLASSES)))]
        r = float(rng.uniform(0.14, 0.24)) * BIG
        cx, cy = (float(v) for v in rng.uniform(r * 0.9, BIG - r * 0.9, size=2))
        rot = float(rng.uniform(-0.5, 0.5)) if kind != "circle" else 0.0
        out.append((kind, cx, cy, r, rot))
    return out


_GRID: tuple[np.ndarray, np.ndarray] | None = None


def _grid() -> tuple[np.ndarray, np.ndarray]:
    global _GRID
    if _GRID is None:
        y, x = np.mgrid[0:BIG, 0:BIG].astype(np.float32) + 0.5
        _GRID = (x, y)
    return _GRID


def render_labels(shapes: list[tuple[str, float, float, float, float]]) -> np.ndarray:
    """The flat label map: one colour per class, no anti-aliasing (nearest sample of the BIG canvas)."""
    img = np.empty((BIG, BIG, 3), np.uint8)
    img[:] = LABEL_COLOURS["background"]
    for kind, cx, cy, r, rot in shapes:
        img[shape_mask(kind, cx, cy, r, rot)] = LABEL_COLOURS[kind]
    return np.ascontiguousarray(img[SS // 2::SS, SS // 2::SS])


def render_photo(shapes: list[tuple[str, float, float, float, float]], rng: np.random.Generator) -> np.ndarray:
    """Shaded 'photo' of a scene: sky-to-sand backdrop, drop shadows, a sphere, crates and pyramids."""
    x, y = _grid()
    t = (y / BIG)[..., None]
    top = np.array([150, 195, 235], np.float32) * float(rng.uniform(0.92, 1.05))
    bottom = np.array([222, 205, 160], np.float32) * float(rng.uniform(0.92, 1.05))
    phase = float(rng.uniform(0, 6.28))
    ripple = 6.0 * np.sin(x[0] / BIG * 2 * math.pi * 3 + phase)[None, :] * np.sin(y[:, 0] / BIG * 2 * math.pi * 2)[:, None]
    img = top * (1 - t) + bottom * t + ripple[..., None]
    light = np.array([-0.55, -0.6, 0.58], np.float32)
    light /= np.linalg.norm(light)
    shift = int(0.035 * BIG)
    for kind, cx, cy, r, rot in shapes:
        # Work inside the shape's box (plus the shadow offset): a fraction of the canvas.
        y0, y1 = max(int(cy - 1.3 * r), 0), min(int(cy + 1.3 * r) + shift + 1, BIG)
        x0, x1 = max(int(cx - 1.3 * r), 0), min(int(cx + 1.3 * r) + shift + 1, BIG)
        mask = shape_mask(kind, cx, cy, r, rot)
        shadow = np.zeros_like(mask)
        shadow[shift:, shift:] = mask[:-shift, :-shift]
        sl = (slice(y0, y1), slice(x0, x1))
        m, sh, xs, ys, box = mask[sl], shadow[sl], x[sl], y[sl], img[sl]
        box[sh & ~m] *= 0.62
        base = np.array(_PHOTO_BASE[kind], np.float32)
        if kind == "circle":  # a lit sphere with a highlight
            dx, dy = (xs - cx) / r, (ys - cy) / r
            nz = np.sqrt(np.clip(1 - dx * dx - dy * dy, 0, 1))
            lam = np.clip(dx * light[0] + dy * light[1] + nz * light[2], 0, 1)
            col = base * (0.3 + 0.8 * lam)[..., None] + (lam ** 24 * 120)[..., None]
        elif kind == "square":  # a wooden crate: planks and a dark frame
            c, s = math.cos(-rot), math.sin(-rot)
            u = ((xs - cx) * c - (ys - cy) * s) / r
            v = ((xs - cx) * s + (ys - cy) * c) / r
            planks = 0.85 + 0.15 * np.sin(v * 9.0) ** 2
            frame = np.where(np.maximum(np.abs(u), np.abs(v)) > 0.72, 0.6, 1.0)
            col = base * (planks * frame)[..., None]
        else:  # a pyramid: lit left face, dark right face
            c, s = math.cos(rot), math.sin(rot)
            side = (xs - cx) * c + (ys - cy) * s
            col = base * np.where(side < 0, 1.15, 0.62)[..., None]
        box[m] = col[m]
    small = downsample(img).astype(np.float32) + rng.normal(0, 4.0, size=(SIZE, SIZE, 1)).astype(np.float32)
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


def shapes_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(label map, photo) of one random scene."""
    shapes = scene(rng)
    return render_labels(shapes), render_photo(shapes, rng)


# -- "shape-classes": one shape per image, six classes ---------------------------------------------

CLASS_SHAPES = ("circle", "cross", "ring", "square", "star", "triangle")


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    import colorsys

    return np.array(colorsys.hsv_to_rgb(h, s, v), np.float32) * 255


def class_image(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One shape of class ``kind`` in a random colour on a contrasting background."""
    hue = float(rng.uniform(0, 1))
    fg = _hsv(hue, float(rng.uniform(0.55, 1.0)), float(rng.uniform(0.8, 1.0)))
    bg = _hsv((hue + float(rng.uniform(0.3, 0.7))) % 1, float(rng.uniform(0.1, 0.5)), float(rng.uniform(0.15, 0.4)))
    luma = lambda c: float(c @ np.array([0.299, 0.587, 0.114], np.float32))  # noqa: E731
    if luma(fg) < luma(bg) + 70:  # deep blues: lighten towards white so the shape reads in grey too
        t = (luma(bg) + 70 - luma(fg)) / max(255 - luma(fg), 1e-3)
        fg = fg + (255 - fg) * min(t, 1.0)
    r = float(rng.uniform(0.28, 0.40)) * BIG
    cx, cy = (float(v) for v in BIG / 2 + rng.uniform(-0.08, 0.08, size=2) * BIG)
    rot = float(rng.uniform(-0.4, 0.4)) if kind not in ("circle", "ring") else 0.0
    mask = shape_mask(kind, cx, cy, r, rot)[..., None]
    img = np.where(mask, fg, bg).astype(np.float32)
    return downsample(img)


# -- "smileys": one face per image ----------------------------------------------------------------

_SKINS = ((250, 210, 60), (245, 170, 80), (240, 190, 170), (190, 140, 100), (140, 200, 110), (120, 170, 235))


def smiley(rng: np.random.Generator) -> np.ndarray:
    """A cartoon face: skin colour, eye spacing and size, wink and mouth curvature all vary."""
    bg = tuple(int(v) for v in rng.integers(150, 250, size=3))
    im = Image.new("RGB", (BIG, BIG), bg)
    d = ImageDraw.Draw(im)
    s = BIG / SIZE
    r = float(rng.uniform(22, 29)) * s
    cx, cy = (float(v) for v in BIG / 2 + rng.uniform(-4, 4, size=2) * s)
    skin = _SKINS[int(rng.integers(len(_SKINS)))]
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=skin, outline=(60, 40, 30), width=int(1.5 * s))
    spread = float(rng.uniform(0.28, 0.42)) * r
    eye_y = cy - float(rng.uniform(0.2, 0.35)) * r
    er = float(rng.uniform(0.08, 0.14)) * r
    wink = rng.uniform() < 0.15
    for side in (-1, 1):
        ex = cx + side * spread
        if wink and side == 1:
            d.line([ex - er * 1.3, eye_y, ex + er * 1.3, eye_y], fill=(40, 30, 30), width=int(1.5 * s))
        else:
            d.ellipse([ex - er, eye_y - er * 1.4, ex + er, eye_y + er * 1.4], fill=(40, 30, 30))
    mood = float(rng.uniform(-0.6, 1.0))  # <0 frown, >0 smile
    mw = float(rng.uniform(0.35, 0.6)) * r
    my = cy + float(rng.uniform(0.3, 0.45)) * r
    pts = [(cx + mw * t, my + mood * 0.35 * r * (1 - t * t) - mood * 0.1 * r) for t in np.linspace(-1, 1, 17)]
    d.line(pts, fill=(90, 30, 30), width=int(2 * s), joint="curve")
    if rng.uniform() < 0.5:  # cheeks
        for side in (-1, 1):
            chx, chy, chr_ = cx + side * 0.55 * r, cy + 0.15 * r, 0.12 * r
            d.ellipse([chx - chr_, chy - chr_, chx + chr_, chy + chr_], fill=(240, 120, 120))
    return downsample(np.asarray(im, dtype=np.float32))
