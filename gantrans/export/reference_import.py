"""``gantrans import``: a reference CycleGAN/pix2pix generator checkpoint as a gantrans run.

The reference saves bare state_dicts. The architecture is read back from keys and shapes
(:mod:`gantrans.export.reference_layout`), the matching built-in recipe is built around it,
the weights are loaded strictly (which proves the inference right) and a run directory with a
self-describing checkpoint is written, so ``gantrans export`` works on it with no flags.
"""

from __future__ import annotations

import datetime as _dt
import os
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from gantrans import __version__
from gantrans import runs as R
from gantrans.checkpoint import (
    CHECKPOINT_DIR,
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    LATEST,
    atomic_save,
    unreadable_reason,
)
from gantrans.errors import CheckpointError, ConfigError
from gantrans.fileio import temp_dir_for
from gantrans.recipe import DataSpec, get_recipe, preset_options

from .reference_layout import GeneratorLayout, infer_layout

AS_CHOICES = ("cyclegan-A2B", "cyclegan-B2A", "pix2pix")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The generator state_dict in a reference file (bare, or wrapped under ``state_dict``)."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling error means an unusable file
        raise CheckpointError(f"{path}: {_what_else(path) or unreadable_reason(exc, 'a readable PyTorch checkpoint')}") \
            from None
    if isinstance(obj, Mapping) and obj.get("format") == CHECKPOINT_FORMAT:
        from gantrans.inference.not_onnx import run_dir_of

        target = run_dir_of(path) or path
        raise CheckpointError(f"{path}: a gantrans training checkpoint, which needs no import; export it with "
                              f"'gantrans export {shlex.quote(str(target))}'")
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: not a state_dict (found {type(obj).__name__}"
                              f"{' with non-tensor values' if isinstance(obj, Mapping) else ''})")
    sd = {str(k): v for k, v in obj.items()}
    if sd and all(k.startswith("module.") for k in sd):  # saved from DataParallel
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _what_else(path: Path) -> str:
    """What a file torch cannot load is instead, when it is something a user may mix up."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return f"an image ({im.format}), not a PyTorch checkpoint; import takes a generator's .pth file"
    except (OSError, UnidentifiedImageError):
        pass
    if path.suffix.lower() == ".onnx":
        return (f"an ONNX model, which needs no import; translate with it: "
                f"'gantrans translate {shlex.quote(str(path))} IMAGES'")
    return ""


def _data_spec(layout: GeneratorLayout, as_: str) -> DataSpec:
    size = 256 if layout.family == "resnet" else max(256, 2 ** layout.depth)
    src, dst = layout.in_channels, layout.out_channels
    channels = {"A": dst, "B": src} if as_ == "cyclegan-B2A" else {"A": src, "B": dst}
    return DataSpec(kind="paired" if as_ == "pix2pix" else "unpaired", channels=channels, size=size)


def _model_config(recipe_cls: type, layout: GeneratorLayout) -> dict[str, Any]:
    options: dict[str, Any] = {"generator": layout.network, "ngf": layout.ngf, "norm": layout.norm}
    if layout.dropout is not None:
        options["dropout"] = layout.dropout
    if "direction" in recipe_cls.defaults:
        options["direction"] = "AtoB"
    # The reference's generators are the paper's: no residual output or other deviation.
    paper = preset_options(recipe_cls, "paper") if any(p.name == "paper" for p in recipe_cls.presets) else {}
    return {k: v for k, v in {**paper, **options}.items() if k in recipe_cls.defaults}


def build_import_checkpoint(sd: dict[str, torch.Tensor], layout: GeneratorLayout, as_: str, *, source: Path,
                            run_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(checkpoint dict, config.json dict) for a recognised generator; loads the weights strictly."""
    from gantrans.plugins import get_registries

    if layout.network not in get_registries().networks:
        raise CheckpointError(f"{source}: {layout.describe()}; no registered network '{layout.network}' to load it into")
    recipe_name = "pix2pix" if as_ == "pix2pix" else "cyclegan"
    try:
        cls = get_recipe(recipe_name)
    except ConfigError as exc:
        raise CheckpointError(f"{source}: cannot import as {as_} ({exc})") from None
    data = _data_spec(layout, as_)
    recipe = cls(_model_config(cls, layout), data)
    nets = recipe.build_networks()
    wanted = "A2B" if as_ in ("cyclegan-A2B", "pix2pix") else "B2A"
    recipe.attach(nets)
    heads = {h.name: h for h in recipe.resolved_export_heads()}
    if wanted not in heads:
        raise CheckpointError(f"{source}: recipe '{recipe_name}' has no head {wanted} (has {', '.join(heads)})")
    key = heads[wanted].key
    try:
        nets[key].load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{source}: looks like a {layout.describe()} but does not load into "
                              f"'{layout.network}' ({first})") from None
    origin = get_registries().models.get(recipe_name).origin
    config = {
        "recipe": recipe_name, "data": "", "name": run_name, "crop_size": data.size,
        "model": dict(recipe.config), "imported_from": str(source.resolve()),
        "imported_as": as_, "imported_layout": layout.describe(),
    }
    ckpt = {
        "format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "gantrans_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "run_name": run_name,
        "recipe": {"name": recipe_name, **origin.as_dict()}, "model_config": dict(recipe.config),
        "data": data.as_dict(), "network_specs": {k: dict(v) for k, v in recipe.network_specs.items()},
        "config": config, "networks": {key: {k: v.detach().clone() for k, v in nets[key].state_dict().items()}},
        "epoch": 0, "step": 0, "imported_from": str(source.resolve()),
    }
    return ckpt, config


def import_reference(path: str | os.PathLike, *, as_: str | None = None, name: str | None = None,
                     runs_dir: str | os.PathLike = "runs") -> Path:
    """Turn a reference generator checkpoint into ``runs_dir/name/``; returns the run directory."""
    path = Path(path)
    if as_ is not None and as_ not in AS_CHOICES:
        raise ConfigError(f"--as must be one of {', '.join(AS_CHOICES)}, not '{as_}'")
    run_name = R.check_run_name(name or path.stem, "--name" if name else "run name (the file's name)")
    sd = read_state_dict(path)
    layout = infer_layout(sd, str(path))
    as_ = as_ or ("pix2pix" if layout.family == "unet" else "cyclegan-A2B")
    target = Path(runs_dir) / run_name
    if target.exists():
        raise CheckpointError(f"{target}: already exists; choose another --name or remove it")
    ckpt, config = build_import_checkpoint(sd, layout, as_, source=path, run_name=run_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build the run directory beside its final place and rename it in: all or nothing.
    staging = temp_dir_for(target)
    try:
        R.write_config(staging, config)
        latest = atomic_save(ckpt, staging / CHECKPOINT_DIR / LATEST)
        R.write_checkpoint_summary(latest, step=0, epoch=0, imported_from=str(path.resolve()))
        status = R.StatusWriter(staging)
        status.checkpoint(latest, 0)
        status.finish("finished", recipe=config["recipe"], total_steps=0, eta_s=0.0)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
