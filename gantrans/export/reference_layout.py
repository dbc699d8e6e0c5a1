"""Recognise a reference CycleGAN/pix2pix generator from its state_dict keys and shapes alone.

A reference checkpoint is a bare ``state_dict``: no options travel with it. The layer layout
of ``ResnetGenerator`` and ``UnetGenerator`` is regular enough to read the architecture back:
block count, U-Net depth, width, normalisation, dropout and channel counts. This module only
looks at key names and shapes (no torch), so it is cheap to test and explains what it saw.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gantrans.errors import CheckpointError


@dataclass(frozen=True)
class GeneratorLayout:
    """What a reference generator's state_dict says about the network that wrote it."""

    family: str  # "resnet" | "unet"
    depth: int  # residual blocks (resnet) or down-samplings (unet)
    ngf: int
    norm: str  # "instance" | "batch" | "none"
    dropout: bool | None  # None: not recorded in the weights (U-Net dropout has no parameters)
    in_channels: int
    out_channels: int

    @property
    def network(self) -> str:
        """The registry name of the equivalent built-in network."""
        if self.family == "resnet":
            return f"resnet_{self.depth}blocks"
        return f"unet_{2 ** self.depth}"

    def describe(self) -> str:
        what = f"{self.depth} residual blocks" if self.family == "resnet" else f"{self.depth} down-samplings"
        return (f"{self.family} generator, {what}, ngf {self.ngf}, {self.norm} norm, "
                f"{self.in_channels}->{self.out_channels} channels")


def _shape(v: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in getattr(v, "shape", ()))


def _unrecognised(source: str, keys: Sequence[str], why: str) -> CheckpointError:
    first = f"first '{keys[0]}'" if keys else "empty"
    return CheckpointError(f"{source}: {len(keys)} keys, {first}; not a ResNet or U-Net generator ({why})")


def _norm_of(sd: Mapping[str, Any], norm_prefix: str, conv_prefix: str) -> str:
    """Batch norm leaves running statistics; instance norm leaves nothing but conv biases."""
    if f"{norm_prefix}.running_mean" in sd:
        return "batch"
    return "instance" if f"{conv_prefix}.bias" in sd else "none"


def _resnet(sd: Mapping[str, Any], source: str) -> GeneratorLayout:
    keys = list(sd)
    first = _shape(sd["model.1.weight"])
    if len(first) != 4 or first[2:] != (7, 7):
        raise _unrecognised(source, keys, f"model.1.weight has shape {list(first)}, expected a 7x7 conv")
    ngf, in_channels = first[0], first[1]
    blocks = sorted({int(m.group(1)) for k in keys if (m := re.match(r"model\.(\d+)\.conv_block\.", k))})
    if blocks and blocks != list(range(blocks[0], blocks[0] + len(blocks))):
        raise _unrecognised(source, keys, f"residual blocks at non-consecutive indices {blocks}")
    second = {int(m.group(2)) for k in keys
              if (m := re.match(r"model\.(\d+)\.conv_block\.(\d+)\.weight$", k)) and len(_shape(sd[k])) == 4}
    second.discard(1)
    if len(second) > 1:
        raise _unrecognised(source, keys, f"residual blocks disagree on layout (second conv at {sorted(second)})")
    dropout = second == {6}
    if second and second - {5, 6}:
        raise _unrecognised(source, keys, f"residual block second conv at conv_block.{second.pop()}")
    norm = _norm_of(sd, "model.2", "model.1")
    convs = [k for k in keys if re.fullmatch(r"model\.\d+\.weight", k) and len(_shape(sd[k])) == 4]
    last = max(convs, key=lambda k: int(k.split(".")[1]))
    last_shape = _shape(sd[last])
    if last_shape[2:] != (7, 7) or last_shape[1] != ngf:
        raise _unrecognised(source, keys, f"last conv {last} has shape {list(last_shape)}, expected 7x7 from {ngf}")
    return GeneratorLayout("resnet", len(blocks), ngf, norm, dropout, in_channels, last_shape[0])


def _unet(sd: Mapping[str, Any], source: str) -> GeneratorLayout:
    keys = list(sd)
    first = _shape(sd["model.model.0.weight"])
    if len(first) != 4 or first[2:] != (4, 4):
        raise _unrecognised(source, keys, f"model.model.0.weight has shape {list(first)}, expected a 4x4 conv")
    ngf, in_channels = first[0], first[1]
    # Every level nests its sub-block at index 1 (outermost) or 3 (the rest): count the levels.
    prefix, depth = "model.model.1", 1
    while any(k.startswith(prefix + ".model.3.model.") for k in keys):
        prefix += ".model.3"
        depth += 1
    depth += 1  # the innermost block itself
    up = _shape(sd.get("model.model.3.weight", ()))
    if len(up) != 4:
        raise _unrecognised(source, keys, "no outermost up-convolution model.model.3.weight")
    norm = _norm_of(sd, "model.model.1.model.2", "model.model.0")
    return GeneratorLayout("unet", depth, ngf, norm, None, in_channels, up[1])


def infer_layout(sd: Mapping[str, Any], source: str = "checkpoint") -> GeneratorLayout:
    """Read the architecture of a reference generator, or raise a one-line :class:`CheckpointError`."""
    keys = list(sd)
    if "model.1.weight" in sd and any(".conv_block." in k for k in keys):
        return _resnet(sd, source)
    if "model.model.0.weight" in sd:
        return _unet(sd, source)
    if "model.1.weight" in sd and "model.4.weight" in sd:  # a ResNet with zero blocks
        return _resnet(sd, source)
    hint = ""
    if keys and all(re.match(r"model\.\d+\.", k) for k in keys) and any(_shape(sd[k])[2:] == (4, 4) for k in keys):
        hint = "it looks like a PatchGAN discriminator"
    raise _unrecognised(source, keys, hint or "unknown key layout")
