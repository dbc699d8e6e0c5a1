"""The resolved training configuration: defaults < config file < command-line flags.

Every flag of ``gantrans train`` is a field of :class:`TrainConfig`, so a whole run can live in
a ``.json`` or ``.toml`` file (recipe options in a ``model`` table). The resolved config is saved
in the run (``config.json``) and in every checkpoint, which is what lets ``--resume`` need no
other flags.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gantrans.errors import ConfigError
from gantrans.keyvalue import parse_option
from gantrans.training.image_size import DEFAULT_CROP_SIZE, load_size_for

__all__ = ["RESUMABLE_OVERRIDES", "TrainConfig", "load_config_file", "parse_option"]

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
LR_POLICIES = ("linear", "step", "cosine")
DEFAULT_EPOCHS = 200  # the paper's 100 epochs at the initial rate + 100 of linear decay
CHANNELS = (3, 1)  # colour, greyscale
PREPROCESS = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")

# Flags a resumed run may change: they extend or re-tune the run without changing what it is.
RESUMABLE_OVERRIDES = frozenset({
    "epochs", "max_steps", "n_epochs", "n_epochs_decay", "checkpoint_every", "keep_epochs",
    "samples", "sample_every_epoch", "sample_every_steps", "device", "precision", "workers", "compile", "skip_nonfinite",
    "log_every", "tensorboard", "threads",
})


@dataclass
class TrainConfig:
    """Everything a training run needs; ``model`` holds the recipe's own options."""

    recipe: str = ""
    data: str = ""
    name: str | None = None
    runs_dir: str = "runs"
    epochs: int | None = None
    max_steps: int | None = None
    batch_size: int = 1
    load_size: int | None = None
    crop_size: int | None = None
    """None: the images' size, at most 256 (:mod:`gantrans.training.image_size`); set when the run starts."""
    channels: int = 3
    """Of the images the generators take and make: 3 colour, 1 greyscale (converted on loading)."""
    preprocess: str = "resize_and_crop"
    flip: bool = True
    data_format: str | None = None
    max_items: int | None = None
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    threads: int | None = None
    workers: int = 2
    checkpoint_every: int = 500
    keep_epochs: int = 5
    samples: int = 4
    sample_every_epoch: int = 1
    sample_every_steps: int = 0
    lr_policy: str = "linear"
    n_epochs: int | None = None  # None: the first half of the run (100 of the default 200)
    n_epochs_decay: int | None = None  # None: the rest of the run
    lr_decay_iters: int = 50
    compile: bool = False
    skip_nonfinite: bool = False
    deterministic: bool = False
    log_every: int = 10
    tensorboard: bool = True
    preset: str | None = None
    """A named option set of the recipe (``paper``), applied under the ``model`` options."""
    model: dict[str, Any] = field(default_factory=dict)

    # -- derived ------------------------------------------------------------------------
    @property
    def total_epochs(self) -> int:
        if self.epochs is not None:
            return int(self.epochs)
        if self.n_epochs is not None and self.n_epochs_decay is not None:
            return int(self.n_epochs + self.n_epochs_decay)
        return DEFAULT_EPOCHS

    def schedule_split(self, length: int | None = None) -> tuple[int, int]:
        """(epochs at the initial rate, epochs of linear decay) for a run of ``length`` epochs.

        The paper's split (100 constant + 100 decaying) is a proportion, not a number: with
        ``--epochs 6`` the rate holds for 3 epochs and decays over 3. ``length`` is the run's
        real length when ``max_steps`` ends it early. Values set explicitly are kept.
        """
        total = max(1, int(length if length is not None else self.total_epochs))
        n, d = self.n_epochs, self.n_epochs_decay
        if n is None and d is None:
            n = (total + 1) // 2
            return n, total - n
        if n is None:
            return max(0, total - int(d)), int(d)
        if d is None:
            return int(n), max(0, total - int(n))
        return int(n), int(d)

    @property
    def resolved_load_size(self) -> int:
        """The reference's 286/256 ratio when only the crop size is given."""
        crop = DEFAULT_CROP_SIZE if self.crop_size is None else self.crop_size
        return int(self.load_size) if self.load_size is not None else load_size_for(crop)

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "config") -> TrainConfig:
        cfg = cls()
        cfg.update(d, source)
        return cfg

    def update(self, d: Mapping[str, Any], source: str = "config") -> TrainConfig:
        """Overlay ``d`` (keys with dashes or underscores) on this config, checking names and types."""
        names = {f.name: f for f in dataclasses.fields(self)}
        for raw_key, value in d.items():
            key = str(raw_key).replace("-", "_")
            if key not in names:
                raise ConfigError(f"{source}: unknown setting '{raw_key}'; settings: {', '.join(sorted(names))}")
            if key == "model":
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{source}: 'model' must be a table of recipe options")
                self.model = {**self.model, **dict(value)}
                continue
            setattr(self, key, _coerce(key, value, names[key], source))
        self.validate(source)
        return self

    def validate(self, source: str = "config") -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"{source}: precision must be one of {', '.join(PRECISIONS)}, not '{self.precision}'")
        if self.channels not in CHANNELS:
            raise ConfigError(f"{source}: channels must be one of {', '.join(map(str, CHANNELS))}, not {self.channels}")
        if self.lr_policy not in LR_POLICIES:
            raise ConfigError(f"{source}: lr_policy must be one of {', '.join(LR_POLICIES)}, not '{self.lr_policy}'")
        for key in ("batch_size", "crop_size", "load_size"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise ConfigError(f"{source}: {key} must be >= 1")
        for key in ("workers", "checkpoint_every", "keep_epochs", "samples", "sample_every_epoch",
                    "sample_every_steps", "n_epochs", "n_epochs_decay", "log_every"):
            if getattr(self, key) is not None and getattr(self, key) < 0:
                raise ConfigError(f"{source}: {key} must be >= 0")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"{source}: epochs must be >= 1")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"{source}: threads must be >= 1")
        if self.max_items is not None and self.max_items < 1:
            raise ConfigError(f"{source}: max_items must be >= 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"{source}: max_steps must be >= 1")
        if self.lr_decay_iters < 1:
            raise ConfigError(f"{source}: lr_decay_iters must be >= 1")


def _coerce(key: str, value: Any, f: dataclasses.Field, source: str) -> Any:
    kind = str(f.type)
    if value is None:
        if "None" in kind:
            return None
        raise ConfigError(f"{source}: {key} cannot be empty")
    try:
        if kind.startswith("int"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind.startswith("bool"):
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            return bool(value)
        if kind.startswith("str"):
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {key} = {value!r} is not a valid {kind.split(' ')[0]}") from None
    return value


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a ``.json`` or ``.toml`` config file into a plain dict."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such config file")
    try:
        if p.suffix.lower() == ".toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover
                try:
                    import tomli as tomllib  # type: ignore[no-redef]
                except ImportError:
                    raise ConfigError(f"{p}: reading TOML needs Python 3.11 or 'pip install tomli'") from None
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        elif p.suffix.lower() == ".json":
            data = json.loads(p.read_text(encoding="utf-8"))
        else:
            raise ConfigError(f"{p}: config files must be .json or .toml")
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{p}: unreadable config ({first})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the config must be a table/object at the top level")
    data.pop("resolved", None)  # a run's config.json: what the trainer chose there, chosen again here
    return data
