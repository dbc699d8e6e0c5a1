"""Weight initialisation as the reference CycleGAN/pix2pix does it.

The reference initialises every conv/linear weight from one scheme and every BatchNorm weight
from N(1, gain); matching it keeps trained results comparable with published ones.
"""

from __future__ import annotations

from torch import nn
from torch.nn import init

from gantrans.errors import ConfigError
from gantrans.options import INIT_TYPES


def init_weights(net: nn.Module, init_type: str = "normal", init_gain: float = 0.02) -> nn.Module:
    """Initialise ``net`` in place (and return it) with the reference's ``init_weights``.

    ``init_type`` is ``normal`` (N(0, gain)), ``xavier`` (xavier_normal with gain),
    ``kaiming`` (kaiming_normal, fan_in, gain unused) or ``orthogonal`` (with gain). Conv and
    linear biases become 0; BatchNorm weights N(1, gain) and biases 0. Other modules (e.g.
    embeddings) keep torch's defaults, as in the reference.
    """
    if init_type not in INIT_TYPES:
        raise ConfigError(f"unknown init_type '{init_type}'; choose one of {', '.join(INIT_TYPES)}")

    def init_one(m: nn.Module) -> None:
        classname = type(m).__name__
        weight = getattr(m, "weight", None)
        if isinstance(weight, nn.Parameter) and ("Conv" in classname or "Linear" in classname):
            if init_type == "normal":
                init.normal_(weight.data, 0.0, init_gain)
            elif init_type == "xavier":
                init.xavier_normal_(weight.data, gain=init_gain)
            elif init_type == "kaiming":
                init.kaiming_normal_(weight.data, a=0, mode="fan_in")
            else:
                init.orthogonal_(weight.data, gain=init_gain)
            bias = getattr(m, "bias", None)
            if bias is not None:
                init.constant_(bias.data, 0.0)
        elif "BatchNorm2d" in classname and isinstance(weight, nn.Parameter):
            init.normal_(weight.data, 1.0, init_gain)
            init.constant_(m.bias.data, 0.0)

    net.apply(init_one)
    return net
