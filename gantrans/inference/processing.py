"""Pixels to model tensors and back: channels, value range, size rule.

Sizes that break the model's rule (a multiple of its down-sampling factor, a minimum, or one
fixed size) are padded by reflection (default: no pixel is resampled) or resized, and the
output is cropped or resized back so the result always has the input's size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from gantrans.errors import ConfigError
from gantrans.metadata import ModelContract

RESIZE_MODES = ("pad", "resize")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_unit_float(pixels: np.ndarray) -> np.ndarray:
    """HxWxC uint8/uint16/float to float32 in [0, 1]."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / 255.0
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) / 65535.0
    return np.clip(pixels.astype(np.float32, copy=False), 0.0, 1.0)


def from_unit_float(x: np.ndarray, dtype: np.dtype | type = np.uint8) -> np.ndarray:
    """Float in [0, 1] to rounded uint8 or uint16."""
    peak = 65535.0 if np.dtype(dtype) == np.uint16 else 255.0
    return np.clip(np.rint(x * peak), 0, peak).astype(dtype)


def fit_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Make an HxWxC float image have ``channels`` channels (gray<->RGB, drop a 4th)."""
    c = x.shape[2]
    if c == channels:
        return x
    if c == 4:
        x, c = x[:, :, :3], 3
        if channels == 3:
            return x
    if c == 1 and channels == 3:
        return np.repeat(x, 3, axis=2)
    if c == 3 and channels == 1:
        return (x @ _LUMA)[:, :, None].astype(np.float32)
    raise ConfigError(f"cannot convert a {c}-channel image to the model's {channels} channels")


def to_model_range(x01: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    lo, hi = value_range
    return (x01 * (hi - lo) + lo).astype(np.float32, copy=False)


def from_model_range(y: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    lo, hi = value_range
    return np.clip((y - lo) / (hi - lo), 0.0, 1.0).astype(np.float32, copy=False)


def round_up(n: int, multiple: int) -> int:
    return int(math.ceil(n / multiple) * multiple)


@dataclass(frozen=True)
class SizePlan:
    """How an HxW image is brought to a size the model accepts and back."""

    height: int
    width: int
    target_h: int
    target_w: int
    mode: str
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, bottom, left, right

    @property
    def identity(self) -> bool:
        return (self.height, self.width) == (self.target_h, self.target_w)


def plan_size(height: int, width: int, contract: ModelContract, mode: str = "pad") -> SizePlan:
    """The size to feed for an HxW image under the model's size rule."""
    if mode not in RESIZE_MODES:
        raise ConfigError(f"size mode must be one of {', '.join(RESIZE_MODES)}, not '{mode}'")
    if contract.fixed_size:
        s = int(contract.fixed_size)
        return SizePlan(height, width, s, s, "resize")
    m = max(1, int(contract.size_multiple or 1))
    lo = max(1, int(contract.min_size or 1))
    if mode == "resize":
        th = max(round_up(lo, m), max(m, int(round(height / m)) * m))
        tw = max(round_up(lo, m), max(m, int(round(width / m)) * m))
        return SizePlan(height, width, th, tw, "resize")
    th, tw = round_up(max(height, lo), m), round_up(max(width, lo), m)
    ph, pw = th - height, tw - width
    return SizePlan(height, width, th, tw, "pad", (ph // 2, ph - ph // 2, pw // 2, pw - pw // 2))


def resize_float(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bicubic resize of an HxWxC float image, channel by channel (Pillow mode F)."""
    if x.shape[:2] == (height, width):
        return x
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(x[:, :, k]), mode="F")
                        .resize((width, height), Image.BICUBIC)) for k in range(x.shape[2])]
    return np.stack(chans, axis=2).astype(np.float32, copy=False)


def _reflect_pad(x: np.ndarray, pad: tuple[int, int, int, int]) -> np.ndarray:
    t, b, left, r = pad
    # Reflection needs at least two pixels; a 1-pixel edge is replicated instead.
    mode = "reflect" if min(x.shape[0], x.shape[1]) > 1 else "edge"
    return np.pad(x, ((t, b), (left, r), (0, 0)), mode=mode)


def apply_plan(x: np.ndarray, plan: SizePlan) -> np.ndarray:
    if plan.identity:
        return x
    if plan.mode == "pad":
        return _reflect_pad(x, plan.pad)
    return resize_float(x, plan.target_h, plan.target_w)


def restore_plan(y: np.ndarray, plan: SizePlan) -> np.ndarray:
    """Bring a model output (HxWxC in the fed size, or a scaled size) back to the input's size."""
    if plan.identity and y.shape[:2] == (plan.height, plan.width):
        return y
    if plan.mode == "pad":
        sy, sx = y.shape[0] / plan.target_h, y.shape[1] / plan.target_w
        t, _, left, _ = plan.pad
        y = y[int(round(t * sy)):int(round((t + plan.height) * sy)),
              int(round(left * sx)):int(round((left + plan.width) * sx))]
        if y.shape[:2] == (plan.height, plan.width):
            return y
    return resize_float(y, plan.height, plan.width)


def to_nchw(images: list[np.ndarray]) -> np.ndarray:
    return np.ascontiguousarray(np.stack(images, axis=0).transpose(0, 3, 1, 2), dtype=np.float32)


def from_nchw(batch: np.ndarray) -> list[np.ndarray]:
    return list(np.asarray(batch, dtype=np.float32).transpose(0, 2, 3, 1))
