"""DCGAN generator and discriminator (Radford et al. 2016), unconditional and class-conditional.

Not part of the reference CycleGAN; built the DCGAN way: 4x4 (transposed) convs, stride 2,
channels halving/doubling per level (capped at 8x the base width), BatchNorm by default, no
norm on the discriminator's first layer. Discriminators return one logit per image, shape [N].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gantrans.errors import ConfigError

from .layers import check_norm, norm_layer, positive_int, power_of_two

CONDITIONINGS = ("projection", "concat")


def _levels(image_size: int) -> int:
    """Number of stride-2 steps between 4x4 and ``image_size``."""
    return power_of_two("image_size (the crop size, --crop-size)", image_size, 8).bit_length() - 3


def _generator_body(in_size: int, out_channels: int, ngf: int, image_size: int, norm: str) -> nn.Sequential:
    n = _levels(image_size)
    bias = check_norm(norm) != "batch"
    make_norm = norm_layer(norm)
    mult = min(2 ** (n - 1), 8)
    layers: list[nn.Module] = [nn.ConvTranspose2d(in_size, ngf * mult, 4, 1, 0, bias=bias), make_norm(ngf * mult),
                               nn.ReLU(True)]
    for i in range(n - 1):
        prev, mult = mult, min(2 ** (n - 2 - i), 8)
        layers += [nn.ConvTranspose2d(ngf * prev, ngf * mult, 4, 2, 1, bias=bias), make_norm(ngf * mult),
                   nn.ReLU(True)]
    layers += [nn.ConvTranspose2d(ngf * mult, out_channels, 4, 2, 1), nn.Tanh()]
    return nn.Sequential(*layers)


def _as_latent(z: Tensor, latent_size: int) -> Tensor:
    if z.dim() == 4:
        z = z.flatten(1)
    if torch.jit.is_tracing():  # shapes are symbolic while exporting; checked at run time instead
        return z
    if z.dim() != 2 or z.shape[1] != latent_size:
        raise ValueError(f"expected a latent of shape [N, {latent_size}] or [N, {latent_size}, 1, 1], "
                         f"got {tuple(z.shape)}")
    return z


class DCGANGenerator(nn.Module):
    """z [N, latent_size] (or [N, latent_size, 1, 1]) -> image [N, out_channels, image_size, image_size] in [-1, 1]."""

    def __init__(self, latent_size: int = 100, out_channels: int = 3, ngf: int = 64, image_size: int = 64,
                 norm: str = "batch"):
        super().__init__()
        self.latent_size = positive_int("latent_size", latent_size)
        self.image_size = image_size
        self.model = _generator_body(latent_size, positive_int("out_channels", out_channels),
                                     positive_int("ngf", ngf), image_size, norm)

    def forward(self, z: Tensor) -> Tensor:
        z = _as_latent(z, self.latent_size)
        return self.model(z[:, :, None, None])


class ConditionalDCGANGenerator(nn.Module):
    """(z, labels int64 [N]) -> image; a learned label embedding is concatenated to z."""

    def __init__(self, latent_size: int = 100, num_classes: int = 10, out_channels: int = 3, ngf: int = 64,
                 image_size: int = 64, norm: str = "batch", embedding_size: int | None = None):
        super().__init__()
        self.latent_size = positive_int("latent_size", latent_size)
        self.num_classes = positive_int("num_classes", num_classes)
        self.image_size = image_size
        embedding_size = num_classes if embedding_size is None else positive_int("embedding_size", embedding_size)
        self.embed = nn.Embedding(num_classes, embedding_size)
        self.model = _generator_body(latent_size + embedding_size, positive_int("out_channels", out_channels),
                                     positive_int("ngf", ngf), image_size, norm)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        z = _as_latent(z, self.latent_size)
        h = torch.cat([z, self.embed(labels.long()).to(z.dtype)], dim=1)
        return self.model(h[:, :, None, None])


def _discriminator_features(in_channels: int, ndf: int, image_size: int, norm: str) -> tuple[nn.Sequential, int]:
    """Stride-2 convs from image_size down to 4x4; returns the layers and their output channels."""
    n = _levels(image_size)
    bias = check_norm(norm) != "batch"
    make_norm = norm_layer(norm)
    layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    mult = 1
    for _ in range(n - 1):
        prev, mult = mult, min(mult * 2, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=bias), make_norm(ndf * mult),
                   nn.LeakyReLU(0.2, True)]
    return nn.Sequential(*layers), ndf * mult


def _check_size(x: Tensor, image_size: int) -> None:
    if x.shape[-2:] != (image_size, image_size):
        raise ValueError(f"this discriminator takes {image_size}x{image_size} images, got "
                         f"{x.shape[-2]}x{x.shape[-1]}")


class DCGANDiscriminator(nn.Module):
    """image [N, C, image_size, image_size] -> logits [N]."""

    def __init__(self, in_channels: int = 3, ndf: int = 64, image_size: int = 64, norm: str = "batch"):
        super().__init__()
        self.image_size = image_size
        self.features, channels = _discriminator_features(positive_int("in_channels", in_channels),
                                                          positive_int("ndf", ndf), image_size, norm)
        self.head = nn.Conv2d(channels, 1, 4, 1, 0)

    def forward(self, x: Tensor) -> Tensor:
        _check_size(x, self.image_size)
        return self.head(self.features(x)).flatten()


class ConditionalDCGANDiscriminator(nn.Module):
    """(image, labels int64 [N]) -> logits [N].

    ``projection`` (Miyato & Koyama 2018) adds <embed(label), sum-pooled features> to the
    unconditional logit; ``concat`` appends one-hot label planes to the image channels.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, ndf: int = 64, image_size: int = 64,
                 norm: str = "batch", conditioning: str = "projection"):
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ConfigError(f"unknown conditioning '{conditioning}'; choose one of {', '.join(CONDITIONINGS)}")
        self.num_classes = positive_int("num_classes", num_classes)
        self.conditioning = conditioning
        self.image_size = image_size
        extra = num_classes if conditioning == "concat" else 0
        self.features, channels = _discriminator_features(positive_int("in_channels", in_channels) + extra,
                                                          positive_int("ndf", ndf), image_size, norm)
        self.head = nn.Conv2d(channels, 1, 4, 1, 0)
        if conditioning == "projection":
            self.embed = nn.Embedding(num_classes, channels)
            nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        _check_size(x, self.image_size)
        labels = labels.long()
        if self.conditioning == "concat":
            planes = F.one_hot(labels, self.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, x.shape[2], x.shape[3])], dim=1)
            return self.head(self.features(x)).flatten()
        h = self.features(x)
        projection = (self.embed(labels).to(h.dtype) * h.sum(dim=(2, 3))).sum(dim=1)
        return self.head(h).flatten() + projection
