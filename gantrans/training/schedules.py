"""Learning-rate policies of the reference implementation, as ``torch.optim.lr_scheduler`` objects.

All of them step once per epoch. ``linear`` keeps the rate for ``n_epochs`` then decays it
linearly to zero over ``n_epochs_decay``; ``step`` divides it by 10 every ``lr_decay_iters``
epochs; ``cosine`` anneals to zero over the whole run (the reference anneals over ``n_epochs``
only, which makes the rate climb again in the decay epochs).
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, LRScheduler, StepLR

from gantrans.errors import ConfigError


class LinearDecay:
    """The reference's ``lambda_rule`` (an object: its settings travel in the scheduler state)."""

    def __init__(self, n_epochs: int, n_epochs_decay: int):
        self.n_epochs = n_epochs
        self.n_epochs_decay = n_epochs_decay

    def __call__(self, epoch: int) -> float:
        return max(0.0, 1.0 - max(0, epoch + 1 - self.n_epochs) / float(self.n_epochs_decay + 1))


def make_scheduler(optimizer: Optimizer, policy: str, *, epochs: int, n_epochs: int, n_epochs_decay: int,
                   lr_decay_iters: int) -> LRScheduler:
    if policy == "linear":
        return LambdaLR(optimizer, LinearDecay(n_epochs, n_epochs_decay))
    if policy == "step":
        return StepLR(optimizer, step_size=lr_decay_iters, gamma=0.1)
    if policy == "cosine":
        return CosineAnnealingLR(optimizer, T_max=max(1, epochs), eta_min=0.0)
    raise ConfigError(f"unknown lr policy '{policy}'; policies: linear, step, cosine")
