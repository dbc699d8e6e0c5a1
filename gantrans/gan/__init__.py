"""Toolkit for plugin authors: adversarial losses, gradient penalty, image pool, weight init,
padding layers that keep their precision under autocast, an instance norm whose gradient is
right in channels_last.

Public and stable: a third-party recipe may import anything listed in ``__all__``. This
package imports torch.
"""

from gantrans.gan.batching import samples_independent
from gantrans.gan.diffaugment import diff_augment
from gantrans.gan.init import INIT_TYPES, init_weights
from gantrans.gan.losses import (
    LOSSES,
    AdversarialLoss,
    HingeLoss,
    LSGANLoss,
    RaLSGANLoss,
    VanillaLoss,
    WGANGPLoss,
    make_loss,
)
from gantrans.gan.norm import InstanceNorm2d
from gantrans.gan.padding import ReflectionPad2d, ReplicationPad2d
from gantrans.gan.penalty import gradient_penalty
from gantrans.gan.pool import ImagePool
from gantrans.gan.residual import ResidualOutput

__all__ = [
    "AdversarialLoss",
    "diff_augment",
    "HingeLoss",
    "INIT_TYPES",
    "ImagePool",
    "InstanceNorm2d",
    "ResidualOutput",
    "LOSSES",
    "LSGANLoss",
    "RaLSGANLoss",
    "ReflectionPad2d",
    "ReplicationPad2d",
    "VanillaLoss",
    "WGANGPLoss",
    "gradient_penalty",
    "init_weights",
    "make_loss",
    "samples_independent",
]
