"""Built-in plugin 'networks': the reference CycleGAN/pix2pix networks, DCGAN, and the losses.

Generators: ``resnet_6blocks``, ``resnet_9blocks``, ``unet`` (depth from the size), ``unet_32`` ...
``unet_256``, ``dcgan``, ``dcgan_conditional``. Discriminators (logits, no sigmoid): ``patchgan``,
``pixel``, ``dcgan_discriminator``, ``dcgan_discriminator_conditional``. Losses: ``vanilla``, ``lsgan``,
``wgan-gp``, ``hinge``.

This module imports no torch: each factory imports its network module when called, so listing
plugins stays cheap. Layer layouts match the reference so its checkpoints load unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gantrans import hookimpl
from gantrans.options import DISCRIMINATOR_OPTIONS, GENERATOR_OPTIONS, INIT_TYPES, NORMS, Option

PADDINGS = ("reflect", "replicate", "zero")
IMAGE_GENERATOR = GENERATOR_OPTIONS + (
    Option("padding_type", str, "reflect", "padding of the residual blocks' 3x3 convolutions", PADDINGS),)
UNET_GENERATOR = GENERATOR_OPTIONS
SIZED_UNET_GENERATOR = UNET_GENERATOR + (
    Option("image_size", int, 256, "side of the training images (from the data); the U-Net takes as many "
                                   "down-samplings, 5 to 8, as it divides by"),)
_INIT = (Option("init_type", str, "normal", "weight initialisation", INIT_TYPES),
         Option("init_gain", float, 0.02, "scale of the initial weights"))
LATENT_GENERATOR = (
    Option("latent_size", int, 100, "length of z"),
    Option("out_channels", int, 3, "channels of the image made (from the data)"),
    Option("ngf", int, 64, "filters before the last layer; earlier layers scale it"),
    Option("image_size", int, 64, "side of the image made, a power of two >= 8 (from the data)"),
    Option("norm", str, "batch", "normalisation layer", NORMS),
) + _INIT
CONDITIONAL_GENERATOR = LATENT_GENERATOR + (
    Option("num_classes", int, 10, "number of classes (from the data)"),
    Option("embedding_size", int, None, "label embedding length (not set: num_classes)"),
)
PATCHGAN = DISCRIMINATOR_OPTIONS
PIXEL = tuple(o for o in DISCRIMINATOR_OPTIONS if o.name != "n_layers")
DCGAN_DISCRIMINATOR = (
    Option("in_channels", int, 3, "channels of the image judged (from the data)"),
    Option("ndf", int, 64, "filters in the first layer"),
    Option("image_size", int, 64, "side of the images judged, a power of two >= 8 (from the data)"),
    Option("norm", str, "batch", "normalisation layer", NORMS),
) + _INIT
CONDITIONAL_DISCRIMINATOR = DCGAN_DISCRIMINATOR + (
    Option("num_classes", int, 10, "number of classes (from the data)"),
    Option("conditioning", str, "projection", "projection (Miyato & Koyama) or concat of a label map",
           ("projection", "concat")),
)

# -- factories: generators from images ------------------------------------------------------


def _init(net: Any, init_type: str, init_gain: float) -> Any:
    from gantrans.gan.init import init_weights

    return init_weights(net, init_type, init_gain)


def _resnet(n_blocks: int) -> Callable[..., Any]:
    def factory(in_channels: int = 3, out_channels: int = 3, ngf: int = 64, norm: str = "instance",
                dropout: bool = False, init_type: str = "normal", init_gain: float = 0.02,
                padding_type: str = "reflect") -> Any:
        from gantrans_plugins.networks.resnet import ResnetGenerator

        net = ResnetGenerator(in_channels, out_channels, ngf, n_blocks=n_blocks, norm=norm, dropout=dropout,
                              padding_type=padding_type)
        return _init(net, init_type, init_gain)

    factory.__name__ = factory.__qualname__ = f"resnet_{n_blocks}blocks"
    factory.__doc__ = f"ResNet generator with {n_blocks} residual blocks (reference ResnetGenerator)."
    return factory


def _unet(num_downs: int) -> Callable[..., Any]:
    def factory(in_channels: int = 3, out_channels: int = 3, ngf: int = 64, norm: str = "instance",
                dropout: bool = False, init_type: str = "normal", init_gain: float = 0.02,
                padding_type: str = "reflect") -> Any:
        from gantrans_plugins.networks.unet import UnetGenerator

        del padding_type  # accepted so every image generator takes the same options
        net = UnetGenerator(in_channels, out_channels, num_downs, ngf, norm=norm, dropout=dropout)
        return _init(net, init_type, init_gain)

    factory.__name__ = factory.__qualname__ = f"unet_{2**num_downs}"
    factory.__doc__ = f"U-Net generator with {num_downs} down-samplings (reference UnetGenerator)."
    return factory


# -- factories: generators from latents -----------------------------------------------------


def dcgan(latent_size: int = 100, out_channels: int = 3, ngf: int = 64, image_size: int = 64,
          norm: str = "batch", init_type: str = "normal", init_gain: float = 0.02) -> Any:
    """DCGAN generator: z [N, latent_size] -> image [N, out_channels, image_size, image_size]."""
    from gantrans_plugins.networks.dcgan_nets import DCGANGenerator

    return _init(DCGANGenerator(latent_size, out_channels, ngf, image_size, norm), init_type, init_gain)


def dcgan_conditional(latent_size: int = 100, num_classes: int = 10, out_channels: int = 3, ngf: int = 64,
                      image_size: int = 64, norm: str = "batch", init_type: str = "normal",
                      init_gain: float = 0.02, embedding_size: int | None = None) -> Any:
    """Class-conditional DCGAN generator: (z, labels) -> image; label embedding concatenated to z."""
    from gantrans_plugins.networks.dcgan_nets import ConditionalDCGANGenerator

    net = ConditionalDCGANGenerator(latent_size, num_classes, out_channels, ngf, image_size, norm, embedding_size)
    return _init(net, init_type, init_gain)


# -- factories: discriminators --------------------------------------------------------------


def patchgan(in_channels: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance",
             init_type: str = "normal", init_gain: float = 0.02) -> Any:
    """PatchGAN discriminator (reference NLayerDiscriminator; 70x70 patches at n_layers=3)."""
    from gantrans_plugins.networks.patchgan_nets import NLayerDiscriminator

    return _init(NLayerDiscriminator(in_channels, ndf, n_layers, norm), init_type, init_gain)


def pixel(in_channels: int = 3, ndf: int = 64, norm: str = "instance", init_type: str = "normal",
          init_gain: float = 0.02) -> Any:
    """1x1 PixelGAN discriminator (reference PixelDiscriminator)."""
    from gantrans_plugins.networks.patchgan_nets import PixelDiscriminator

    return _init(PixelDiscriminator(in_channels, ndf, norm), init_type, init_gain)


def dcgan_discriminator(in_channels: int = 3, ndf: int = 64, image_size: int = 64, norm: str = "batch",
                        init_type: str = "normal", init_gain: float = 0.02) -> Any:
    """DCGAN discriminator: image [N, C, image_size, image_size] -> logits [N]."""
    from gantrans_plugins.networks.dcgan_nets import DCGANDiscriminator

    return _init(DCGANDiscriminator(in_channels, ndf, image_size, norm), init_type, init_gain)


def dcgan_discriminator_conditional(in_channels: int = 3, num_classes: int = 10, ndf: int = 64,
                                    image_size: int = 64, norm: str = "batch",
                                    conditioning: str = "projection", init_type: str = "normal",
                                    init_gain: float = 0.02) -> Any:
    """Class-conditional DCGAN discriminator: (image, labels) -> logits [N]."""
    from gantrans_plugins.networks.dcgan_nets import ConditionalDCGANDiscriminator

    net = ConditionalDCGANDiscriminator(in_channels, num_classes, ndf, image_size, norm, conditioning)
    return _init(net, init_type, init_gain)


resnet_6blocks = _resnet(6)
resnet_9blocks = _resnet(9)
unet_32, unet_64, unet_128, unet_256 = (_unet(n) for n in (5, 6, 7, 8))


def unet_depth(image_size: int) -> int:
    """Down-samplings of the size-following U-Net: as many as the size allows (each halves it
    exactly), at most the paper's 8 and at least the 5 the reference's layout needs."""
    depth = 0
    while depth < 8 and image_size % 2 ** (depth + 1) == 0:
        depth += 1
    return max(depth, 5)  # a size that is no multiple of 32 is refused by the size rule, with advice


def sized_unet(in_channels: int = 3, out_channels: int = 3, ngf: int = 64, norm: str = "instance",
               dropout: bool = False, init_type: str = "normal", init_gain: float = 0.02,
               padding_type: str = "reflect", image_size: int = 256) -> Any:
    """U-Net whose depth follows the image size: ``unet_256`` at 256 px (the paper's), ``unet_64``
    at 64 px, ``unet_32`` at 96 px; the built network tells gantrans its own size rule."""
    return _unet(unet_depth(image_size))(in_channels, out_channels, ngf, norm, dropout, init_type, init_gain,
                                         padding_type)


# -- factories: losses ----------------------------------------------------------------------


def vanilla(real_label: float = 1.0) -> Any:
    """BCE on logits; non-saturating generator loss."""
    from gantrans.gan.losses import VanillaLoss

    return VanillaLoss(real_label)


def lsgan(real_label: float = 1.0) -> Any:
    """Least squares GAN: MSE to 1 (real) and 0 (fake)."""
    from gantrans.gan.losses import LSGANLoss

    return LSGANLoss(real_label)


def wgan_gp(real_label: float = 1.0, gradient_penalty_weight: float = 10.0) -> Any:
    """Wasserstein loss with gradient penalty (weight 10)."""
    from gantrans.gan.losses import WGANGPLoss

    return WGANGPLoss(real_label, gradient_penalty_weight)


def ralsgan(real_label: float = 1.0) -> Any:
    """Relativistic average LSGAN: real vs the average fake and back (needs both logits)."""
    from gantrans.gan.losses import RaLSGANLoss

    return RaLSGANLoss(real_label)


def hinge(real_label: float = 1.0) -> Any:
    """Hinge loss (SAGAN/BigGAN)."""
    from gantrans.gan.losses import HingeLoss

    return HingeLoss(real_label)


# -- hooks ------------------------------------------------------------------------------------


@hookimpl
def register_networks(register: Callable[..., None]) -> None:
    g, d = "generator", "discriminator"
    for n_blocks, factory in ((6, resnet_6blocks), (9, resnet_9blocks)):
        register(f"resnet_{n_blocks}blocks", factory, kind=g, input="image", size_multiple=4, min_size=8,
                 options=IMAGE_GENERATOR, description=f"ResNet generator, {n_blocks} residual blocks (CycleGAN); sizes multiple of 4")
    for num_downs, factory in zip((5, 6, 7, 8), (unet_32, unet_64, unet_128, unet_256)):
        size = 2**num_downs
        register(f"unet_{size}", factory, kind=g, input="image", size_multiple=size, min_size=size,
                 options=UNET_GENERATOR, description=f"U-Net generator, {num_downs} down-samplings (pix2pix); sizes multiple of {size}")
    # not named ``unet`` in this module: the submodule ``unet`` would shadow it once imported
    register("unet", sized_unet, kind=g, input="image", size_multiple=32, min_size=32, options=SIZED_UNET_GENERATOR,
             description="U-Net whose depth follows the crop size (pix2pix's default): unet_256 at 256 px, "
                         "unet_64 at 64 px; sizes multiple of 32")
    register("dcgan", dcgan, kind=g, input="latent", size_multiple=8, min_size=8, fixed_size_option="image_size",
             options=LATENT_GENERATOR, description="DCGAN generator from a latent vector; output image_size (a power of two >= 8)")
    register("dcgan_conditional", dcgan_conditional, kind=g, input="latent+label", size_multiple=8, min_size=8,
             fixed_size_option="image_size", options=CONDITIONAL_GENERATOR,
             description="class-conditional DCGAN generator (label embedding concatenated to z)")
    register("patchgan", patchgan, kind=d, input="image", size_multiple=1, min_size=24, options=PATCHGAN,
             description="PatchGAN discriminator (70x70 at n_layers=3; min size 3*2**n_layers), logits")
    register("pixel", pixel, kind=d, input="image", size_multiple=1, min_size=1, options=PIXEL,
             description="1x1 PixelGAN discriminator, logits")
    register("dcgan_discriminator", dcgan_discriminator, kind=d, input="image", size_multiple=8, min_size=8,
             fixed_size_option="image_size", options=DCGAN_DISCRIMINATOR,
             description="DCGAN discriminator for image_size x image_size images, one logit per image")
    register("dcgan_discriminator_conditional", dcgan_discriminator_conditional, kind=d, input="image+label",
             size_multiple=8, min_size=8, fixed_size_option="image_size", options=CONDITIONAL_DISCRIMINATOR,
             description="class-conditional DCGAN discriminator (projection or concat), one logit per image")


@hookimpl
def register_losses(register: Callable[..., None]) -> None:
    register("vanilla", vanilla, description="BCE on logits, non-saturating generator loss")
    register("lsgan", lsgan, description="least squares GAN (CycleGAN's default)")
    register("wgan-gp", wgan_gp, description="Wasserstein loss with gradient penalty 10")
    register("hinge", hinge, description="hinge loss (SAGAN/BigGAN)")
    register("ralsgan", ralsgan, description="relativistic average LSGAN (Jolicoeur-Martineau): compares real "
                                             "and fake logits")
