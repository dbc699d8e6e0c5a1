"""Self-describing checkpoints: written atomically, loaded without unpickling code.

A checkpoint holds, besides weights, the recipe name and origin, the recipe options, the data
spec and each network's registry name and options — enough to resume, sample or export with
no flags repeated. Loading uses ``torch.load(weights_only=True)``, so every value is a tensor
or a plain Python container/primitive.

Keys of a checkpoint dict (the trainer writes all; an imported reference generator writes the
first group and ``networks`` only):

- ``format`` (= CHECKPOINT_FORMAT), ``format_version``, ``gantrans_version``, ``created`` (ISO
  date), ``run_name``;
- ``recipe``: ``{"name", "plugin", "distribution", "version"}``; ``model_config``: the recipe's
  merged options (``Recipe.config``); ``data``: ``DataSpec.as_dict()``; ``network_specs``:
  ``Recipe.network_specs``; ``config``: the whole resolved run config;
- ``networks``: ``{key: state_dict}``;
- ``optimizers``, ``schedulers``: ``{name: state_dict}``; ``scaler``: GradScaler state or None;
  ``recipe_state``: ``Recipe.state_dict()``; ``rng``: python/numpy/torch/cuda states as tensors
  and primitives; ``epoch`` (epochs completed), ``step`` (global steps done), ``epoch_step``
  (steps done inside the current epoch).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gantrans.errors import CheckpointError
from gantrans.fileio import atomic_write
from gantrans.recipe import DataSpec, Recipe, get_recipe
from gantrans.runs import CHECKPOINTS_DIR as CHECKPOINT_DIR
from gantrans.runs import CONFIG_FILE, config_path, epoch_of_checkpoint, is_run_dir, kept_epoch_checkpoints
from gantrans.runs import LATEST_CHECKPOINT as LATEST
from gantrans.runs import epoch_checkpoint_name as epoch_filename

CHECKPOINT_FORMAT = "gantrans-checkpoint"
CHECKPOINT_VERSION = 1


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename into place.

    A crash at any moment leaves either the old file or the new one, never a torn file.
    """
    path = Path(path)
    with atomic_write(path) as fh:
        sink = _WriteErrors(fh)
        try:
            torch.save(obj, sink)
        except RuntimeError:
            if sink.error is not None:  # torch reports a failed write as "unexpected pos ..."
                raise sink.error from None
            raise
    return path


class _WriteErrors:
    """A file wrapper that keeps the OSError (a full disk ...) that torch's writer swallows."""

    def __init__(self, fh: Any):
        self.fh = fh
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.fh.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.fh.flush()


def resolve_checkpoint(path: str | os.PathLike, which: str | int = "latest") -> Path:
    """A checkpoint file from a run directory (``latest`` or an epoch number) or a file path."""
    p = Path(path)
    if p.is_file():
        return p
    if not p.exists():
        raise CheckpointError(f"{p}: no such run directory or checkpoint file")
    folder = p / CHECKPOINT_DIR
    if str(which) == "latest":
        candidate = folder / LATEST
    else:
        try:
            candidate = folder / epoch_filename(int(which))
        except ValueError:
            raise CheckpointError(f"--checkpoint must be 'latest' or an epoch number, not '{which}'") from None
    if not candidate.is_file():
        kept = sorted(x.name for x in folder.glob("*.pt")) if folder.is_dir() else []
        if not kept and p.is_dir() and not is_run_dir(p):  # an empty or foreign folder, not a run
            raise CheckpointError(f"{p}: not a gantrans run (no {CONFIG_FILE}, no checkpoint); give a run "
                                  f"folder, or remove this one to use its name for a new run")
        if not kept:
            raise CheckpointError(f"{p}: the run has saved no checkpoint yet; train it further first "
                                  f"('gantrans train --resume {shlex.quote(str(p))}')")
        raise CheckpointError(f"{candidate}: no such checkpoint; available: {', '.join(kept)}")
    return candidate


def load_checkpoint(path: str | os.PathLike, which: str | int = "latest") -> dict[str, Any]:
    """Load and validate a gantrans checkpoint on the CPU."""
    file = resolve_checkpoint(path, which)
    try:
        ckpt = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling/zip error is a bad file to the user
        raise CheckpointError(f"{file}: {unreadable_reason(exc, 'a gantrans checkpoint')}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{file}: not a gantrans checkpoint (for a reference CycleGAN/pix2pix "
                              f"generator use 'gantrans import')")
    if int(ckpt.get("format_version", 0)) > CHECKPOINT_VERSION:
        raise CheckpointError(f"{file}: written by a newer gantrans ({ckpt.get('gantrans_version')}); upgrade")
    ckpt["_path"] = str(file)
    return ckpt


def other_checkpoints_hint(file: str | os.PathLike) -> str:
    """What else a run keeps, for an error about one of its checkpoints that cannot be read (a
    crash while copying a run, a full disk): the way on is an earlier epoch, so name them."""
    file = Path(file)
    run_dir = file.parent.parent
    if file.parent.name != CHECKPOINT_DIR:
        return ""
    others = [p for p in kept_epoch_checkpoints(run_dir) if p != file]
    if not others:
        return "; the run keeps no other checkpoint"
    return (f"; the run also keeps {', '.join(p.name for p in others)}: use one with --checkpoint EPOCH "
            f"(e.g. --checkpoint {epoch_of_checkpoint(others[-1])})")


def require_plugins(ckpt: dict[str, Any], resuming: bool = False) -> None:
    """Raise a :class:`CheckpointError` naming the distribution when the checkpoint's recipe, one
    of its networks or its loss (and, ``resuming``, its data format) comes from a plugin that is
    not installed (or failed to load)."""
    from gantrans.plugins import get_plugin_manager, get_registries

    regs = get_registries()
    where = ckpt.get("_path", "checkpoint")
    recipe = dict(ckpt.get("recipe") or {})
    components = dict(ckpt.get("components") or {})
    needed = [("recipe", recipe.get("name"), recipe, regs.models)]
    needed += [("network", spec.get("name"), spec, regs.networks)
               for spec in dict(ckpt.get("network_specs") or {}).values()]
    loss = dict(components.get("loss") or {})
    needed.append(("loss", loss.get("name"), loss, regs.losses))
    if resuming:
        fmt = dict(components.get("data_format") or {})
        needed.append(("data format", fmt.get("name"), fmt, regs.data_formats))
    for what, name, origin, registry in needed:
        if not name or name in registry:
            continue
        dist = origin.get("distribution")
        plugin = origin.get("plugin")
        source = (f"plugin '{plugin}' of distribution {dist} {origin.get('version') or ''}".rstrip() if dist
                  else f"plugin '{plugin}'" if plugin else "a plugin")
        if plugin and plugin in get_plugin_manager().disabled:
            raise CheckpointError(f"{where}: {what} '{name}' comes from {source}, which GANTRANS_DISABLE_PLUGINS "
                                  f"turns off; leave it out of that variable to use this run")
        broken = next((f for f in get_plugin_manager().failures
                       if f.plugin == plugin or (dist and f.distribution == dist)), None)
        if broken is not None:  # installed, and failing: reinstalling it would not help
            raise CheckpointError(f"{where}: {what} '{name}' comes from {source}, which is installed but fails "
                                  f"to load ({broken.error}); fix or update it ('gantrans plugins list' shows "
                                  f"the failure)")
        failed = (f" (plugins that failed to load: {', '.join(registry.failed_plugins)})"
                  if registry.failed_plugins else "")
        fix = f"install it with 'gantrans plugins install {dist}'" if dist else "install the plugin that provides it"
        raise CheckpointError(f"{where}: {what} '{name}' comes from {source}, which is not installed"
                              f"{failed}; {fix}")


def unreadable_reason(exc: BaseException, what: str) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in the user's words.

    Never torch's own text: it suggests ``weights_only=False``, which would run whatever
    code a crafted file holds.
    """
    text = str(exc)
    if "Unsupported global" in text or "GLOBAL" in text:
        return f"not {what}: it asks to import Python objects ({_global_name(text)}), which could run code; refused"
    return f"not {what} (truncated or corrupt)"


def _global_name(text: str) -> str:
    for line in text.splitlines():
        if "GLOBAL" in line:
            words = line.split("GLOBAL", 1)[1].split()
            if words:
                return words[0]
    return "unknown"


def load_for_resume(path: str | os.PathLike, warn: Callable[[str], None]) -> dict[str, Any]:
    """The run's latest checkpoint or, when that is unreadable, the newest readable kept one.

    Nothing is removed or rewritten here: the unreadable file stays until the resumed run
    publishes a new checkpoint in its place (atomically).
    """
    p = Path(path)
    if not p.is_dir():
        return load_checkpoint(p)
    try:
        return load_checkpoint(p)
    except CheckpointError as exc:
        problem = exc
    for candidate in reversed(kept_epoch_checkpoints(p)):
        try:
            ckpt = load_checkpoint(candidate)
        except CheckpointError as exc:
            warn(str(exc))
            continue
        warn(f"{problem}; resuming from {candidate} (step {ckpt.get('step')}) instead")
        return ckpt
    config = config_path(p)
    if config.is_file():  # nothing readable to resume from: say the way on
        raise CheckpointError(f"{problem}; the run keeps no other readable checkpoint; to train it again from step "
                              f"0 as a new run: gantrans train --config {shlex.quote(str(config))} --name NEW_NAME")
    raise problem


def recipe_from_checkpoint(ckpt: dict[str, Any], load_weights: bool = True) -> Recipe:
    """Rebuild the recipe and its networks from a checkpoint, weights loaded, on the CPU.

    Networks absent from the checkpoint (an imported generator-only checkpoint) keep their
    fresh initialisation; every network present must match exactly.
    """
    require_plugins(ckpt)
    cls = get_recipe(ckpt["recipe"]["name"])
    recipe = cls(ckpt["model_config"], DataSpec.from_dict(ckpt["data"]))
    recipe.pin_network_options(ckpt.get("network_specs"))  # a plugin's later defaults cannot change it
    nets = recipe.build_networks()
    if load_weights:
        for key, state in ckpt.get("networks", {}).items():
            if key not in nets:
                raise CheckpointError(f"{ckpt.get('_path', 'checkpoint')}: network '{key}' is not part of "
                                      f"recipe '{cls.name}' (has {', '.join(nets)})")
            try:
                nets[key].load_state_dict(state)
            except RuntimeError as exc:
                first = str(exc).strip().splitlines()[0]
                raise CheckpointError(f"{ckpt.get('_path', 'checkpoint')}: weights of '{key}' do not fit "
                                      f"the network ({first})") from None
    recipe.attach(nets)
    return recipe
