"""The metadata contract of one exported head: size rule, tiling advice and provenance."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import torch

from gantrans import __version__
from gantrans.metadata import ModelContract
from gantrans.recipe import ExportHead

from .onnx_graph import example_inputs, input_names, output_name, round_up, spatially_dynamic

#: ONNX Runtime's peak on the CPU per input pixel, as a multiple of the network's largest single
#: activation (measured peak resident growth at 512-1024 px: ResNet-9 ngf 64 4.7x, ngf 16 5.2x,
#: U-Net-256 ngf 64 3.6-4.3x), rounded up for a margin.
PEAK_PER_ACTIVATION = 6
#: The engine's own arrays around a run (the image as float, its result, 8-bit copies).
ENGINE_BYTES_PER_PIXEL = 64


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


def memory_per_pixel(head: ExportHead) -> int | None:
    """Bytes per input pixel a translation head needs, for the engine's memory bound (tile or
    refuse before running out). One fixed figure for every model refused 12 Mpx photos that a
    narrow generator translates in a third of it; this one follows the network's widest layer."""
    if not spatially_dynamic(head):
        return None
    side = round_up(max(head.min_size, 64), head.size_multiple)
    biggest = 0

    def note(_module: Any, _inputs: Any, out: Any) -> None:
        nonlocal biggest
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and t.ndim:
                biggest = max(biggest, t[0].numel() * 4)  # float32, one image

    hooks = [m.register_forward_hook(note) for m in head.module.modules() if not any(m.children())]
    try:
        with torch.no_grad():
            head.module.eval()(*example_inputs(head, 1, side))
    finally:
        for h in hooks:
            h.remove()
    return int(PEAK_PER_ACTIVATION * biggest / (side * side)) + ENGINE_BYTES_PER_PIXEL


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
        "bytes_per_pixel": memory_per_pixel(head),
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
