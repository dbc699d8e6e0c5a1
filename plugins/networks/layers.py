"""Normalisation and bias choices shared by the networks, as the reference makes them."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from gantrans.errors import ConfigError
from gantrans.gan import InstanceNorm2d
from gantrans.options import NORMS


def check_norm(norm: str) -> str:
    if norm not in NORMS:
        raise ConfigError(f"unknown norm '{norm}'; choose one of {', '.join(NORMS)}")
    return norm


def norm_layer(norm: str) -> Callable[[int], nn.Module]:
    """A constructor ``f(channels) -> module`` for the named normalisation.

    ``instance`` has no parameters and no running statistics (affine=False,
    track_running_stats=False; gantrans's layer, whose gradient is right in channels_last) and
    ``none`` is an Identity that still occupies its slot in the layer list: both exactly as the
    reference, so state_dict indices line up with its checkpoints.
    """
    check_norm(norm)
    if norm == "batch":
        return lambda channels: nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    if norm == "instance":
        return lambda channels: InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return lambda channels: nn.Identity()


def reference_conv_bias(norm: str) -> bool:
    """The reference gives convs before a norm a bias only with instance norm (``none`` too has none)."""
    return check_norm(norm) == "instance"


def positive_int(what: str, value: int, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def power_of_two(what: str, value: int, minimum: int) -> int:
    positive_int(what, value, minimum)
    if value & (value - 1):
        below = 1 << (value.bit_length() - 1)
        near = ", ".join(str(v) for v in (below, below * 2) if v >= minimum)
        raise ConfigError(f"{what} must be a power of two >= {minimum}, got {value} (nearest that fit: {near})")
    return value
