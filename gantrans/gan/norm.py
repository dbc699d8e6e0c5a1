"""Instance normalisation whose input gradient is right when its gradient arrives channels-last.

Why: in torch 2.14, ``instance_norm``'s backward returns a wrong input gradient (off by more
than the gradient itself) for a batch of one image when the gradient reaching its output is
in channels-last layout — which is what a ResNet block trained in channels_last hands it (the
convolution after the norm returns its input gradient in that layout). Measured on the CPU in
float32 and float64; batch norm, group norm and batches of two or more are right. Training runs
channels_last on CUDA, and ``bench train --memory-format channels_last`` on a CPU; CycleGAN's
batch is one image. This layer gives torch's backward the gradient in the contiguous layout of
the norm's own output. Otherwise it is ``nn.InstanceNorm2d``: same state dict, same exported
graph (no hook is added without autograd).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _contiguous(grad: Tensor) -> Tensor:
    return grad.contiguous()


class InstanceNorm2d(nn.InstanceNorm2d):
    """``nn.InstanceNorm2d`` with the gradient layout fixed (see the module)."""

    def forward(self, x: Tensor) -> Tensor:
        out = super().forward(x)
        if out.requires_grad and not torch.compiler.is_compiling():
            out.register_hook(_contiguous)
        return out
