"""Training and evaluation transforms, after the reference CycleGAN/pix2pix ``get_transform``.

Built from ``torchvision.transforms.v2`` so that several images passed to one call (A and B of
a pair) get the same random crop and flip. Randomness comes from torch's global generator;
the data sets seed it per item (see :mod:`gantrans.data.datasets`), so the transforms stay
plain, picklable v2 modules.

``preprocess`` (train / ``train=False``):

* ``resize_and_crop``: resize to ``load_size`` x ``load_size``, random ``crop_size`` crop /
  resize to ``crop_size`` x ``crop_size``.
* ``scale_width_and_crop``: width to ``load_size`` keeping the aspect (height at least
  ``crop_size``), random crop / width to ``crop_size``, centre crop.
* ``scale_width``: as the reference, no crop: width to ``load_size`` keeping the aspect / width
  to ``crop_size``. Images of different aspect ratios then differ in height (batch size 1).
* ``crop``: random crop / centre crop, no resize (reflect-padded when smaller than ``crop_size``).
* ``none``: keep the size, resized down to a multiple of ``size_multiple`` (both modes).

Then a horizontal flip (train and ``flip`` only) and scaling to [-1, 1].
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from gantrans.errors import ConfigError

PREPROCESS_MODES = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")
_BICUBIC = v2.InterpolationMode.BICUBIC


class ScaleWidth(v2.Transform):
    """Resize so the width is ``width`` and the height keeps the aspect, but is at least ``min_height``."""

    def __init__(self, width: int, min_height: int = 1):
        super().__init__()
        self.width = int(width)
        self.min_height = int(min_height)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        h, w = v2.query_size(flat_inputs)
        new_h = max(int(round(self.width * h / w)), self.min_height)
        return {"size": [new_h, self.width]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return F.resize(inpt, params["size"], interpolation=_BICUBIC, antialias=True)


class ToMultiple(v2.Transform):
    """Resize down to the nearest multiple of ``multiple`` on each side (the reference's make_power_2)."""

    def __init__(self, multiple: int):
        super().__init__()
        self.multiple = max(int(multiple), 1)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        h, w = v2.query_size(flat_inputs)
        m = self.multiple
        return {"size": [max(h // m * m, m), max(w // m * m, m)], "same": h % m == 0 and w % m == 0}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if params["same"]:
            return inpt
        return F.resize(inpt, params["size"], interpolation=_BICUBIC, antialias=True)


class ReflectPadAtLeast(v2.Transform):
    """Mirror an image outwards, as often as needed, until each side is at least ``size``.

    ``RandomCrop(pad_if_needed=True, padding_mode="reflect")`` pads by the whole shortfall in
    one go, which reflection cannot do once an image is half the crop or less (torch refuses a
    pad as large as the side): such images are first mirrored up to just over half the crop
    here; larger ones pass untouched, so their crops are exactly the reference's. A side of
    one pixel has nothing to mirror and is repeated.
    """

    def __init__(self, size: int):
        super().__init__()
        self.size = int(size)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"size": v2.query_size(flat_inputs)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        h, w = params["size"]
        while h < self.size or w < self.size:
            dy = min(max(h - 1, 1), self.size - h) if h < self.size else 0
            dx = min(max(w - 1, 1), self.size - w) if w < self.size else 0
            mode = "edge" if (dy and h == 1) or (dx and w == 1) else "reflect"
            inpt = F.pad(inpt, [dx // 2, dy // 2, dx - dx // 2, dy - dy // 2], padding_mode=mode)
            h, w = h + dy, w + dx
        return inpt


def build_transform(*, channels: int = 3, preprocess: str = "resize_and_crop", load_size: int = 286,
                    crop_size: int = 256, flip: bool = True, train: bool = True,
                    size_multiple: int = 1) -> v2.Compose:
    """The v2 pipeline from a uint8 ``tv_tensors.Image`` (C x H x W) to a float tensor in [-1, 1]."""
    if preprocess not in PREPROCESS_MODES:
        raise ConfigError(f"unknown preprocess '{preprocess}'; choose from {', '.join(PREPROCESS_MODES)}")
    if crop_size < 1 or load_size < 1:
        raise ConfigError(f"load_size and crop_size must be positive (got {load_size} and {crop_size})")
    if train and preprocess in ("resize_and_crop", "scale_width_and_crop") and load_size < crop_size:
        raise ConfigError(f"load_size ({load_size}) must be at least crop_size ({crop_size})")
    steps: list[v2.Transform] = []
    if preprocess == "resize_and_crop":
        if train:
            steps += [v2.Resize([load_size, load_size], interpolation=_BICUBIC, antialias=True),
                      v2.RandomCrop(crop_size)]
        else:
            steps += [v2.Resize([crop_size, crop_size], interpolation=_BICUBIC, antialias=True)]
    elif preprocess == "scale_width_and_crop":
        if train:
            steps += [ScaleWidth(load_size, crop_size), v2.RandomCrop(crop_size)]
        else:
            steps += [ScaleWidth(crop_size, crop_size), v2.CenterCrop(crop_size)]
    elif preprocess == "scale_width":
        steps += [ScaleWidth(load_size if train else crop_size, crop_size)]
    elif preprocess == "crop":
        steps += ([ReflectPadAtLeast(crop_size // 2 + 1),
                   v2.RandomCrop(crop_size, pad_if_needed=True, padding_mode="reflect")] if train
                  else [v2.CenterCrop(crop_size)])
    if size_multiple > 1:
        steps.append(ToMultiple(size_multiple))
    if train and flip:
        steps.append(v2.RandomHorizontalFlip(0.5))
    steps += [v2.ToDtype(torch.float32, scale=True),
              v2.Normalize([0.5] * channels, [0.5] * channels)]
    return v2.Compose(steps)


def to_tv_image(pixels: Any) -> tv_tensors.Image:
    """H x W x C uint8 numpy array -> C x H x W ``tv_tensors.Image`` (no copy of the data)."""
    if not pixels.flags.writeable or not pixels.flags.c_contiguous:
        pixels = pixels.copy()
    t = torch.from_numpy(pixels)
    if t.ndim == 2:
        t = t[..., None]
    return tv_tensors.Image(t.permute(2, 0, 1))


def apply(transform: v2.Compose, *images: Any) -> tuple[torch.Tensor, ...]:
    """Run ``transform`` once over all ``images`` (same random parameters) and return plain tensors."""
    out = transform(*[to_tv_image(p) if not isinstance(p, torch.Tensor) else p for p in images])
    if len(images) == 1:
        out = (out,)
    return tuple(o.as_subclass(torch.Tensor) for o in out)
