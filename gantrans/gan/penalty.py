"""WGAN-GP gradient penalty (Gulrajani et al. 2017), safe under mixed precision.

The penalty differentiates the critic with respect to its input and then back-propagates
through that gradient (double backward). In bf16/fp16 the input gradient is too coarse and can
overflow, so it is always computed in float32 with autocast switched off, whatever the caller's
context; the result is an ordinary float32 loss term that a GradScaler may scale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["gradient_penalty"]


def gradient_penalty(discriminator: Callable[..., Tensor], real: Tensor, fake: Tensor, *extra_inputs: Any,
                     weight: float | None = None) -> Tensor:
    """Mean over samples of ``(||grad_x D(x)||_2 - 1)^2`` at random points between real and fake.

    One interpolation factor per sample from torch's global RNG (so a checkpointed RNG state
    reproduces it). ``extra_inputs`` (e.g. labels) are passed to ``discriminator`` after the
    image. ``weight`` multiplies the result (``None``: unweighted). The graph is kept
    (``create_graph=True``) so the result back-propagates into the discriminator's parameters.
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    device_type = real.device.type
    with torch.autocast(device_type=device_type, enabled=False):
        real32 = real.detach().float()
        fake32 = fake.detach().float()
        alpha = torch.rand((real32.shape[0],) + (1,) * (real32.dim() - 1)).to(real32.device)
        mixed = (alpha * real32 + (1.0 - alpha) * fake32).requires_grad_(True)
        out = discriminator(mixed, *extra_inputs).float()
        (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
        norms = torch.linalg.vector_norm(grad.flatten(1), ord=2, dim=1)
        penalty = ((norms - 1.0) ** 2).mean()
    return penalty if weight is None else penalty * float(weight)
