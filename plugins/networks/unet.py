"""U-Net generator of pix2pix as the reference builds it: skip blocks nested from the inside out.

Each :class:`UnetSkipConnectionBlock` wraps the next-inner one in its ``model`` Sequential, so
keys nest as ``model.model.1.model.3...`` exactly like reference checkpoints.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gantrans.errors import ConfigError

from .layers import norm_layer, positive_int, reference_conv_bias


class UnetSkipConnectionBlock(nn.Module):
    """x -> [x, up(inner(down(x)))] (concatenated on channels); the outermost block has no skip."""

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None,
                 submodule: nn.Module | None = None, outermost: bool = False, innermost: bool = False,
                 norm: str = "batch", dropout: bool = False):
        super().__init__()
        self.outermost = outermost
        bias = reference_conv_bias(norm)
        make_norm = norm_layer(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=bias)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            layers = [downconv, submodule, nn.ReLU(True), upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), upconv, make_norm(outer_nc)]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, make_norm(inner_nc), submodule,
                      nn.ReLU(True), upconv, make_norm(outer_nc)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """``num_downs`` stride-2 levels (a 2**num_downs image reaches 1x1 at the bottleneck).

    Dropout (when on) sits in the ``num_downs - 5`` innermost ngf*8 levels, as in the reference.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, num_downs: int = 8, ngf: int = 64,
                 norm: str = "batch", dropout: bool = False):
        super().__init__()
        positive_int("in_channels", in_channels)
        positive_int("out_channels", out_channels)
        positive_int("ngf", ngf)
        if not isinstance(num_downs, int) or num_downs < 5:
            raise ConfigError(f"a U-Net needs num_downs >= 5, got {num_downs!r}")
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm=norm, dropout=dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(out_channels, ngf, input_nc=in_channels, submodule=block,
                                             outermost=True, norm=norm)
        # Sizes this depth takes (multiple, minimum): gantrans reads it when the registered rule is
        # wider, as for the size-following ``unet``.
        self.size_rule = (2**num_downs, 2**num_downs)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
