"""gantrans plugin 'onesided': what it registers. Imports no torch, so listing plugins stays fast."""

from gantrans import hookimpl
from gantrans.options import GENERATOR_OPTIONS, Option


def resize_resnet(in_channels=3, out_channels=3, ngf=64, norm="instance", dropout=False,
                  init_type="normal", init_gain=0.02, n_blocks=6):
    """Build the generator; gantrans passes the options this signature names."""
    from gantrans.gan import init_weights
    from gantrans_onesided.network import ResizeResnet

    net = ResizeResnet(in_channels, out_channels, ngf, norm, dropout, n_blocks)
    return init_weights(net, init_type, init_gain)


def rasgan(real_label=1.0):
    from gantrans_onesided.loss import RaSGANLoss

    return RaSGANLoss(real_label)


@hookimpl
def register_networks(register):
    register("resize_resnet", resize_resnet, kind="generator", input="image", size_multiple=4, min_size=8,
             options=GENERATOR_OPTIONS + (Option("n_blocks", int, 6, "residual blocks"),),
             description="ResNet generator upsampling by resize-convolution (no checkerboard artefacts)")


@hookimpl
def register_losses(register):
    register("rasgan", rasgan, description="relativistic average standard GAN (needs real and fake logits)")


@hookimpl
def register_models(register):
    from gantrans_onesided.recipe import OneSided

    register(OneSided)
