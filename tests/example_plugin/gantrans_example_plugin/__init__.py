"""A complete minimal third-party plugin: one generator and one recipe.

The same code is shown, step by step, in docs/plugins.md.
"""

from __future__ import annotations

from gantrans import hookimpl


def tiny_generator(in_channels: int = 3, out_channels: int = 3, ngf: int = 8):
    """A two-layer image-to-image generator; torch is imported only when one is built."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(in_channels, ngf, 3, padding=1), nn.ReLU(True),
        nn.Conv2d(ngf, out_channels, 3, padding=1), nn.Tanh(),
    )


@hookimpl
def register_networks(register):
    register("example_tiny", tiny_generator, kind="generator", input="image",
             description="two 3x3 convolutions (example plugin)")


@hookimpl
def register_models(register):
    from gantrans_example_plugin.recipe import L1Recipe

    register(L1Recipe)
