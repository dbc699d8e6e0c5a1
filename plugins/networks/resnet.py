"""ResNet generator of Johnson et al. as the reference CycleGAN builds it.

Layout matters: one ``nn.Sequential`` named ``model`` holding every layer (residual blocks with
their own ``conv_block``), so reference checkpoints load without renaming keys.
"""

from __future__ import annotations

from torch import Tensor, nn

from gantrans.errors import ConfigError
from gantrans.gan import ReflectionPad2d, ReplicationPad2d

from . import PADDINGS
from .layers import norm_layer, positive_int, reference_conv_bias


def _padding(padding_type: str) -> tuple[list[nn.Module], int]:
    """Explicit pad layers plus the conv's own padding for one 3x3 conv."""
    if padding_type == "reflect":
        return [ReflectionPad2d(1)], 0
    if padding_type == "replicate":
        return [ReplicationPad2d(1)], 0
    if padding_type == "zero":
        return [], 1
    raise ConfigError(f"unknown padding_type '{padding_type}'; choose one of {', '.join(PADDINGS)}")


class ResnetBlock(nn.Module):
    """x + (pad, conv3x3, norm, ReLU, [dropout 0.5], pad, conv3x3, norm)(x)."""

    def __init__(self, dim: int, padding_type: str, norm: str, dropout: bool, bias: bool):
        super().__init__()
        make_norm = norm_layer(norm)
        layers: list[nn.Module] = []
        pad, p = _padding(padding_type)
        layers += [*pad, nn.Conv2d(dim, dim, kernel_size=3, padding=p, bias=bias), make_norm(dim), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        pad, p = _padding(padding_type)
        layers += [*pad, nn.Conv2d(dim, dim, kernel_size=3, padding=p, bias=bias), make_norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """7x7 conv, two stride-2 convs, ``n_blocks`` residual blocks, two transposed convs, 7x7 conv, tanh.

    Spatial sizes that are multiples of 4 come back unchanged.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, n_blocks: int = 9,
                 norm: str = "instance", dropout: bool = False, padding_type: str = "reflect"):
        super().__init__()
        positive_int("in_channels", in_channels)
        positive_int("out_channels", out_channels)
        positive_int("ngf", ngf)
        positive_int("n_blocks", n_blocks, 0)
        _padding(padding_type)
        bias = reference_conv_bias(norm)
        make_norm = norm_layer(norm)
        layers: list[nn.Module] = [
            ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, kernel_size=7, padding=0, bias=bias),
            make_norm(ngf),
            nn.ReLU(True),
        ]
        n_down = 2
        for i in range(n_down):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, c * 2, kernel_size=3, stride=2, padding=1, bias=bias), make_norm(c * 2),
                       nn.ReLU(True)]
        dim = ngf * 2**n_down
        layers += [ResnetBlock(dim, padding_type, norm, dropout, bias) for _ in range(n_blocks)]
        for i in range(n_down):
            c = ngf * 2 ** (n_down - i)
            layers += [nn.ConvTranspose2d(c, c // 2, kernel_size=3, stride=2, padding=1, output_padding=1,
                                          bias=bias),
                       make_norm(c // 2), nn.ReLU(True)]
        layers += [ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
