"""Declared options: one declaration per option of a recipe or network.

``gantrans train RECIPE --help``, ``gantrans plugins show`` / ``plugins list --json`` and the
GUI's training form are all generated from these declarations, so an option nobody declared
is an option nobody can discover. Recipes declare ``options`` as a class attribute; networks
pass ``options=(...)`` to ``register(...)``.

Torch-free and Qt-free: the GUI reads the declarations through ``plugins list --json``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from gantrans.errors import ConfigError

TYPES = ("int", "float", "str", "bool")
_TYPE_NAMES = {int: "int", float: "float", str: "str", bool: "bool"}

__all__ = ["DISCRIMINATOR_OPTIONS", "GENERATOR_OPTIONS", "INIT_TYPES", "NORMS", "Option", "Preset", "TYPES",
           "RECIPE_SET_OPTIONS", "coerce_option", "describe_options", "options_from_defaults",
           "options_from_signature", "override"]


@dataclass(frozen=True)
class Option:
    """One option: its name, type (``int``, ``float``, ``str`` or ``bool``), default, help, choices.

    ``type`` may be given as the Python type or its name. A default of ``None`` means "not
    set": the recipe or network decides (e.g. ``norm_D=None`` follows ``norm``). ``choices``
    lists the allowed values when there is a closed set.
    """

    name: str
    type: type | str
    default: Any
    help: str = ""
    choices: tuple | None = None

    def __post_init__(self) -> None:
        name = _TYPE_NAMES.get(self.type, self.type) if isinstance(self.type, type) else self.type
        if name not in TYPES:
            raise ConfigError(f"option '{self.name}': type must be one of {', '.join(TYPES)}, got {self.type!r}")
        object.__setattr__(self, "type", name)
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))

    @property
    def type_name(self) -> str:
        return str(self.type)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form used by ``plugins list --json`` (``choices`` is a list or null)."""
        return {"name": self.name, "type": self.type_name, "default": _jsonable(self.default),
                "help": self.help, "choices": list(self.choices) if self.choices is not None else None}


@dataclass(frozen=True)
class Preset:
    """A named set of option values a recipe offers (``gantrans train RECIPE --preset NAME``).

    ``options`` are applied over the declared defaults and under anything the user sets;
    ``why`` says in one line what the preset is for. A recipe whose defaults deviate from its
    paper offers a ``paper`` preset that restores the paper's settings exactly.
    """

    name: str
    options: Mapping[str, Any]
    why: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON form, for catalogs (``gantrans plugins list --json``) and the GUI."""
        return {"name": self.name, "options": {k: _jsonable(v) for k, v in self.options.items()}, "why": self.why}

    def describe(self) -> str:
        values = ", ".join(f"{k}=" + ("(not set)" if v is None else str(v)) for k, v in self.options.items())
        return f"{self.name}: {values}" + (f"  ({self.why})" if self.why else "")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _type_of(value: Any) -> str:
    for t in (bool, int, float):
        if isinstance(value, t):
            return _TYPE_NAMES[t]
    return "str"


def options_from_defaults(defaults: Mapping[str, Any]) -> tuple[Option, ...]:
    """Declarations inferred from a plain ``{name: default}`` dict (types from the defaults)."""
    return tuple(Option(k, _type_of(v), v) for k, v in defaults.items())


def options_from_signature(factory: Callable[..., Any]) -> tuple[Option, ...]:
    """Declarations inferred from a factory's keyword parameters (types from annotations or defaults).

    Used for networks registered without ``options=``, so every network lists what it takes.
    """
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return ()
    out = []
    for p in params:
        if p.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        default = None if p.default is inspect.Parameter.empty else p.default
        ann = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
        kind = next((t for t in TYPES if ann.split("|")[0].strip() == t), None) or _type_of(default)
        out.append(Option(p.name, kind, default))
    return tuple(out)


def override(options: Iterable[Option], **defaults: Any) -> tuple[Option, ...]:
    """``options`` with some defaults replaced; new names are appended as ``str`` options.

    How a recipe reuses a shared list (``BASE_OPTIONS``) with its own defaults.
    """
    out = list(options)
    names = [o.name for o in out]
    for key, value in defaults.items():
        if key in names:
            out[names.index(key)] = replace(out[names.index(key)], default=value)
        else:
            out.append(Option(key, _type_of(value), value))
    return tuple(out)


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def coerce_option(option: Option, value: Any, owner: str) -> Any:
    """``value`` converted to the option's type and checked against its choices.

    ``None`` stays ``None`` (not set). ``owner`` prefixes the error (``recipe 'cyclegan'``).
    """
    if value is None:
        return None
    t = option.type_name
    bad = ConfigError(f"{owner}: option '{option.name}' must be {_article(t)}, got {value!r}")
    if t == "bool":
        if isinstance(value, bool):
            out: Any = value
        elif isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            out = value.lower() in _TRUE
        elif isinstance(value, int) and value in (0, 1):
            out = bool(value)
        else:
            raise bad
    elif t == "int":
        if isinstance(value, bool):
            raise bad
        try:
            out = int(value)
            if out != float(value):
                raise ValueError
        except (TypeError, ValueError):
            raise bad from None
    elif t == "float":
        if isinstance(value, bool):
            raise bad
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise bad from None
    else:
        if not isinstance(value, str):
            raise bad
        out = value
    if option.choices is not None and out not in option.choices:
        raise ConfigError(f"{owner}: option '{option.name}' must be one of "
                          f"{', '.join(str(c) for c in option.choices)}, got {value!r}")
    return out


def _article(type_name: str) -> str:
    return {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}[type_name]


def describe_options(options: Iterable[Option], indent: str = "  ") -> list[str]:
    """Human-readable lines, one per option: name, type, default, choices, help."""
    options = list(options)
    width = max((len(o.name) for o in options), default=0)
    lines = []
    for o in options:
        default = "(not set)" if o.default is None else repr(o.default) if o.type_name == "str" else str(o.default)
        choices = f" [{'|'.join(str(c) for c in o.choices)}]" if o.choices else ""
        lines.append(f"{indent}{o.name:<{width}}  {o.type_name:<5} default {default}{choices}"
                     + (f"  {o.help}" if o.help else ""))
    return lines


# -- the network option contract ------------------------------------------------------------------
# What the built-in recipes (every GANRecipe) pass to the network factories they build. A factory
# takes the ones it honours as keyword parameters; one it lacks is dropped with a warning.

NORMS = ("instance", "batch", "none")
INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")

GENERATOR_OPTIONS: tuple[Option, ...] = (
    Option("in_channels", int, 3, "channels of the input image (from the data)"),
    Option("out_channels", int, 3, "channels of the output image (from the data)"),
    Option("ngf", int, 64, "filters in the first layer; later layers scale it"),
    Option("norm", str, "instance", "normalisation layer", NORMS),
    Option("dropout", bool, False, "dropout 0.5 in the middle layers (passed only when true)"),
    Option("init_type", str, "normal", "weight initialisation (gantrans.gan.init_weights)", INIT_TYPES),
    Option("init_gain", float, 0.02, "scale of the initial weights"),
)
"""Options an image-to-image generator receives from the built-in recipes."""

DISCRIMINATOR_OPTIONS: tuple[Option, ...] = (
    Option("in_channels", int, 3, "channels of the image judged (pix2pix: input + output channels)"),
    Option("ndf", int, 64, "filters in the first layer"),
    Option("n_layers", int, 3, "depth (PatchGAN: 3 gives 70x70 patches)"),
    Option("norm", str, "instance", "normalisation layer", NORMS),
    Option("init_type", str, "normal", "weight initialisation (gantrans.gan.init_weights)", INIT_TYPES),
    Option("init_gain", float, 0.02, "scale of the initial weights"),
)
"""Options an image discriminator receives from the built-in recipes."""

RECIPE_SET_OPTIONS = frozenset(o.name for o in GENERATOR_OPTIONS + DISCRIMINATOR_OPTIONS) | {
    "latent_size", "image_size", "num_classes", "real_label"}
"""Network and loss options the built-in recipes set from their own options or the data; the
rest of a network's or loss's declared options are the user's, as ``-o ROLE.OPTION=VALUE``."""
