"""The contract between the model-agnostic trainer and a model family (a *recipe*).

A recipe knows the mathematics of one family: which networks it needs, which optimisers own
which networks, the loss of each training phase for a batch, what goes in a sample grid and
which generators to export. It knows nothing about devices, precision, process groups, file
paths or logging: the trainer moves batches to the device, runs each phase under autocast,
scales, all-reduces and steps the optimisers, and writes checkpoints.

This module is torch-free at import time so that plugins can subclass :class:`Recipe` without
making ``gantrans plugins list`` or the GUI import torch.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from gantrans.errors import ConfigError
from gantrans.options import Option, Preset, coerce_option, options_from_defaults

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

Batch = dict[str, Any]
"""A collated batch: tensors already on the training device (``A``, ``B``, ``image``, ``label``)
plus lists of source paths (``A_path`` ...)."""

@dataclass
class DataSpec:
    """What the trainer tells a recipe about its data.

    ``kind`` is one of :data:`gantrans.kinds.DATA_KINDS`: ``unpaired`` and ``paired`` batches carry ``A`` and
    ``B``; ``labelled`` batches carry ``image`` and ``label`` (int64); ``single`` batches carry
    ``image``. Images are float tensors in [-1, 1], NCHW.
    """

    kind: str
    channels: dict[str, int]
    size: int
    class_names: list[str] = field(default_factory=list)
    domains: tuple[str, str] = ("A", "B")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "channels": dict(self.channels), "size": self.size,
                "class_names": list(self.class_names), "domains": list(self.domains)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DataSpec:
        return cls(kind=d["kind"], channels=dict(d["channels"]), size=int(d["size"]),
                   class_names=list(d.get("class_names", [])), domains=tuple(d.get("domains", ("A", "B"))))


@dataclass
class OptimizerSpec:
    """One optimiser: the networks whose parameters it owns and its Adam settings."""

    name: str
    networks: list[str]
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0


LossFn = Callable[[Batch, dict], "dict[str, torch.Tensor]"]


@dataclass
class Phase:
    """One optimisation phase of a training step.

    ``loss(batch, cache)`` returns named scalar loss terms; the trainer back-propagates their
    sum and steps optimiser ``optimizer``. Networks not owned by that optimiser have
    ``requires_grad`` switched off during the phase (the reference freezes D during the G
    step). ``cache`` is a dict shared by the phases of one step (e.g. fakes made in the G phase
    and reused by the D phase). The phase runs on steps where ``step % every == 0``, which is
    how a recipe takes k discriminator steps per generator step.
    """

    name: str
    optimizer: str
    loss: LossFn
    every: int = 1


TASKS = ("translate", "generate", "generate-conditional")
TILING = ("ok", "discouraged", "unsupported")


@dataclass
class ExportHead:
    """A generator to export, with the contract the ONNX metadata needs.

    ``key`` is the recipe's network key (``G``, ``G_A``: a key of ``build_networks()``) whose
    weights the head exports; it is the one thing a head must name. Every other field left
    unset is filled in by :meth:`Recipe.resolved_export_heads` from the registered network and
    the data, so the export's size rule, channels and domain names cannot drift from them:

    - ``module``: an eval-mode copy of ``nets[key]``. When given, it must map inputs with a
      fixed calling convention per task: ``translate``: ``module(image[N,C,H,W] in [-1,1]) ->
      image[N,C',H,W] in [-1,1]`` (same H and W: the parity check fails otherwise);
      ``generate``: ``module(z[N,latent_size]) -> image``; ``generate-conditional``:
      ``module(z[N,latent_size], label[N] int64) -> image``.
    - ``network``: the registry name of the network behind ``key`` (provenance).
    - ``in_channels`` / ``out_channels``: the ``in_channels`` / ``out_channels`` options the
      network was built with, else the data's channels.
    - ``size_multiple`` / ``min_size``: the registered network's size rule; explicit values
      can only make it stricter (least common multiple, maximum).
    - ``source_domain`` / ``target_domain`` (translate): the data's domain names, A to B, or
      B to A for a head named ``B2A``.
    - ``fixed_size`` (generate): the data's image size; ``latent_size``: the network's
      ``latent_size`` option; ``class_names`` (generate-conditional): the data's classes.
    """

    name: str
    module: Any = None
    task: str = "translate"
    in_channels: int | None = None
    out_channels: int | None = None
    network: str | None = None
    source_domain: str | None = None
    target_domain: str | None = None
    size_multiple: int | None = None
    min_size: int | None = None
    fixed_size: int | None = None
    latent_size: int | None = None
    class_names: list[str] = field(default_factory=list)
    tiling: str = "ok"  # "ok" | "discouraged" | "unsupported"
    key: str | None = None


class Recipe:
    """Base class for training recipes. Subclass it and register the class.

    Class attributes to set: ``name`` (what users type), ``description``, ``data_kinds``
    (accepted :data:`gantrans.kinds.DATA_KINDS`) and ``options`` (a tuple of :class:`gantrans.options.Option`,
    every option with its type, default, help and choices). ``defaults`` (``{name: default}``)
    is derived from ``options``; a recipe that sets only ``defaults`` gets options inferred from
    them. The trainer merges user options over the defaults, converts each to its declared type,
    saves the result in the run and hands it back on resume. ``gantrans train NAME --help``,
    ``gantrans plugins show`` and the GUI's training form show the declarations.
    ``training_defaults`` may set trainer settings the family's paper used (``batch_size``,
    ``sample_every_steps``, ...); a config file and command-line flags override them.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    data_kinds: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[tuple[Option, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}
    presets: ClassVar[tuple[Preset, ...]] = ()
    """Named option sets (``--preset NAME``); see :class:`gantrans.options.Preset`."""
    training_defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if "options" in own:
            cls.options = tuple(own["options"])
            if "defaults" in own:
                declared = {o.name for o in cls.options}
                extra = {k: v for k, v in own["defaults"].items() if k not in declared}
                cls.options = cls.options + options_from_defaults(extra)
                cls.options = tuple(o if o.name not in own["defaults"] else
                                    Option(o.name, o.type, own["defaults"][o.name], o.help, o.choices)
                                    for o in cls.options)
        elif "defaults" in own:
            inherited = {o.name: o for o in cls.options}
            cls.options = tuple(
                Option(k, inherited[k].type, v, inherited[k].help, inherited[k].choices) if k in inherited
                else options_from_defaults({k: v})[0]
                for k, v in own["defaults"].items())
        cls.defaults = {o.name: o.default for o in cls.options}

    def __init__(self, config: Mapping[str, Any], data: DataSpec):
        # A TOML 'model' table may spell ROLE.OPTION unquoted, which nests: {"generator": {"n_blocks": 9}}.
        config = {f"{k}.{sk}" if isinstance(v, Mapping) else k: (sv if isinstance(v, Mapping) else v)
                  for k, v in config.items() for sk, sv in (v.items() if isinstance(v, Mapping) else [(None, v)])}
        plain = {k: v for k, v in config.items() if "." not in str(k)}
        dotted = {str(k): v for k, v in config.items() if "." in str(k)}
        unknown = set(plain) - set(self.defaults)
        if unknown:
            raise ConfigError(
                f"recipe '{self.name}' has no option(s) {', '.join(sorted(unknown))}"
                f"{_did_you_mean(sorted(unknown), self.defaults, self._sub_option_names(plain))}; "
                f"options: {', '.join(sorted(self.defaults))} (see 'gantrans train {self.name} --help')"
            )
        if self.data_kinds and data.kind not in self.data_kinds:
            raise ConfigError(
                f"recipe '{self.name}' needs {' or '.join(self.data_kinds)} data, got {data.kind} data"
            )
        merged = {**self.defaults, **plain}
        self.config: dict[str, Any] = {
            o.name: coerce_option(o, merged[o.name], f"recipe '{self.name}'") for o in self.options
        }
        for key in sorted(dotted):
            self.config[key] = self._coerce_sub_option(key, dotted[key])
        self.explicit: set[str] = {k for k in config if self.config.get(k) != self.defaults.get(k)}
        """Options whose value differs from the default (what a user actually changed)."""
        self.data = data
        self.nets: dict[str, nn.Module] = {}
        self.network_specs: dict[str, dict[str, Any]] = {}
        self.pinned_network_options: dict[str, dict[str, Any]] = {}
        """Per network key, the options a checkpoint recorded (defaults included); set before
        :meth:`build_networks` when rebuilding, so a plugin changing a default later cannot
        change a rebuilt network."""

    def _sub_option_names(self, config: Mapping[str, Any]) -> list[str]:
        """``ROLE.OPTION`` names the user could have meant (the options of the networks and loss named)."""
        out = []
        for role, default in self.defaults.items():
            _, entry = _sub_option_target(config.get(role, default))
            if entry is not None:
                out += [f"{role}.{o.name}" for o in entry.meta.get("options", ())]
        return out

    def _coerce_sub_option(self, key: str, value: Any) -> Any:
        """A ``ROLE.OPTION`` value (``generator.n_blocks``): an option of the network or loss that
        the recipe option ``ROLE`` names, checked against that network's or loss's declaration."""
        role, _, name = key.partition(".")
        if role not in self.defaults:
            raise ConfigError(f"recipe '{self.name}' has no option '{role}' (in '{key}')"
                              f"{_did_you_mean([role], self.defaults)}; 'ROLE.OPTION' sets an option of the "
                              f"network or loss that recipe option ROLE names (see 'gantrans train {self.name} "
                              f"--help')")
        what, entry = _sub_option_target(self.config.get(role))
        if entry is None:
            raise ConfigError(f"recipe '{self.name}': option '{key}': recipe option '{role}' "
                              f"({self.config.get(role)!r}) names no registered network or loss")
        declared = {o.name: o for o in entry.meta.get("options", ())}
        owner = f"{what} '{entry.name}' ({entry.origin.describe()})"
        if name not in declared:
            raise ConfigError(f"{owner} has no option '{name}' (in -o {key}=...)"
                              f"{_did_you_mean([name], declared)}; its options: {', '.join(declared) or 'none'}")
        return coerce_option(replace(declared[name], name=key), value, owner)

    def sub_options(self, name: str) -> dict[str, Any]:
        """The ``ROLE.OPTION`` values aimed at the registered network or loss ``name``
        (every recipe option ``ROLE`` whose value is ``name``)."""
        out: dict[str, Any] = {}
        for key, value in self.config.items():
            role, dot, option = key.partition(".")
            if dot and self.config.get(role) == name:
                out[option] = value
        return out

    def explicit_network_options(self, kind: str, options: Mapping[str, Any]) -> set[str]:
        """Which of ``options`` (passed to a ``kind`` network) the user set: a factory dropping one of
        these is an error, not a warning. By default, those named like a recipe option the user changed."""
        return {k for k in options if k in self.explicit}

    # -- to implement --------------------------------------------------------------------
    def build_networks(self) -> dict[str, nn.Module]:
        """Create and initialise every network; called once, before :meth:`attach`."""
        raise NotImplementedError

    def optimizers(self) -> list[OptimizerSpec]:
        raise NotImplementedError

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def sample_rows(self, batch: Batch) -> list[tuple[str, torch.Tensor]]:
        """Rows of a sample grid for a fixed batch: ``(label, images in [-1, 1])`` each.

        Called under ``torch.no_grad()``; every row has the same number of images.
        """
        raise NotImplementedError

    def export_heads(self) -> list[ExportHead]:
        """The generators to export; name each one's ``key`` and leave the rest to the defaults."""
        raise NotImplementedError

    def resolved_export_heads(self) -> list[ExportHead]:
        """:meth:`export_heads` with every field filled in and checked (what the exporter uses)."""
        return [resolve_export_head(self, head) for head in self.export_heads()]

    # -- optional ------------------------------------------------------------------------
    def attach(self, nets: Mapping[str, nn.Module]) -> None:
        """Receive the networks the phases must use (moved, possibly compiled, by the trainer)."""
        self.nets = dict(nets)

    def state_dict(self) -> dict[str, Any]:
        """Extra training state to checkpoint (image pools, counters); tensors and primitives only."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    # -- helpers for subclasses ------------------------------------------------------------
    def make_network(self, key: str, name: str, kind: str, **options: Any) -> nn.Module:
        """Build a registered network and remember its name and options for checkpoints.

        ``options`` are what this recipe sets; ``ROLE.OPTION`` values the user set for this
        network (``-o generator.n_blocks=9``) are added. The factory receives those it accepts:
        a dropped option the user set is an error; any other dropped option warns once
        (:class:`NetworkOptionWarning`). The checkpoint records the options really passed, the
        factory's defaults for the rest (``resolved_options``) and what it ignored.
        """
        extra = self.sub_options(name)
        clash = sorted(set(extra) & set(options))
        if clash:
            role = next(k for k in self.config if k.endswith(f".{clash[0]}") and self.config.get(k.split(".")[0]) == name)
            raise ConfigError(f"recipe '{self.name}': option '{role}': recipe '{self.name}' sets "
                              f"'{clash[0]}' of {kind} '{name}' itself; use the recipe's own option instead")
        explicit = self.explicit_network_options(kind, options) | set(extra)
        entry = _registries().networks.get(name)
        pinned = {k: v for k, v in self.pinned_network_options.get(key, {}).items()
                  if k in _accepted_options(entry.obj, {k: v})}
        options = {**pinned, **options, **extra}
        net = build_network(name, kind, _recipe=self.name, _explicit=explicit, **options)
        rule = {k: v for k, v in entry.meta.items()
                if k in ("input", "size_multiple", "min_size", "fixed_size_option")}
        rule.update(_own_size_rule(net, name, entry, rule))
        accepted = _accepted_options(entry.obj, options)
        self.network_specs[key] = {"name": name, "kind": kind, "options": accepted,
                                   "resolved_options": {**_signature_defaults(entry.obj), **accepted},
                                   "ignored_options": {k: v for k, v in options.items() if k not in accepted},
                                   **entry.origin.as_dict(), **rule}
        return net

    def pin_network_options(self, network_specs: Mapping[str, Any] | None) -> None:
        """Rebuild networks with the options a checkpoint recorded (older checkpoints: nothing pinned)."""
        for key, spec in dict(network_specs or {}).items():
            resolved = dict(spec or {}).get("resolved_options")
            if isinstance(resolved, Mapping):
                self.pinned_network_options[key] = dict(resolved)


def resolve_export_head(recipe: Recipe, head: ExportHead) -> ExportHead:
    """Fill a head's unset fields from the registered network and the data (see :class:`ExportHead`)."""
    import copy
    import math
    from dataclasses import replace

    where = f"recipe '{recipe.name}', export head '{head.name}'"
    if head.task not in TASKS:
        raise ConfigError(f"{where}: task must be one of {', '.join(TASKS)}, got {head.task!r}")
    if head.tiling not in TILING:
        raise ConfigError(f"{where}: tiling must be one of {', '.join(TILING)}, got {head.tiling!r}")
    key = head.key
    if key is None:
        # Old heads named only the registry network; accept that when it is unambiguous.
        keys = [k for k, spec in recipe.network_specs.items() if spec.get("name") == head.network]
        if len(keys) != 1:
            known = ", ".join(recipe.nets) or "none"
            raise ConfigError(f"{where}: set ExportHead.key to the network key whose weights it exports "
                              f"(one of {known}); ExportHead.network is the registry name")
        key = keys[0]
    if key not in recipe.nets:
        raise ConfigError(f"{where}: key '{key}' is not one of the recipe's networks "
                          f"({', '.join(recipe.nets) or 'none'})")
    spec = recipe.network_specs.get(key, {})
    options = spec.get("options", {})
    if head.network is not None and spec.get("name") not in (None, head.network):
        raise ConfigError(f"{where}: network '{head.network}' is not the network behind key '{key}' "
                          f"('{spec['name']}'); leave ExportHead.network unset")
    module = head.module
    if module is None:
        module = copy.deepcopy(_unwrap(recipe.nets[key])).eval()
        module.requires_grad_(False)
    data = recipe.data
    image_key = "image" if "image" in data.channels else None
    name_letters = head.name.split("2") if "2" in head.name else []
    src, dst = ("B", "A") if name_letters == ["B", "A"] else ("A", "B")
    if head.task == "translate":
        default_in = options.get("in_channels", data.channels.get(src))
        default_out = options.get("out_channels", data.channels.get(dst))
    else:
        default_out = options.get("out_channels", data.channels.get(image_key or dst))
        default_in = default_out
    in_channels = head.in_channels if head.in_channels is not None else default_in
    out_channels = head.out_channels if head.out_channels is not None else default_out
    if not isinstance(in_channels, int) or not isinstance(out_channels, int):
        raise ConfigError(f"{where}: cannot tell its channels from the network options or the data; "
                          f"set in_channels and out_channels")
    reg_multiple = int(spec.get("size_multiple", 1) or 1)
    reg_min = int(spec.get("min_size", 1) or 1)
    multiple = math.lcm(reg_multiple, int(head.size_multiple or 1))
    minimum = max(reg_min, int(head.min_size or 1))
    domains = dict(zip(("A", "B"), data.domains))
    resolved = replace(
        head, module=module, key=key, network=head.network or spec.get("name"),
        in_channels=in_channels, out_channels=out_channels, size_multiple=multiple, min_size=minimum)
    if head.task == "translate":
        resolved.source_domain = head.source_domain or domains.get(src)
        resolved.target_domain = head.target_domain or domains.get(dst)
    else:
        if resolved.fixed_size is None:
            fixed_by = spec.get("fixed_size_option")
            resolved.fixed_size = int(options.get(fixed_by) or data.size) if fixed_by else int(data.size)
        if resolved.latent_size is None:
            resolved.latent_size = options.get("latent_size")
        if resolved.latent_size is None:
            raise ConfigError(f"{where}: a {head.task} head needs latent_size (set it, or build the network "
                              f"with a latent_size option)")
        if head.task == "generate-conditional" and not resolved.class_names:
            resolved.class_names = [str(c) for c in data.class_names]
    return resolved


def _unwrap(net: Any) -> Any:
    """The plain module inside ``torch.compile`` or data-parallel wrappers."""
    while True:
        inner = getattr(net, "_orig_mod", None)
        if inner is None and type(net).__module__.startswith("torch.nn.parallel"):
            inner = getattr(net, "module", None)
        if inner is None:
            return net
        net = inner


def _registries():
    from gantrans.plugins import get_registries

    return get_registries()


def _accepted_options(factory: Callable[..., Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of ``options`` a factory accepts (all of them if it takes ``**kwargs``)."""
    params = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return dict(options)
    names = {p.name for p in params}
    return {k: v for k, v in options.items() if k in names}


SIZE_HINTS = ("image_size",)
"""Options a network that works at any size may ignore without a warning."""


class NetworkOptionWarning(UserWarning):
    """A factory ignored options a recipe set (e.g. ``init_type`` kept torch's default init).

    ``GANTRANS_STRICT_PLUGINS=1`` turns it into an error."""


_warned_drops: set[tuple[str, str, tuple[str, ...]]] = set()


def _check_drops(what: str, entry: Any, options: Mapping[str, Any], accepted: Mapping[str, Any],
                 recipe: str | None, explicit: Any) -> None:
    """Refuse dropped options the user set; warn once about other dropped options a recipe set."""
    dropped = tuple(sorted(set(options) - set(accepted) - set(SIZE_HINTS)))
    if not dropped or not recipe:
        return
    listed = ", ".join(f"{k}={options[k]!r}" for k in dropped)
    who = f"{what} '{entry.name}' ({entry.origin.describe()})"
    takes = ", ".join(p for p in _parameter_names(entry.obj)) or "nothing"
    user_set = [k for k in dropped if k in set(explicit or ())]
    if user_set:
        raise ConfigError(f"{who} does not take option{'s' if len(user_set) > 1 else ''} "
                          f"{', '.join(f'{k}={options[k]!r}' for k in user_set)}, which you set for recipe "
                          f"'{recipe}'; leave {'them' if len(user_set) > 1 else 'it'} at the default or pick "
                          f"another {what} (its factory takes: {takes})")
    message = (f"{who} ignores option{'s' if len(dropped) > 1 else ''} {listed} that recipe '{recipe}' set; "
               f"add {'them' if len(dropped) > 1 else 'it'} to its factory's parameters (docs/plugins.md, "
               f"'Network options')")
    from gantrans.plugins.manager import strict_plugins

    if strict_plugins():
        from gantrans.errors import PluginError

        raise PluginError(f"{message} (GANTRANS_STRICT_PLUGINS=1 makes this an error)")
    if (entry.name, recipe, dropped) not in _warned_drops:
        import warnings

        _warned_drops.add((entry.name, recipe, dropped))
        warnings.warn(message, NetworkOptionWarning, stacklevel=4)


def build_network(name: str, kind: str, *, _recipe: str | None = None, _explicit: Any = (),
                  **options: Any) -> nn.Module:
    """Build a registered network by name, passing only the options its factory accepts.

    When a recipe builds the network (:meth:`Recipe.make_network`), a dropped option the user
    set (``_explicit``) is a :class:`ConfigError`; other dropped options warn once per process,
    network and recipe: a factory that silently ignored ``init_type`` would train from torch's
    default init.
    """
    entry = _registries().networks.get(name)
    if entry.meta.get("kind") != kind:
        raise ConfigError(f"network '{name}' is a {entry.meta.get('kind')}, not a {kind}; "
                          f"{kind}s: {', '.join(network_names(kind))}")
    accepted = _accepted_options(entry.obj, options)
    _check_drops("network", entry, options, accepted, _recipe, _explicit)
    from torch import nn

    return _call_factory("network", entry, accepted, nn.Module, "a torch.nn.Module")


def _own_size_rule(net: Any, name: str, entry: Any, rule: Mapping[str, Any]) -> dict[str, int]:
    """The sizes a built network takes when its depth follows an option (``net.size_rule =
    (multiple, min_size)``): it may only narrow the registered rule, which is what listings and
    "networks that fit" go by."""
    own = getattr(net, "size_rule", None)
    if own is None:
        return {}
    multiple, minimum = (int(v) for v in own)
    registered_multiple, registered_min = int(rule.get("size_multiple", 1) or 1), int(rule.get("min_size", 1) or 1)
    if multiple % registered_multiple or minimum < registered_min:
        raise ConfigError(f"network '{name}' (plugin '{entry.origin.plugin}') says its size rule is multiples of "
                          f"{multiple} from {minimum} px, wider than the rule it registered (multiples of "
                          f"{registered_multiple} from {registered_min} px); it may only narrow it")
    return {"size_multiple": multiple, "min_size": minimum}


def network_accepts(name: str, option: str) -> bool:
    """Whether the registered network ``name``'s factory takes keyword option ``option``."""
    return option in _accepted_options(_registries().networks.get(name).obj, {option: None})


def network_names(kind: str) -> list[str]:
    return [e.name for e in _registries().networks if e.meta.get("kind") == kind]


def build_loss(name: str, *, _recipe: str | None = None, _explicit: Any = (), **options: Any) -> Any:
    """Build a registered adversarial loss by name, passing the options its factory accepts.

    As for networks: when a recipe builds it, a dropped option the user set (``_explicit``,
    e.g. ``real_label=0.9``) is a :class:`ConfigError` and other dropped options warn once.
    """
    entry = _registries().losses.get(name)
    accepted = _accepted_options(entry.obj, options)
    _check_drops("loss", entry, options, accepted, _recipe, _explicit)
    from gantrans.gan.losses import AdversarialLoss

    return _call_factory("loss", entry, accepted, AdversarialLoss, "a gantrans.gan.AdversarialLoss")


def _call_factory(what: str, entry: Any, accepted: Mapping[str, Any], returns: type, returns_what: str) -> Any:
    """Call a registered factory; its failure, or what it returns when that is not ``returns``,
    is one line naming it, its plugin and the options it was given.

    Why: a factory is plugin code, and an option value it refuses (``n_blocks=0``) or a bug in it
    would otherwise reach the user as an "internal error" naming neither.
    """
    from gantrans.plugins.guard import REPORT, call_plugin

    who = f"{what} '{entry.name}' ({entry.origin.describe()})"
    given = ", ".join(f"{k}={v!r}" for k, v in sorted(accepted.items())) or "no options"
    return call_plugin(lambda: entry.obj(**accepted), error=ConfigError,
                       failed=f"{who} could not be built with {given}",
                       advice=f"check the options you set for it, or {REPORT}", returns=returns,
                       wrong=lambda made: f"{who}: its factory returned {type(made).__name__}, not {returns_what}; "
                                          f"{REPORT}")


def _sub_option_target(value: Any) -> tuple[str, Any]:
    """The registered network or loss a recipe option's value names: ``(what, entry)``."""
    if not isinstance(value, str):
        return "", None
    regs = _registries()
    if value in regs.networks:
        entry = regs.networks.get(value)
        return str(entry.meta.get("kind") or "network"), entry
    if value in regs.losses:
        return "loss", regs.losses.get(value)
    return "", None


def _did_you_mean(names: list[str], known: Any, qualified: Any = ()) -> str:
    """`` (did you mean 'lambda_L1'?)`` for the first of ``names`` with a close match, else ''.

    ``qualified`` are ``ROLE.OPTION`` names: ``margin`` suggests ``loss.margin``."""
    import difflib

    for n in names:
        close = difflib.get_close_matches(n, list(known), n=1, cutoff=0.75)
        close = close or [q for q in qualified if q.rsplit(".", 1)[-1] == n][:1]
        close = close or difflib.get_close_matches(n, [q.rsplit(".", 1)[-1] for q in qualified], n=1, cutoff=0.75)
        if close:
            if close[0] not in known and "." not in close[0]:
                close = [next(q for q in qualified if q.rsplit(".", 1)[-1] == close[0])]
            return f" (did you mean '{close[0]}'?)"
    return ""


def _parameter_names(factory: Callable[..., Any]) -> list[str]:
    try:
        return [p.name for p in inspect.signature(factory).parameters.values()
                if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    except (TypeError, ValueError):
        return []


def _signature_defaults(factory: Callable[..., Any]) -> dict[str, Any]:
    """The factory's keyword defaults that are plain JSON values (what a rebuild must reproduce)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params
            if p.default is not inspect.Parameter.empty and (p.default is None or isinstance(p.default, (str, int, float, bool)))}


def preset_options(recipe: type[Recipe], name: str) -> dict[str, Any]:
    """The option values of ``recipe``'s preset ``name``; a clear error names the presets there are."""
    for preset in recipe.presets:
        if preset.name == name:
            return dict(preset.options)
    have = ", ".join(p.name for p in recipe.presets) or "none"
    raise ConfigError(f"recipe '{recipe.name}' has no preset '{name}' (presets: {have})")


def get_recipe(name: str) -> type[Recipe]:
    return _registries().models.get(name).obj
