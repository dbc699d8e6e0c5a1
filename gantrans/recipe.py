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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from gantrans.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

Batch = dict[str, Any]
"""A collated batch: tensors already on the training device (``A``, ``B``, ``image``, ``label``)
plus lists of source paths (``A_path`` ...)."""

DATA_KINDS = ("unpaired", "paired", "labelled", "single")


@dataclass
class DataSpec:
    """What the trainer tells a recipe about its data.

    ``kind`` is one of :data:`DATA_KINDS`: ``unpaired`` and ``paired`` batches carry ``A`` and
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


@dataclass
class ExportHead:
    """A generator to export, with the contract the ONNX metadata needs.

    ``module`` is a ``torch.nn.Module`` with a fixed calling convention per task:
    ``translate``: ``module(image[N,C,H,W] in [-1,1]) -> image[N,C',H,W] in [-1,1]``;
    ``generate``: ``module(z[N,latent_size]) -> image``;
    ``generate-conditional``: ``module(z[N,latent_size], label[N] int64) -> image``.

    ``network`` is the registry name of the generator (provenance); ``key`` is the recipe's
    network key (``G_A``, ``G``) whose checkpointed weights the head needs, so an exporter can
    skip heads whose weights a checkpoint lacks.
    """

    name: str
    module: Any
    task: str
    in_channels: int
    out_channels: int
    network: str
    source_domain: str | None = None
    target_domain: str | None = None
    size_multiple: int = 1
    min_size: int = 1
    fixed_size: int | None = None
    latent_size: int | None = None
    class_names: list[str] = field(default_factory=list)
    tiling: str = "ok"  # "ok" | "discouraged" | "unsupported"
    key: str | None = None


class Recipe:
    """Base class for training recipes. Subclass it and register the class.

    Class attributes to set: ``name`` (what users type), ``description``, ``data_kinds``
    (accepted :data:`DATA_KINDS`) and ``defaults`` (every option with its default; the trainer
    merges user options over these, saves the result in the run and hands it back on resume).
    ``training_defaults`` may set trainer settings the family's paper used (``batch_size``,
    ``sample_every_steps``, ...); a config file and command-line flags override them.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    data_kinds: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}
    training_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: Mapping[str, Any], data: DataSpec):
        unknown = set(config) - set(self.defaults)
        if unknown:
            raise ConfigError(
                f"recipe '{self.name}' has no option(s) {', '.join(sorted(unknown))}; "
                f"options: {', '.join(sorted(self.defaults))}"
            )
        if self.data_kinds and data.kind not in self.data_kinds:
            raise ConfigError(
                f"recipe '{self.name}' needs {' or '.join(self.data_kinds)} data, got {data.kind} data"
            )
        self.config: dict[str, Any] = {**self.defaults, **config}
        self.data = data
        self.nets: dict[str, nn.Module] = {}
        self.network_specs: dict[str, dict[str, Any]] = {}

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
        raise NotImplementedError

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
        """Build a registered network and remember its name and options for checkpoints."""
        net = build_network(name, kind, **options)
        entry = _registries().networks.get(name)
        rule = {k: v for k, v in entry.meta.items() if k in ("input", "size_multiple", "min_size")}
        self.network_specs[key] = {"name": name, "kind": kind, "options": _accepted_options(entry.obj, options),
                                   **entry.origin.as_dict(), **rule}
        return net


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


def build_network(name: str, kind: str, **options: Any) -> nn.Module:
    """Build a registered network by name, passing only the options its factory accepts."""
    entry = _registries().networks.get(name)
    if entry.meta.get("kind") != kind:
        raise ConfigError(f"network '{name}' is a {entry.meta.get('kind')}, not a {kind}; "
                          f"{kind}s: {', '.join(network_names(kind))}")
    return entry.obj(**_accepted_options(entry.obj, options))


def network_names(kind: str) -> list[str]:
    return [e.name for e in _registries().networks if e.meta.get("kind") == kind]


def build_loss(name: str, **options: Any) -> Any:
    """Build a registered adversarial loss by name."""
    entry = _registries().losses.get(name)
    return entry.obj(**_accepted_options(entry.obj, options))


def get_recipe(name: str) -> type[Recipe]:
    return _registries().models.get(name).obj
