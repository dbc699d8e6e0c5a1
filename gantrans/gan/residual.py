"""A residual output for image-to-image generators: the network predicts a change, not an image.

Why: with a few hundred images the paper generators spend most of training learning to copy
their input, and on small data the discriminator wins before they have (issue 17). With the
input added back, copying is free and the network only has to learn the edit. It does not make
a new generator return its input: its untrained output is not small (normalisation layers
rescale the activations; measured mean |G(x) - x| 0.32 for a fresh ``unet_64``, in [-1, 1]).
The change is scaled by 2 so that, from any input, a tanh head can still reach any output in
[-1, 1] (black to white, a full colourisation); the sum is clamped to that range, and the clamp
is part of the exported graph.
"""

from __future__ import annotations

from torch import Tensor, nn


class ResidualOutput(nn.Module):
    """``clamp(x + 2 * net(x), -1, 1)``; ``net`` must keep the channel count and image size.

    ``colour_map`` replaces the added ``x`` by a learnt global affine map of its colours
    (:class:`ColourMap`), which starts as the identity: ``clamp(M(x) + 2 * net(x), -1, 1)``.

    ``zero_init`` sets the weights and bias of ``net``'s output convolution (:func:`output_layer`)
    to zero, so that a new generator returns its input exactly and the output layer still
    receives gradients from the first step. Measured on unpaired photo grades (CycleGAN,
    docs/small-data.md): it keeps the content where a random start draws artefacts the cycle and
    identity terms then preserve.

    ``channels`` is the image's channel count (the colour map's size); when given, the output
    layer found for ``zero_init`` must produce that many, so a wrong guess is refused instead of
    zeroing a layer in the middle of the network.
    """

    def __init__(self, net: nn.Module, zero_init: bool = False, colour_map: bool = False,
                 channels: int | None = None):
        super().__init__()
        self.net = net
        if zero_init:
            last = output_layer(net)
            if last is None:
                raise ValueError("residual_zero_init: the network has no convolution to start at zero")
            if channels is not None and last.out_channels != channels:
                raise ValueError(f"residual_zero_init: the network's output layer (its 'output_layer' attribute, "
                                 f"else the last convolution it registers) has {last.out_channels} output "
                                 f"channels, not the image's {channels}")
            nn.init.zeros_(last.weight)
            if last.bias is not None:
                nn.init.zeros_(last.bias)
        if colour_map and channels is None:
            last = output_layer(net)
            if last is None:
                raise ValueError("residual_colour_map: give the image's channels")
            channels = last.out_channels
        self.colour = ColourMap(channels) if colour_map else None

    def forward(self, x: Tensor) -> Tensor:
        change = self.net(x)
        if change.shape != x.shape:  # a broadcast or shape error further on would name neither
            raise ValueError(f"a residual generator must keep the size and channels: it returns "
                             f"{change.shape[-1]}x{change.shape[-2]} with {change.shape[1]} channels for a "
                             f"{x.shape[-1]}x{x.shape[-2]} input with {x.shape[1]}")
        base = x if self.colour is None else self.colour(x)
        return (base + 2.0 * change).clamp(-1.0, 1.0)


def output_layer(net: nn.Module) -> nn.Conv2d | nn.ConvTranspose2d | None:
    """The convolution that makes ``net``'s output: its ``output_layer`` attribute when it has
    one, else the last convolution in registration order (the output layer of every built-in
    generator; a plugin network that registers its layers in another order sets the attribute)."""
    own = getattr(net, "output_layer", None)
    if isinstance(own, (nn.Conv2d, nn.ConvTranspose2d)):
        return own
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    return convs[-1] if convs else None


class ColourMap(nn.Module):
    """A learnt global affine colour map, ``x + GAIN * (V x + c)``, starting as the identity.

    Why: a colour grade is mostly one global map of colours, which a convolutional generator
    learns pixel by pixel; here every pixel's gradient lands on the same few weights. GAIN is a
    learning-rate multiplier (Adam moves each weight by about lr per step, whatever its scale).
    """

    GAIN = 20.0

    def __init__(self, channels: int):
        super().__init__()
        self.delta = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.delta.weight)
        nn.init.zeros_(self.delta.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.GAIN * self.delta(x)
