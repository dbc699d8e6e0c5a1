"""The metadata contract of one exported head: size rule, tiling advice and provenance."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import torch

from gantrans import __version__
from gantrans.metadata import ModelContract
from gantrans.recipe import ExportHead

from .onnx_graph import input_names, output_name, round_up


def _has_instance_norm(module: Any) -> bool:
    return any("InstanceNorm" in type(m).__name__ for m in getattr(module, "modules", lambda: [])())


def tiling_advice(head: ExportHead) -> tuple[str, int | None, int | None]:
    """Tiling verdict plus a tile size and overlap that respect the size rule.

    Instance norm normalises over whatever it sees, so tiles of one image get different
    statistics: such generators are marked ``discouraged`` even if the recipe said ``ok``.
    """
    tiling = head.tiling
    if tiling == "ok" and _has_instance_norm(head.module):
        tiling = "discouraged"
    if head.task != "translate" or head.fixed_size is not None or tiling == "unsupported":
        return tiling, None, None
    m = max(1, head.size_multiple)
    overlap = round_up(32, m)
    tile = round_up(max(256, 4 * overlap, head.min_size), m)
    return tiling, tile, overlap


def build_contract(head: ExportHead, ckpt: Mapping[str, Any], *, key: str | None, run_name: str, opset: int,
                   exporter: str, extra: Mapping[str, Any] | None = None) -> ModelContract:
    tiling, tile, overlap = tiling_advice(head)
    recipe = dict(ckpt.get("recipe") or {})
    present = set(ckpt.get("networks") or {})
    specs = {k: v for k, v in dict(ckpt.get("network_specs") or {}).items() if k in present}
    provenance: dict[str, Any] = {
        "plugin": recipe.get("plugin"),
        "distribution": recipe.get("distribution"),
        "plugin_version": recipe.get("version"),
        "recipe": recipe.get("name"),
        "recipe_options": dict(ckpt.get("model_config") or {}),
        "network_key": key,
        "network": specs.get(key) if key else None,
        "networks": specs,
        "run_name": run_name,
        "epoch": ckpt.get("epoch"),
        "step": ckpt.get("step"),
        "checkpoint_gantrans_version": ckpt.get("gantrans_version"),
        "gantrans_version": __version__,
        "export_date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "opset": opset,
        "exporter": exporter,
        "torch_version": torch.__version__,
    }
    if ckpt.get("imported_from"):
        provenance["imported_from"] = ckpt["imported_from"]
    provenance.update(extra or {})
    return ModelContract(
        task=head.task, in_channels=head.in_channels, out_channels=head.out_channels, value_range=(-1.0, 1.0),
        direction=head.name, source_domain=head.source_domain, target_domain=head.target_domain,
        min_size=int(head.min_size), size_multiple=int(head.size_multiple), fixed_size=head.fixed_size,
        latent_size=head.latent_size, class_names=list(head.class_names), tiling=tiling, tile_size=tile,
        tile_overlap=overlap, input_names=input_names(head.task), output_names=[output_name(head.task)],
        provenance=_jsonable(provenance),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def set_metadata(model: Any, contract: ModelContract) -> None:
    """Replace the model's metadata_props by the contract's key/value pairs."""
    props = contract.metadata_props()
    keep = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    for p in keep:
        model.metadata_props.add(key=p.key, value=p.value)
    for k, v in props.items():
        model.metadata_props.add(key=k, value=v)
