"""A residual output for image-to-image generators: the network predicts a change, not an image.

Why: with a few hundred images the paper generators spend most of training learning to copy
their input, and on small data the discriminator wins before they have (issue 17). Adding the
input back makes "change little" the starting point: a freshly initialised generator (weights
~N(0, 0.02), tanh head) outputs almost exactly its input, which is already a realistic image.
The change is scaled by 2 so that, from any input, a tanh head can still reach any output in
[-1, 1] (black to white, a full colourisation); the sum is clamped to that range, and the clamp
is part of the exported graph.
"""

from __future__ import annotations

from torch import Tensor, nn


class ResidualOutput(nn.Module):
    """``clamp(x + 2 * net(x), -1, 1)``; ``net`` must keep the channel count and image size."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return (x + 2.0 * self.net(x)).clamp(-1.0, 1.0)
