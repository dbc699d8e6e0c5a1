"""Differentiable augmentation of everything the discriminator sees (DiffAugment, Zhao et al.,
"Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020).

With a few hundred images a discriminator soon memorises the real ones and its verdicts stop
teaching the generator anything. Augmenting real *and* fake images, in both players' losses and
differentiably (so the generator's gradient passes through), keeps the discriminator from
memorising without teaching the generator to draw augmented images. Draws come from torch's
global generator, which checkpoints save, so resumed runs stay exact.

Policies: ``color`` (brightness, saturation, contrast), ``translation`` (shift by up to 1/8 of
the size, zero fill), ``cutout`` (a zeroed square of half the size).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

POLICIES = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def parse_policy(text: str) -> tuple[str, ...]:
    """``"color,translation"`` -> ``("color", "translation")``; ``""`` or ``"none"`` -> ``()``."""
    names = tuple(p.strip() for p in str(text or "").split(",") if p.strip() and p.strip() != "none")
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown augmentation '{unknown[0]}'; choose from {', '.join(POLICIES)} "
                         f"(comma-separated), or none")
    return names


def _per_sample(x: Tensor) -> Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)


def color(x: Tensor) -> Tensor:
    x = x + (_per_sample(x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_per_sample(x) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_per_sample(x) + 0.5) + mean


def translation(x: Tensor, ratio: float = TRANSLATION_RATIO) -> Tensor:
    n, _, h, w = x.shape
    sy, sx = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    ty = torch.randint(-sy, sy + 1, (n, 1), device=x.device)
    tx = torch.randint(-sx, sx + 1, (n, 1), device=x.device)
    padded = F.pad(x, [sx, sx, sy, sy])
    rows = torch.arange(h, device=x.device)[None, :] + sy + ty  # N x H, in the padded image
    cols = torch.arange(w, device=x.device)[None, :] + sx + tx  # N x W
    batch = torch.arange(n, device=x.device)[:, None, None]
    moved = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    # The gather leaves channels last in memory. Handed on like that, a CPU discriminator ran all
    # its convolutions in oneDNN's channels-last kernels, reordering its weights and copying their
    # gradients at every call: the 64 px CycleGAN step was 3-5 % slower (bf16). Same numbers.
    keep = torch.channels_last if x.dim() == 4 and not x.is_contiguous() and \
        x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    return moved.contiguous(memory_format=keep)


def cutout(x: Tensor, ratio: float = CUTOUT_RATIO) -> Tensor:
    n, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    top = torch.randint(0, h + 1, (n, 1, 1), device=x.device) - ch // 2  # centre anywhere in the image
    left = torch.randint(0, w + 1, (n, 1, 1), device=x.device) - cw // 2
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    hole = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)
    return x * (~hole)[:, None].to(x.dtype)


_OPS: dict[str, Callable[[Tensor], Tensor]] = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: Tensor, policy: tuple[str, ...] | str) -> Tensor:
    """``x`` (N x C x H x W, values around [-1, 1]) with each policy applied in turn, per sample."""
    for name in parse_policy(policy) if isinstance(policy, str) else policy:
        x = _OPS[name](x)
    return x


class Augmented:
    """A discriminator that sees augmented images: ``Augmented(D, policy)(x, *extra)``.

    Only the image is augmented; extra inputs (class labels) pass unchanged.
    """

    def __init__(self, discriminator: Callable[..., Tensor], policy: tuple[str, ...]):
        self.discriminator, self.policy = discriminator, policy

    def __call__(self, x: Tensor, *extra: object) -> Tensor:
        return self.discriminator(diff_augment(x, self.policy), *extra)
