"""PatchGAN and PixelGAN discriminators as the reference builds them (logits, no sigmoid).

The PatchGAN classifies overlapping patches: with ``n_layers=3`` each output logit sees a 70x70
receptive field. Its layers live in one Sequential named ``model`` (the PixelGAN's in ``net``),
matching reference checkpoint keys.
"""

from __future__ import annotations

from torch import Tensor, nn

from .layers import norm_layer, positive_int, reference_conv_bias


class NLayerDiscriminator(nn.Module):
    """conv4 s2 + LeakyReLU, (n_layers-1) x [conv4 s2, norm, LeakyReLU], conv4 s1 + norm + LeakyReLU, conv4 s1 -> 1."""

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        positive_int("in_channels", in_channels)
        positive_int("ndf", ndf)
        positive_int("n_layers", n_layers)
        bias = reference_conv_bias(norm)
        make_norm = norm_layer(norm)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, kernel_size=4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=2, padding=1, bias=bias),
                       make_norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=1, padding=1, bias=bias),
                   make_norm(ndf * mult), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PixelGAN: classifies every pixel on its own (colour statistics, no spatial structure)."""

    def __init__(self, in_channels: int = 3, ndf: int = 64, norm: str = "instance"):
        super().__init__()
        positive_int("in_channels", in_channels)
        positive_int("ndf", ndf)
        bias = reference_conv_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, ndf, kernel_size=1, stride=1, padding=0),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, stride=1, padding=0, bias=bias),
            norm_layer(norm)(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, kernel_size=1, stride=1, padding=0, bias=bias),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
