"""A base class for adversarial recipes: common options, their validation, small helpers.

Every GAN family (the built-in ``vanilla``, ``cgan``, ``pix2pix``, ``cyclegan`` and any third
party's) takes the same network, loss and Adam options, checks that the networks a user picked
fit its data, and hands out eval-ready copies of its generators for export. It lives in the
core toolkit rather than in one plugin so that built-in and third-party plugins reach it the
same way, and no plugin depends on another.

Importing this module is torch-free (registering a recipe must not import torch); torch is
imported inside the functions that need it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gantrans.errors import ConfigError
from gantrans.options import INIT_TYPES, NORMS, Option
from gantrans.recipe import DataSpec, OptimizerSpec, Recipe, _unwrap, build_loss, network_accepts

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

DIRECTIONS = ("AtoB", "BtoA")

BASE_OPTIONS: tuple[Option, ...] = (
    Option("generator", str, None, "generator network (a registered generator; 'gantrans plugins list')"),
    Option("discriminator", str, None, "discriminator network (a registered discriminator)"),
    Option("loss", str, "vanilla", "adversarial loss (a registered loss: vanilla, lsgan, wgan-gp, hinge, "
                                   "ralsgan, ...)"),
    Option("ngf", int, 64, "generator filters in the first layer (network option 'ngf')"),
    Option("ndf", int, 64, "discriminator filters in the first layer (network option 'ndf')"),
    Option("norm", str, "batch", "normalisation of the generator (network option 'norm')", NORMS),
    Option("norm_D", str, None, "normalisation of the discriminator (not set: as 'norm')", NORMS),
    Option("dropout", bool, False, "dropout 0.5 in the generator (network option 'dropout')"),
    Option("init_type", str, "normal", "weight initialisation (network option 'init_type')", INIT_TYPES),
    Option("init_gain", float, 0.02, "scale of the initial weights (network option 'init_gain')"),
    Option("n_layers_D", int, 3, "discriminator depth (network option 'n_layers')"),
    Option("lr", float, 2e-4, "Adam learning rate"),
    Option("beta1", float, 0.5, "Adam beta1"),
    Option("beta2", float, 0.999, "Adam beta2"),
    Option("real_label", float, 1.0, "discriminator target for real images; < 1 is one-sided label smoothing"),
    Option("augment_D", str, "none",
           "differentiable augmentation of every image the discriminator sees, real and fake (DiffAugment): "
           "comma-separated color, translation, cutout, or none; keeps a discriminator from memorising a "
           "few hundred images (paper: none)"),
)
"""The options every :class:`GANRecipe` takes; reuse them with :func:`gantrans.options.override`."""

RESIDUAL_OPTION = Option(
    "residual", bool, False,
    "the generator predicts a change added to its input, clamp(x + 2 G(x), -1, 1): with a few hundred "
    "images it learns the edit instead of having to learn to copy its input first; only where input and "
    "output have the same channels (paper: false)")
"""Residual output of image-to-image generators (:class:`gantrans.gan.ResidualOutput`)."""

RESIDUAL_ZERO_INIT_OPTION = Option(
    "residual_zero_init", bool, False,
    "with 'residual': the generator's last convolution starts at zero, so a new generator returns its "
    "input exactly (paper: false)")
"""Whether a residual generator starts as the identity (``ResidualOutput(zero_init=...)``)."""

RESIDUAL_COLOUR_MAP_OPTION = Option(
    "residual_colour_map", bool, False,
    "with 'residual': the input is added back through a learnt global affine colour map that starts "
    "as the identity (paper: false)")
"""Whether a residual generator's skip is a learnt colour map (``ResidualOutput(colour_map=...)``)."""

RESIDUAL_OPTIONS = (RESIDUAL_OPTION, RESIDUAL_ZERO_INIT_OPTION, RESIDUAL_COLOUR_MAP_OPTION)
"""What an image-to-image recipe declares to offer residual generators (:meth:`GANRecipe.residual_generator`)."""

BASE_DEFAULTS: dict[str, Any] = {o.name: o.default for o in BASE_OPTIONS}

SAMPLE_SEED = 1234
"""Seed of the fixed sample noise, so every epoch's grid shows the same latent points."""


class GANRecipe(Recipe):
    """A :class:`Recipe` with the options every built-in family shares, validated up front."""

    options = BASE_OPTIONS

    def __init__(self, config: Mapping[str, Any], data: DataSpec):
        super().__init__(config, data)
        c = self.config
        for key in ("generator", "discriminator", "loss", "norm", "init_type"):
            if not isinstance(c[key], str) or not c[key]:
                raise self.error(f"option '{key}' must be a name, got {c[key]!r}")
        if c["norm_D"] is None:
            c["norm_D"] = c["norm"]
        for key in ("ngf", "ndf", "n_layers_D"):
            self.int_option(key, minimum=1)
        self.float_option("lr", low=0.0, low_open=True)
        self.float_option("init_gain", low=0.0)
        self.float_option("beta1", low=0.0, high=1.0, high_open=True)
        self.float_option("beta2", low=0.0, high=1.0, high_open=True)
        self.float_option("real_label", low=0.0, high=1.0, low_open=True)
        c["dropout"] = self.bool_option("dropout")
        self.augment_policy: tuple[str, ...] = ()
        if str(c["augment_D"] or "none") != "none":
            from gantrans.gan.diffaugment import parse_policy

            try:
                self.augment_policy = parse_policy(c["augment_D"])
            except ValueError as exc:
                raise self.error(f"option 'augment_D': {exc}") from None
        if "real_label" in self.sub_options(c["loss"]):
            raise self.error(f"option 'loss.real_label': recipe '{self.name}' sets real_label of loss "
                             f"'{c['loss']}' itself; use -o real_label=VALUE")
        loss_options = {"real_label": c["real_label"], **self.sub_options(c["loss"])}
        explicit = {k for k in loss_options if k != "real_label" or "real_label" in self.explicit}
        self.loss = build_loss(c["loss"], _recipe=self.name, _explicit=explicit, **loss_options)

    # -- option checks ---------------------------------------------------------------------
    def error(self, message: str) -> ConfigError:
        return ConfigError(f"recipe '{self.name}': {message}")

    def int_option(self, key: str, minimum: int | None = None) -> int:
        value = self.config[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self.error(f"option '{key}' must be an integer, got {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise self.error(f"option '{key}' must be an integer, got {value!r}") from None
        if number != float(value):
            raise self.error(f"option '{key}' must be an integer, got {value!r}")
        if minimum is not None and number < minimum:
            raise self.error(f"option '{key}' must be >= {minimum}, got {value!r}")
        self.config[key] = number
        return number

    def float_option(self, key: str, low: float | None = None, high: float | None = None,
                     low_open: bool = False, high_open: bool = False) -> float:
        value = self.config[key]
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
        except (TypeError, ValueError):
            raise self.error(f"option '{key}' must be a number, got {value!r}") from None
        too_low = low is not None and (number <= low if low_open else number < low)
        too_high = high is not None and (number >= high if high_open else number > high)
        if too_low or too_high or not math.isfinite(number):
            lo = "-inf" if low is None else f"{low:g}"
            hi = "inf" if high is None else f"{high:g}"
            interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
            raise self.error(f"option '{key}' must lie in {interval}, got {value!r}")
        self.config[key] = number
        return number

    def bool_option(self, key: str) -> bool:
        value = self.config[key]
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise self.error(f"option '{key}' must be true or false, got {value!r}")

    def choice_option(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.config[key]
        if value not in choices:
            raise self.error(f"option '{key}' must be one of {', '.join(choices)}, got {value!r}")
        return value

    def channels(self, key: str) -> int:
        try:
            return int(self.data.channels[key])
        except KeyError:
            raise self.error(f"the data spec has no channel count for '{key}' "
                             f"(has {', '.join(self.data.channels) or 'none'})") from None

    # -- networks ----------------------------------------------------------------------------
    def network_options(self, kind: str) -> dict[str, Any]:
        """What this recipe passes to its networks (:data:`gantrans.options.GENERATOR_OPTIONS` and
        :data:`~gantrans.options.DISCRIMINATOR_OPTIONS`, less channels); a factory that lacks one
        drops it with a warning."""
        c = self.config
        if kind == "generator":
            options = {"ngf": c["ngf"], "norm": c["norm"], "init_type": c["init_type"], "init_gain": c["init_gain"]}
            if c["dropout"]:  # only when asked for: a generator without dropout then warns that it drops it
                options["dropout"] = True
            return options
        options = {"ndf": c["ndf"], "norm": c["norm_D"], "init_type": c["init_type"], "init_gain": c["init_gain"]}
        # Depth is passed when the user changed it or the network has it (DCGAN's follows the image size).
        if "n_layers_D" in self.explicit or network_accepts(c[kind], "n_layers"):
            options["n_layers"] = c["n_layers_D"]
        return options

    def explicit_network_options(self, kind: str, options: Mapping[str, Any]) -> set[str]:
        """Network options that carry a recipe option the user changed (``n_layers`` from ``n_layers_D``,
        a discriminator's ``norm`` from ``norm_D`` or ``norm``)."""
        sources = {"n_layers": ("n_layers_D",), "norm": ("norm",) if kind == "generator" else ("norm_D", "norm")}
        return {k for k in options if any(s in self.explicit for s in sources.get(k, (k,)))}

    def build(self, key: str, kind: str, inputs: tuple[str, ...], **options: Any) -> nn.Module:
        """Build the ``generator``/``discriminator`` option's network and check it fits.

        ``inputs`` are the registry ``input`` values this recipe can drive (``image``,
        ``latent``, ``latent+label``, ``image+label``).
        """
        name = self.config[kind]
        try:
            entry = _network_entry(name)
            given = entry.meta.get("input", "image")
            if entry.meta.get("kind") == kind and given not in inputs:
                raise self.error(f"{kind} '{name}' takes {given} input but this recipe drives its {kind} "
                                 f"with {' or '.join(inputs)}; pick another --{kind}")
            if "image_size" not in options and network_accepts(name, "image_size"):
                options = {**options, "image_size": self.data.size}  # from the data, like the channels
            return self.make_network(key, name, kind, **{**self.network_options(kind), **options})
        except ConfigError as exc:
            if str(exc).startswith(f"recipe '{self.name}'"):
                raise
            raise self.error(str(exc)) from None

    def residual_generator(self, key: str, net: nn.Module, in_channels: int, out_channels: int) -> nn.Module:
        """``net`` wrapped in a residual output when option ``residual`` is on and the input and
        output have the same channels (grey <-> colour has no input to add back: left as is)."""
        if not self.config.get("residual") or in_channels != out_channels:
            return net
        from gantrans.gan.residual import ResidualOutput

        try:
            return ResidualOutput(net, zero_init=bool(self.config.get("residual_zero_init")),
                                  colour_map=bool(self.config.get("residual_colour_map")), channels=out_channels)
        except ValueError as exc:
            raise self.error(f"generator '{self.config.get('generator')}' ({key}): {exc}; its author can set "
                             f"'output_layer' on the network to its output convolution, or train with "
                             f"-o residual_zero_init=false") from None

    def check_size(self, key: str, size: int) -> None:
        """Raise when the data's image size breaks the network's size rule."""
        spec = self.network_specs[key]
        multiple = int(spec.get("size_multiple", 1) or 1)
        minimum = int(spec.get("min_size", 1) or 1)
        if size < minimum or size % multiple:
            kind = spec.get("kind", "generator")
            # by registered rules; this network's own, narrowed once built, may say yes where it just said no
            fit = [n for n in networks_that_fit(size, kind, spec.get("input", "image")) if n != spec["name"]]
            flag = "--generator" if kind == "generator" else ("--discriminator" if kind == "discriminator" else kind)
            others = (f"; {kind}s that fit {size} px: {', '.join(fit)} ({flag} NAME)" if fit
                      else f"; no registered {kind} fits {size} px")
            raise self.error(f"network '{spec['name']}' needs images of at least {minimum} px whose size is a "
                             f"multiple of {multiple}; the crop size is {size} px. Nearest crop sizes that fit: "
                             f"{', '.join(str(v) for v in nearest_sizes(size, multiple, minimum))} "
                             f"(--crop-size N){others}")

    def probe(self, key: str, net: nn.Module, channels: int) -> None:
        """Run an image discriminator once on a blank image of the data's size.

        A registry size rule cannot follow options such as ``n_layers_D``: a PatchGAN too deep
        for the crop size would otherwise fail at the first step with a shape error.
        """
        import torch

        size, training = self.data.size, net.training
        net.eval()
        try:
            with torch.no_grad():
                out = net(torch.zeros(1, channels, size, size))
            if out.numel() == 0:
                raise ValueError("empty output")
        except (RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise self.error(f"discriminator '{self.network_specs[key]['name']}' cannot judge {size} px images "
                             f"with n_layers_D={self.config['n_layers_D']} ({first}); use a smaller "
                             f"n_layers_D or a larger crop size") from None
        finally:
            net.train(training)

    def adam(self, name: str, networks: list[str]) -> OptimizerSpec:
        c = self.config
        return OptimizerSpec(name=name, networks=networks, lr=c["lr"], betas=(c["beta1"], c["beta2"]))

    # -- losses --------------------------------------------------------------------------------
    def d_adv(self, discriminator: Any, real: torch.Tensor, fake: torch.Tensor,
              *extra: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The discriminator's (real term, fake term) of the user's loss, in the two-logit form.

        ``fake`` is detached here; ``extra`` (e.g. labels) follows the image into the
        discriminator. Works for relativistic losses and for one-logit ones alike.
        """
        seen = self.seen_by(discriminator)
        if not extra and real.shape == fake.shape and self.batchable(discriminator):
            # one call on real and fake together: the same numbers where the images do not mix
            # (an augmentation draws per image, so it may see them together too)
            logits = seen(_cat(real, fake.detach()))
            real_logits, fake_logits = logits[:len(real)], logits[len(real):]
        else:
            real_logits = seen(real, *extra)
            fake_logits = seen(fake.detach(), *extra)
        d_loss = getattr(self.loss, "d_loss", None)
        if d_loss is None:  # a duck-typed loss with only the one-logit methods
            return self.loss.real_loss(real_logits), self.loss.fake_loss(fake_logits)
        return d_loss(real_logits, fake_logits)

    def g_adv(self, discriminator: Any, fake: torch.Tensor, real: torch.Tensor, *extra: Any) -> torch.Tensor:
        """The generator's adversarial term; the discriminator sees ``real`` only when the loss needs it."""
        discriminator = self.seen_by(discriminator)
        fake_logits = discriminator(fake, *extra)
        g_loss = getattr(self.loss, "g_loss", None)
        if g_loss is None:
            return self.loss.generator_loss(fake_logits)
        real_logits = discriminator(real, *extra) if getattr(self.loss, "needs_real_logits", False) else None
        return g_loss(fake_logits, real_logits)

    def batchable(self, *nets: Any) -> bool:
        """Whether ``nets`` may take several images in one call with unchanged results
        (:func:`gantrans.gan.samples_independent`); asked once per network, as a run does not
        change its networks."""
        cache = self.__dict__.setdefault("_batchable", {})
        key = tuple(id(n) for n in nets)
        if key not in cache:
            from gantrans.gan.batching import samples_independent

            cache[key] = samples_independent(*nets)
        return cache[key]

    def penalty(self, discriminator: Any, real: torch.Tensor, fake: torch.Tensor, *extra: Any) -> torch.Tensor | None:
        """The loss's gradient penalty term, or None when the loss asks for none."""
        weight = float(getattr(self.loss, "gradient_penalty_weight", 0.0) or 0.0)
        if weight <= 0:
            return None
        from gantrans.gan.penalty import gradient_penalty

        return gradient_penalty(self.seen_by(discriminator), real, fake, *extra, weight=weight)

    def seen_by(self, discriminator: Any) -> Any:
        """``discriminator`` as the losses use it: behind the ``augment_D`` augmentation, if any."""
        if not self.augment_policy:
            return discriminator
        from gantrans.gan.diffaugment import Augmented

        return Augmented(discriminator, self.augment_policy)

    # -- export ----------------------------------------------------------------------------------
    def export_module(self, key: str) -> nn.Module:
        """A detached, eval-mode copy of a trained network, unwrapped from compile/parallel wrappers.

        A copy, so exporting mid-training leaves the training networks' modes and graphs alone.
        """
        net = unwrap(self.nets[key])
        clone = copy.deepcopy(net).eval()
        clone.requires_grad_(False)
        return clone

    def tiling(self) -> str:
        """Instance norm normalises over the whole image: tiles change its statistics."""
        return "discouraged" if self.config["norm"] == "instance" else "ok"


def _cat(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.cat((a, b))


def _network_entry(name: str) -> Any:
    from gantrans.plugins import get_registries

    return get_registries().networks.get(name)


def nearest_sizes(size: int, multiple: int, minimum: int) -> list[int]:
    """The valid sizes just below and above ``size`` under a network's size rule."""
    multiple = max(1, multiple)
    first = -(-max(minimum, 1) // multiple) * multiple
    below = (size // multiple) * multiple
    above = below + multiple if below != size else size
    out = [v for v in (below, max(above, first)) if v >= first]
    return sorted(set(out)) or [first]


def networks_that_fit(size: int, kind: str, input_kind: str = "image") -> list[str]:
    """Registered networks of ``kind`` taking ``input_kind`` whose size rule accepts ``size``."""
    from gantrans.plugins import get_registries

    names = []
    networks = get_registries().networks
    for name in networks.names():
        meta = networks.get(name).meta
        if meta.get("kind") != kind or meta.get("input", "image") != input_kind:
            continue
        multiple = int(meta.get("size_multiple", 1) or 1)
        if size >= int(meta.get("min_size", 1) or 1) and size % multiple == 0:
            names.append(name)
    return names


def unwrap(net: Any) -> Any:
    """The plain module inside ``torch.compile`` or data-parallel wrappers."""
    return _unwrap(net)


def fixed_noise(count: int, latent_size: int, like: torch.Tensor) -> torch.Tensor:
    """The same ``count`` latent vectors every call, on ``like``'s device."""
    import torch

    generator = torch.Generator().manual_seed(SAMPLE_SEED)
    return torch.randn(count, latent_size, generator=generator).to(like.device)


def same_channels(rows: list[tuple[str, torch.Tensor]]) -> list[tuple[str, torch.Tensor]]:
    """Make every row of a sample grid RGB when domains differ in channels (grey vs colour)."""
    counts = {images.shape[1] for _, images in rows}
    if len(counts) == 1:
        return rows
    out = []
    for label, images in rows:
        c = images.shape[1]
        if c == 1:
            images = images.expand(-1, 3, -1, -1)
        elif c == 2:
            images = images[:, :1].expand(-1, 3, -1, -1)
        elif c > 3:
            images = images[:, :3]
        out.append((label, images))
    return out
