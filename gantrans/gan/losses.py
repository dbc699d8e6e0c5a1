"""Adversarial objectives behind one small interface.

A recipe asks a loss for the discriminator's terms on real and on fake logits and for the
generator's term; it never needs to know which objective the user picked. Every loss computes
in float32 whatever dtype the logits arrive in, so a recipe running under autocast (bf16/fp16)
gets the same numbers as in full precision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gantrans.errors import ConfigError

__all__ = ["AdversarialLoss", "VanillaLoss", "LSGANLoss", "WGANGPLoss", "HingeLoss", "LOSSES", "make_loss"]


class AdversarialLoss(nn.Module):
    """Interface of an adversarial objective; logits are raw discriminator outputs (no sigmoid).

    ``real_loss`` and ``fake_loss`` are the discriminator's terms for real and generated
    samples, ``generator_loss`` the generator's term on the discriminator's logits for its
    fakes. ``gradient_penalty_weight`` is the weight a recipe should give
    :func:`gantrans.gan.penalty.gradient_penalty` (0: no penalty). ``real_label`` is the
    discriminator's target for real samples (0.9 = one-sided label smoothing); the generator
    always aims at 1.
    """

    name: str = ""
    gradient_penalty_weight: float = 0.0

    def __init__(self, real_label: float = 1.0):
        super().__init__()
        self.real_label = float(real_label)

    def real_loss(self, logits: Tensor) -> Tensor:
        raise NotImplementedError

    def fake_loss(self, logits: Tensor) -> Tensor:
        raise NotImplementedError

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, logits: Tensor, target_is_real: bool) -> Tensor:
        """The reference's ``GANLoss(prediction, target_is_real)`` calling convention."""
        return self.real_loss(logits) if target_is_real else self.fake_loss(logits)

    def extra_repr(self) -> str:
        return f"real_label={self.real_label}, gradient_penalty_weight={self.gradient_penalty_weight}"


def _f32(logits: Tensor) -> Tensor:
    return logits.float()


def _full_like(logits: Tensor, value: float) -> Tensor:
    return torch.full_like(logits, value, dtype=torch.float32)


class VanillaLoss(AdversarialLoss):
    """The original GAN objective (BCE on logits) with the non-saturating generator loss."""

    name = "vanilla"

    def real_loss(self, logits: Tensor) -> Tensor:
        x = _f32(logits)
        return F.binary_cross_entropy_with_logits(x, _full_like(x, self.real_label))

    def fake_loss(self, logits: Tensor) -> Tensor:
        x = _f32(logits)
        return F.binary_cross_entropy_with_logits(x, _full_like(x, 0.0))

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        x = _f32(fake_logits)
        return F.binary_cross_entropy_with_logits(x, _full_like(x, 1.0))


class LSGANLoss(AdversarialLoss):
    """Least squares GAN (Mao et al.): mean squared error to 1 (real) and 0 (fake)."""

    name = "lsgan"

    def real_loss(self, logits: Tensor) -> Tensor:
        x = _f32(logits)
        return F.mse_loss(x, _full_like(x, self.real_label))

    def fake_loss(self, logits: Tensor) -> Tensor:
        x = _f32(logits)
        return F.mse_loss(x, _full_like(x, 0.0))

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        x = _f32(fake_logits)
        return F.mse_loss(x, _full_like(x, 1.0))


class _NoLabelSmoothing(AdversarialLoss):
    def __init__(self, real_label: float = 1.0):
        if float(real_label) != 1.0:
            raise ConfigError(f"loss '{self.name}' has no target labels: real_label must stay 1.0, "
                              f"got {real_label}")
        super().__init__(real_label)


class WGANGPLoss(_NoLabelSmoothing):
    """Wasserstein critic loss; pair it with the gradient penalty (Gulrajani et al., weight 10)."""

    name = "wgan-gp"

    def __init__(self, real_label: float = 1.0, gradient_penalty_weight: float = 10.0):
        super().__init__(real_label)
        if gradient_penalty_weight < 0:
            raise ConfigError(f"loss 'wgan-gp': gradient_penalty_weight must be >= 0, got {gradient_penalty_weight}")
        self.gradient_penalty_weight = float(gradient_penalty_weight)

    def real_loss(self, logits: Tensor) -> Tensor:
        return -_f32(logits).mean()

    def fake_loss(self, logits: Tensor) -> Tensor:
        return _f32(logits).mean()

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return -_f32(fake_logits).mean()


class HingeLoss(_NoLabelSmoothing):
    """Hinge loss (SAGAN, BigGAN): relu(1 - D(real)) + relu(1 + D(fake)); generator -D(fake)."""

    name = "hinge"

    def real_loss(self, logits: Tensor) -> Tensor:
        return F.relu(1.0 - _f32(logits)).mean()

    def fake_loss(self, logits: Tensor) -> Tensor:
        return F.relu(1.0 + _f32(logits)).mean()

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return -_f32(fake_logits).mean()


LOSSES: dict[str, type[AdversarialLoss]] = {
    cls.name: cls for cls in (VanillaLoss, LSGANLoss, WGANGPLoss, HingeLoss)
}


def make_loss(name: str, **options: float) -> AdversarialLoss:
    """Build one of the built-in losses by name without going through the plugin registry."""
    try:
        cls = LOSSES[name]
    except KeyError:
        raise ConfigError(f"unknown loss '{name}'; available: {', '.join(LOSSES)}") from None
    return cls(**options)
