"""Scoring translations against paired ground truth: L1, PSNR, SSIM and a labelled contact sheet.

Why a module of its own: ``gantrans eval``, the demo's report and tests must score the same way,
and a user who only translates (no torch) must be able to score too. NumPy and Pillow only.

Conventions: images are float arrays in [0, 1], H x W x C. L1 is the mean absolute difference
in that range; PSNR is in dB with peak 1; SSIM is Wang et al. (2004) with an 11-tap Gaussian
window (sigma 1.5), K1 = 0.01, K2 = 0.03, averaged over channels - the usual settings
(``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1)``). Every figure is also given for the untranslated
input, because a model is only useful if it beats doing nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gantrans.errors import ConfigError, DataError

METRICS = ("L1", "PSNR", "SSIM")
BETTER = {"L1": "lower", "PSNR": "higher", "SSIM": "higher"}
PSNR_CAP = 100.0
"""PSNR of identical images (infinite) is reported as this, so means stay finite."""


# -- metrics ----------------------------------------------------------------------------------

def gaussian_blur(x: np.ndarray, sigma: float, radius: int | None = None) -> np.ndarray:
    """Separable Gaussian blur of an H x W (x C) float image; edges reflected."""
    radius = max(1, int(3 * sigma + 0.5)) if radius is None else radius
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    squeeze = x.ndim == 2
    x = x[..., None] if squeeze else x
    pad = ((radius, radius), (0, 0), (0, 0))
    p = np.pad(x, pad, mode="reflect")
    x = sum(k[i] * p[i:i + x.shape[0]] for i in range(len(k)))
    p = np.pad(x, (pad[1], pad[0], pad[2]), mode="reflect")
    x = sum(k[i] * p[:, i:i + x.shape[1]] for i in range(len(k)))
    return x[..., 0] if squeeze else x


def _check(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {x.shape} vs {y.shape}")
    return x, y


def l1(x: np.ndarray, y: np.ndarray) -> float:
    x, y = _check(x, y)
    return float(np.abs(x - y).mean())


def psnr(x: np.ndarray, y: np.ndarray) -> float:
    x, y = _check(x, y)
    mse = float(((x - y) ** 2).mean())
    return PSNR_CAP if mse <= 10 ** (-PSNR_CAP / 10) else -10.0 * math.log10(mse)


def ssim(x: np.ndarray, y: np.ndarray) -> float:
    x, y = _check(x, y)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    c1, c2 = 0.01**2, 0.03**2
    blur = lambda a: gaussian_blur(a, 1.5, radius=5)  # noqa: E731 - the 11-tap window
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    r = 5  # like skimage: ignore the border the window cannot fill
    inner = s[r:-r, r:-r] if s.shape[0] > 2 * r and s.shape[1] > 2 * r else s
    return float(inner.mean())


def scores(output: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """L1, PSNR and SSIM of one image against its ground truth."""
    return {"L1": l1(output, target), "PSNR": psnr(output, target), "SSIM": ssim(output, target)}


# -- test pairs --------------------------------------------------------------------------------

@dataclass(frozen=True)
class TestPair:
    name: str
    source: Path
    target: Path | None = None
    """None for the aligned form: ``source`` holds A and B side by side."""


_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _images(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in _EXTS}


def find_test_pairs(root: str | Path, split: str = "test", reverse: bool = False) -> list[TestPair]:
    """Paired test images of a two-domain data folder: ``A/test`` + ``B/test`` (paired),
    ``testA`` + ``testB`` with the same file stems (the unpaired form's paired test split), or
    ``test/`` with A|B side by side (aligned). ``reverse`` scores B -> A."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; give a data folder such as one 'gantrans data make' writes")
    for a_dir, b_dir in ((root / "A" / split, root / "B" / split), (root / f"{split}A", root / f"{split}B")):
        if a_dir.is_dir() and b_dir.is_dir():
            a, b = _images(a_dir), _images(b_dir)
            if reverse:
                a, b = b, a
            common = [s for s in a if s in b]
            if not common:
                raise DataError(f"{root}: {a_dir.name} and {b_dir.name} share no file names, so nothing is "
                                f"paired; 'gantrans eval' needs ground truth with the input's file name")
            return [TestPair(s, a[s], b[s]) for s in common]
    missing = (f"{root}: no paired '{split}' split found (expected A/{split} + B/{split}, {split}A + {split}B, "
               f"or {split}/ with side-by-side pairs)")
    if (root / split).is_dir():
        from gantrans.data.formats import first_image_info, side_by_side

        info = first_image_info(root / split)
        if info is None:
            raise DataError(f"{missing}; {split}/ holds no images at its top")
        if not side_by_side(info):  # single images (a vanilla or class set): halves would be scored
            raise DataError(f"{missing}; {split}/ holds single {info.width}x{info.height} images, not A|B pairs")
        return [TestPair(s, p) for s, p in _images(root / split).items()]
    raise DataError(missing)


def check_direction(contract: Any, model: str | Path, root: str | Path, reverse: bool = False) -> None:
    """Refuse to score a model the wrong way round: a B -> A model on A -> B pairs gives a table
    that looks like a result and means nothing. Decided by the domain names when both the model
    and the data folder (``gantrans-data.json``) name them, else by an A2B / B2A head name."""
    from gantrans.data.formats import read_metadata

    scored = "B -> A" if reverse else "A -> B"
    fix = "run it without --reverse" if reverse else "pass --reverse to score B -> A"
    domains = read_metadata(Path(root)).get("domains")
    got = (contract.source_domain, contract.target_domain)
    if all(got) and isinstance(domains, list) and len(domains) == 2 and set(got) == set(domains):
        want = (domains[1], domains[0]) if reverse else (domains[0], domains[1])
        if got != want:
            letters = f" ({scored})" if set(want) != {"A", "B"} else ""
            raise ConfigError(f"{model}: the model translates {got[0]} -> {got[1]}, but {root} is scored "
                              f"{want[0]} -> {want[1]}{letters}; {fix}")
        return
    if contract.direction in ("A2B", "B2A") and (contract.direction == "B2A") != reverse:
        raise ConfigError(f"{model}: the model's direction is {contract.direction}, but {root} is scored {scored}; "
                          f"{fix}")


def load_pair(pair: TestPair, reverse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(input, target) as float RGB arrays in [0, 1], decoded as ``translate`` decodes them
    (``gantrans.images.load_image``: 16-bit samples scaled, EXIF orientation applied)."""
    from gantrans.errors import ImageError
    from gantrans.images import load_image

    def read(path: Path) -> np.ndarray:
        try:
            return load_image(path, 3).pixels.astype(np.float32) / 255.0
        except ImageError as exc:
            raise DataError(str(exc)) from None

    if pair.target is not None:
        a, b = read(pair.source), read(pair.target)
        if a.shape != b.shape:
            raise DataError(f"{pair.target}: {b.shape[1]}x{b.shape[0]} px, but its input {pair.source.name} is "
                            f"{a.shape[1]}x{a.shape[0]}; ground truth must match its input")
        return a, b
    both = read(pair.source)
    half = both.shape[1] // 2
    a, b = both[:, :half], both[:, half:2 * half]
    return (b, a) if reverse else (a, b)


# -- a whole evaluation --------------------------------------------------------------------------

@dataclass
class Evaluation:
    """Per-image and mean figures of a model and of the untranslated input (identity)."""

    names: list[str] = field(default_factory=list)
    model: list[dict[str, float]] = field(default_factory=list)
    identity: list[dict[str, float]] = field(default_factory=list)

    def mean(self, which: str = "model") -> dict[str, float]:
        rows = self.model if which == "model" else self.identity
        return {m: float(np.mean([r[m] for r in rows])) if rows else float("nan") for m in METRICS}

    def beats_identity(self) -> dict[str, bool]:
        m, i = self.mean("model"), self.mean("identity")
        return {k: (m[k] < i[k]) if BETTER[k] == "lower" else (m[k] > i[k]) for k in METRICS}

    def as_dict(self) -> dict:
        return {"images": len(self.names), "model": self.mean("model"), "identity": self.mean("identity"),
                "beats_identity": self.beats_identity(),
                "per_image": [{"name": n, "model": m, "identity": i}
                              for n, m, i in zip(self.names, self.model, self.identity)]}

    def table(self) -> list[str]:
        m, i = self.mean("model"), self.mean("identity")
        lines = [f"{'':<10}{'L1':>9}{'PSNR dB':>10}{'SSIM':>8}   ({len(self.names)} images)"]
        for label, row in (("model", m), ("identity", i)):
            lines.append(f"{label:<10}{row['L1']:>9.4f}{row['PSNR']:>10.2f}{row['SSIM']:>8.4f}")
        better = self.beats_identity()
        lines.append("model beats identity in: " + (", ".join(k for k in METRICS if better[k]) or "nothing"))
        return lines


def evaluate(translate: Callable[[np.ndarray], np.ndarray], pairs: Iterable[TestPair], reverse: bool = False,
             keep: int = 0, on_image: Callable[[int], None] | None = None
             ) -> tuple[Evaluation, list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]]:
    """Score ``translate`` (float [0,1] HxWx3 -> same) on ``pairs``; also return the first
    ``keep`` (name, input, output, target) for a contact sheet."""
    result, kept = Evaluation(), []
    for n, pair in enumerate(pairs):
        x, y = load_pair(pair, reverse)
        out = np.clip(np.asarray(translate(x), dtype=np.float32), 0.0, 1.0)
        if out.ndim == 2:
            out = out[..., None]
        if out.shape[-1] == 1:
            out = np.repeat(out, 3, axis=-1)
        if out.shape != y.shape:
            raise DataError(f"{pair.source}: the model returned {out.shape[1]}x{out.shape[0]}x{out.shape[2]} "
                            f"for a {y.shape[1]}x{y.shape[0]}x{y.shape[2]} target")
        result.names.append(pair.name)
        result.model.append(scores(out, y))
        result.identity.append(scores(x, y))
        if len(kept) < keep:
            kept.append((pair.name, x, out, y))
        if on_image is not None:
            on_image(n + 1)
    return result, kept


#: The narrowest a contact sheet's tile is drawn: its label's figures ("out L1 0.123 22.5dB") fit.
MIN_TILE_WIDTH = 128


def contact_sheet(rows: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]], evaluation: Evaluation,
                  path: str | Path, title: str = "", scale: int = 2) -> Path:
    """A PNG with one row per image: input | output | target, each labelled with its L1 and PSNR
    against the target (the input's are the identity figures)."""
    from PIL import Image, ImageDraw

    from gantrans.drawing import draw_label

    if not rows:
        raise DataError("no images to put on a contact sheet")
    h, w = rows[0][1].shape[:2]
    scale = max(scale, -(-MIN_TILE_WIDTH // w))  # small images are enlarged until their figures fit
    cw, ch = w * scale, h * scale
    pad, label_h, header_h = 4, 14, 34
    sheet = Image.new("RGB", (3 * (cw + pad) + pad, header_h + len(rows) * (ch + label_h + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    m, i = evaluation.mean("model"), evaluation.mean("identity")
    draw_label(draw, (pad, 2), title, sheet.width - 2 * pad)
    draw_label(draw, (pad, 17), f"mean L1 {m['L1']:.4f} / {i['L1']:.4f} (id)  PSNR {m['PSNR']:.1f} / "
                                f"{i['PSNR']:.1f}  SSIM {m['SSIM']:.3f} / {i['SSIM']:.3f}", sheet.width - 2 * pad)
    by_name = dict(zip(evaluation.names, zip(evaluation.model, evaluation.identity)))
    for r, (name, x, out, y) in enumerate(rows):
        top = header_h + r * (ch + label_h + pad)
        model_s, ident_s = by_name[name]
        labels = (f"in L1 {ident_s['L1']:.3f} {ident_s['PSNR']:.1f}dB", f"out L1 {model_s['L1']:.3f} "
                  f"{model_s['PSNR']:.1f}dB", f"target {name}")
        for c, (img, label) in enumerate(zip((x, out, y), labels)):
            left = pad + c * (cw + pad)
            tile = Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
            sheet.paste(tile.resize((cw, ch), Image.Resampling.NEAREST), (left, top + label_h))
            draw_label(draw, (left, top + 1), label, cw)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from gantrans.fileio import publish, temp_path_for

    tmp = temp_path_for(path)
    sheet.save(tmp, format="PNG")
    publish(tmp, path)
    return path
