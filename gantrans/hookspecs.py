"""Hook specifications: the one door through which plugins reach gantrans.

A plugin is a module (or object) with functions marked ``@gantrans.hookimpl`` whose names
match the specifications below, exposed through the ``gantrans`` entry-point group::

    [project.entry-points.gantrans]
    my_plugin = "my_package.plugin_module"

Contribution hooks receive a ``register`` callback, as in llm and datasette. Every name a plugin
registers records the plugin and distribution it came from. Names clash per name: a built-in
name stays the built-in's, otherwise the first plugin keeps it; the other plugin's clashing name
is recorded as its failure (naming both plugins) and its other names still register. A hook
that raises is recorded against its plugin and skipped.

This module imports neither torch nor Qt: the inference path and the GUI load plugins too.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from gantrans.data.builtin import BuiltinDataset
    from gantrans.data.formats import DataFormat
    from gantrans.options import Option
    from gantrans.recipe import Recipe

hookspec = pluggy.HookspecMarker("gantrans")
hookimpl = pluggy.HookimplMarker("gantrans")


# -- the register callbacks each contribution hook receives ------------------------------------


class RegisterNetwork(Protocol):
    def __call__(self, name: str, factory: Callable[..., Any], *, kind: str, input: str = "image",
                 size_multiple: int = 1, min_size: int = 1, description: str = "",
                 options: Sequence[Option] | None = None, fixed_size_option: str | None = None) -> None: ...


class RegisterModel(Protocol):
    def __call__(self, recipe: type[Recipe]) -> None: ...


class RegisterLoss(Protocol):
    def __call__(self, name: str, factory: Callable[..., Any], *, description: str = "",
                 options: Sequence[Option] | None = None) -> None: ...


class RegisterDataFormat(Protocol):
    def __call__(self, data_format: DataFormat) -> None: ...


class RegisterDataset(Protocol):
    def __call__(self, dataset: BuiltinDataset) -> None: ...



@hookspec
def register_networks(register: RegisterNetwork) -> None:
    """Register generator and discriminator networks by name.

    Called once when the registries are first built. Call
    ``register(name, factory, *, kind, input="image", size_multiple=1, min_size=1,
    description="", options=None, fixed_size_option=None)`` for each network:
    ``factory(**options)`` returns a ``torch.nn.Module``; ``kind`` is ``"generator"`` or
    ``"discriminator"``; ``input`` is ``"image"``, ``"latent"`` or ``"latent+label"`` for
    generators and ``"image"`` or ``"image+label"`` for discriminators; ``size_multiple`` and
    ``min_size`` are the spatial size rule the exporter writes into the ONNX metadata and the
    inference engine enforces; ``options`` declares the factory's keyword options
    (:class:`gantrans.options.Option`; inferred from its signature when omitted);
    ``fixed_size_option`` names the option that fixes the output size of a latent generator.
    A declared option the factory does not take is recorded as the plugin's failure (the name
    still registers); users set a network's own options as ``-o generator.NAME=VALUE``.
    """


@hookspec
def register_models(register: RegisterModel) -> None:
    """Register training recipes (model families).

    Called once when the registries are first built. Call ``register(recipe_class)`` with a
    subclass of :class:`gantrans.recipe.Recipe`; its ``name`` attribute is the name users type
    (``gantrans train NAME``). A recipe knows the mathematics of its family and nothing about
    devices, precision, process groups, files or logging.
    """


@hookspec
def register_losses(register: RegisterLoss) -> None:
    """Register adversarial objectives by name.

    Called once when the registries are first built. Call
    ``register(name, factory, *, description="", options=None)``; ``factory(**options)``
    returns a :class:`gantrans.gan.losses.AdversarialLoss` (one-logit losses override
    ``real_loss``/``fake_loss``/``generator_loss``; losses that compare real and fake logits,
    such as relativistic ones, override ``d_loss``/``g_loss`` and set ``needs_real_logits``).
    ``options`` declares the factory's own options beyond ``real_label`` (``-o loss.NAME=VALUE``).
    """


@hookspec
def register_data_formats(register: RegisterDataFormat) -> None:
    """Register on-disk data set formats (``unpaired``, ``aligned``, ``labelled``, ...).

    Called once when the registries are first built. Call ``register(data_format)`` with an
    object implementing :class:`gantrans.data.formats.DataFormat`; its ``name`` is what users
    pass to ``--data-format``, and its ``detect`` method lets gantrans pick it automatically.
    """


@hookspec
def register_builtin_datasets(register: RegisterDataset) -> None:
    """Register built-in, offline data sets that ``gantrans data make`` writes to disk.

    Called once when the registries are first built. Call ``register(dataset)`` with an object
    implementing :class:`gantrans.data.builtin.BuiltinDataset`. A built-in data set must never
    touch the network: generate it, or read data shipped inside an installed package.
    """


@hookspec
def register_commands(subparsers: argparse._SubParsersAction, context: dict[str, Any]) -> None:
    """Add subcommands to the ``gantrans`` command line.

    Called while the CLI parser is built. Use
    ``parser = subparsers.add_parser(NAME, help=...)`` and
    ``parser.set_defaults(func=callable)``; the callable receives the parsed
    ``argparse.Namespace`` and returns an exit code (or None for 0). ``context`` is reserved
    for future use and is an empty dict today.
    """
