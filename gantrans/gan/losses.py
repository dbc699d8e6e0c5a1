"""Adversarial objectives behind one small interface.

A recipe asks a loss for the discriminator's terms and for the generator's term, always in the
two-logit form — ``d_loss(real_logits, fake_logits)`` and ``g_loss(fake_logits, real_logits)``
— so it never needs to know which objective the user picked, relativistic ones included. A
loss that judges each logit on its own (vanilla, LSGAN, WGAN, hinge) implements the one-logit
methods ``real_loss``, ``fake_loss`` and ``generator_loss`` and inherits the two-logit form;
a loss that compares real with fake (relativistic) overrides ``d_loss``/``g_loss`` and sets
``needs_real_logits``. Every loss computes in float32 whatever dtype the logits arrive in, so a
recipe running under autocast (bf16/fp16) gets the same numbers as in full precision.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gantrans.errors import ConfigError

__all__ = ["AdversarialLoss", "VanillaLoss", "LSGANLoss", "WGANGPLoss", "HingeLoss", "RaLSGANLoss", "LOSSES",
           "make_loss"]


class AdversarialLoss(nn.Module):
    """Interface of an adversarial objective; logits are raw discriminator outputs (no sigmoid).

    Recipes call the two-logit form:

    - ``d_loss(real_logits, fake_logits) -> (real_term, fake_term)``: the discriminator's loss
      as two scalars whose sum is minimised (logged apart, e.g. ``D_real`` and ``D_fake``);
    - ``g_loss(fake_logits, real_logits=None) -> term``: the generator's loss. ``real_logits``
      (the discriminator on a real batch, computed under the generator's phase) is needed only
      when ``needs_real_logits`` is true; recipes skip that forward pass otherwise.

    One-logit losses implement ``real_loss(logits)``, ``fake_loss(logits)`` and
    ``generator_loss(fake_logits)``, which the two-logit defaults call.
    ``gradient_penalty_weight`` is the weight a recipe should give
    :func:`gantrans.gan.penalty.gradient_penalty` (0: no penalty). ``real_label`` is the
    discriminator's target for real samples (0.9 = one-sided label smoothing); the generator
    always aims at 1.
    """

    name: str = ""
    gradient_penalty_weight: float = 0.0
    needs_real_logits: bool = False

    def __init__(self, real_label: float = 1.0):
        super().__init__()
        self.real_label = float(real_label)

    # -- the two-logit form recipes call ---------------------------------------------------
    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
        return self.real_loss(real_logits), self.fake_loss(fake_logits)

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return self.generator_loss(fake_logits)

    # -- the one-logit form losses implement -------------------------------------------------
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


class RaLSGANLoss(_NoLabelSmoothing):
    """Relativistic average least squares GAN (Jolicoeur-Martineau 2019, "RaLSGAN").

    The discriminator judges whether real data is more realistic than the average fake and the
    reverse: D: ``E_r[(C(r) - E_f C(f) - 1)^2] + E_f[(C(f) - E_r C(r) + 1)^2]``; the generator
    swaps the targets, so it needs the real logits too. Averages run over the batch and, for a
    PatchGAN, over the patches.
    """

    name = "ralsgan"
    needs_real_logits = True

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
        real, fake = _f32(real_logits), _f32(fake_logits)
        return ((real - fake.mean() - 1.0) ** 2).mean(), ((fake - real.mean() + 1.0) ** 2).mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        if real_logits is None:
            raise ConfigError("loss 'ralsgan' is relativistic: the generator loss needs the real logits too "
                              "(call g_loss(fake_logits, real_logits))")
        real, fake = _f32(real_logits), _f32(fake_logits)
        return ((fake - real.mean() - 1.0) ** 2).mean() + ((real - fake.mean() + 1.0) ** 2).mean()

    def _one_logit(self, *args: Any) -> Tensor:
        raise ConfigError("loss 'ralsgan' is relativistic: it compares real and fake logits; call "
                          "d_loss(real_logits, fake_logits) and g_loss(fake_logits, real_logits)")

    real_loss = fake_loss = generator_loss = _one_logit


LOSSES: dict[str, type[AdversarialLoss]] = {
    cls.name: cls for cls in (VanillaLoss, LSGANLoss, WGANGPLoss, HingeLoss, RaLSGANLoss)
}


def make_loss(name: str, **options: float) -> AdversarialLoss:
    """Build one of the built-in losses by name without going through the plugin registry."""
    try:
        cls = LOSSES[name]
    except KeyError:
        raise ConfigError(f"unknown loss '{name}'; available: {', '.join(LOSSES)}") from None
    return cls(**options)
