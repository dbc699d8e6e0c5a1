"""``gantrans export``: every export head of a checkpoint to one self-describing ONNX file each.

Nothing half-done is ever left behind: each model goes to a temp file next to its target, is
checked against PyTorch with ONNX Runtime (and, for int8, measured against the fp32 model),
and only then renamed into place. Existing exports are replaced only when asked.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from gantrans import console, events
from gantrans import runs as R
from gantrans.checkpoint import (
    load_checkpoint,
    other_checkpoints_hint,
    recipe_from_checkpoint,
    resolve_checkpoint,
)
from gantrans.errors import CheckpointError, ConfigError, ExportError, GantransError
from gantrans.fileio import (
    OVERWRITE_HINT,
    check_output_folder,
    discard,
    inside,
    publish,
    reporting_disk_full,
    safe_name,
    temp_path_for,
)
from gantrans.recipe import ExportHead, Recipe

from .calibration import calibration_sets, data_root, run_dataset_sets
from .contract import build_contract, set_metadata
from .int8 import QUANTIZATION
from .onnx_graph import check_opset, model_opset, to_onnx
from .parity import PARITY_TOLERANCE, check_reference, describe_cases, max_abs_difference, parity_cases
from .quantize import MIN_PSNR, quantize


def _run_dir_of(source: Path, ckpt_path: Path) -> Path | None:
    if source.is_dir():
        return source
    return R.run_dir_of(ckpt_path)


def _run_name(ckpt: dict[str, Any], run_dir: Path | None, ckpt_path: Path) -> str:
    return str(ckpt.get("run_name") or (run_dir.name if run_dir else ckpt_path.stem))


def _targets(out_dir: Path, run_name: str, head: ExportHead, int8: bool,
             epoch: int | None = None) -> tuple[Path, Path | None]:
    """The files of one head, always directly inside ``out_dir``: ``RUN_HEAD.onnx`` for a run's
    latest checkpoint, ``RUN_epochNNNN_HEAD.onnx`` for a kept epoch, so an older model exported
    to compare never takes the name (or the place) of the run's current one.

    Run and head names come from the checkpoint: they are data, never paths.
    """
    kept = f"_epoch{epoch:04d}" if epoch is not None else ""
    base = f"{safe_name(run_name, 'run')}{kept}_{safe_name(head.name, 'head')}"
    try:
        return inside(out_dir, base + ".onnx"), (inside(out_dir, base + ".int8.onnx") if int8 else None)
    except ValueError as exc:
        raise ExportError(f"{out_dir}: refusing to write outside the output folder ({exc})") from None


def export_run(source: str | Path, *, checkpoint: str | int = "latest", out_dir: str | Path = "exports",
               opset: int | None = None, heads: Sequence[str] | str | None = None, int8: bool = False,
               calibration: str | Path | None = None, overwrite: bool = False, force: bool = False,
               progress: Callable[[str], None] = print, exporter: str = "dynamo",
               parity_tolerance: float = PARITY_TOLERANCE, min_psnr: float = MIN_PSNR,
               record: bool = True) -> list[Path]:
    """Export a run's (or checkpoint file's) generator heads to ONNX; returns the files written.

    ``record=False`` leaves the run's ``exports.json`` alone: an export made only to be scored
    and thrown away (``gantrans eval RUN``) is not one the run should list.
    """
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".onnx":
        raise ExportError(f"{source}: already an ONNX model; translate with it ('gantrans translate "
                          f"{shlex.quote(str(source))} IMAGES'), or export a run folder or a .pt checkpoint")
    if source.is_dir() and not R.is_run_dir(source) and not (source / R.CHECKPOINTS_DIR).is_dir():
        raise ExportError(f"{source}: not a run folder (no {R.CONFIG_FILE}); pass a run (runs/NAME) "
                          f"or a .pt checkpoint file")
    try:
        ckpt = load_checkpoint(source, checkpoint)
    except CheckpointError as exc:
        if not source.is_dir():
            raise
        raise CheckpointError(f"{exc}{other_checkpoints_hint(resolve_checkpoint(source, checkpoint))}") from None
    ckpt_path = Path(ckpt["_path"])
    run_dir = _run_dir_of(source, ckpt_path)
    run_name = _run_name(ckpt, run_dir, ckpt_path)
    recipe = recipe_from_checkpoint(ckpt)
    present = set(ckpt.get("networks", {}))
    selected = _select_heads(recipe, present, heads, ckpt_path)
    out_dir = Path(out_dir)
    check_output_folder(out_dir, "--out folder")
    check_opset(opset)
    plans = []
    for head, key in selected:
        fp32, q8 = _targets(out_dir, run_name, head, int8, R.epoch_of_checkpoint(ckpt_path))
        if q8 is not None and q8.exists() and not overwrite:
            raise ExportError(f"{q8}: already exists; {OVERWRITE_HINT}")
        keep = fp32.exists() and not overwrite
        if keep and (q8 is None or not _is_export_of(fp32, head, key, ckpt, run_name, parity_tolerance)):
            raise ExportError(f"{fp32}: already exists; {OVERWRITE_HINT}")
        plans.append((head, key, fp32, q8, keep))
    root = Path(calibration) if calibration is not None else data_root(run_dir)
    if calibration is not None and not root.is_dir():
        raise ExportError(f"{root}: no such calibration folder")
    # Calibration inputs are gathered before anything is written: a missing data set fails fast.
    calib = {}
    for head, _, _, q8, _ in plans:
        if q8 is not None:
            found = run_dataset_sets(head, run_dir, ckpt.get("data") or {}) if calibration is None else None
            calib[head.name] = found or calibration_sets(head, ckpt.get("data") or {}, root,
                                                         recorded=(R.read_config(run_dir) or {}).get("data"))
    written: list[Path] = []
    listed_in = run_dir if record else None
    reporter = events.active()
    total = sum((0 if keep else 1) + (q8 is not None) for *_, q8, keep in plans)
    reporter.start("export", total=total, unit="file")
    try:
        for head, key, fp32, q8, keep in plans:
            if keep:
                progress(f"{head.name}: {fp32} is already this checkpoint's export (same run, step and network, "
                         f"matches PyTorch); keeping it and adding the int8 model")
            else:
                progress(f"{head.name}: exporting {head.task} head (network {key or head.network}) to {fp32}")
                written.append(_export_fp32(head, key, ckpt, run_name, fp32, opset, exporter, parity_tolerance,
                                            progress))
                _record(listed_in, written[-1], head, ckpt_path, ckpt)
                reporter.progress(len(written), total, force=True)
            if q8 is not None:
                written.append(_export_int8(head, key, ckpt, run_name, fp32, q8, calib[head.name], force,
                                            min_psnr, progress))
                _record(listed_in, written[-1], head, ckpt_path, ckpt)
                reporter.progress(len(written), total, force=True)
    except GantransError as exc:
        if total > 1:  # say exactly what the user now has
            done = ", ".join(str(p) for p in written)
            exc.args = (f"{exc}; " + (f"written before the failure: {done}" if done else "no file was written"),)
        raise
    except KeyboardInterrupt:
        if written:  # the same command would now refuse them: say what is there and how to go on
            console.warning(f"stopped after writing {', '.join(str(p) for p in written)}; the same command with "
                            f"--overwrite exports every head again")
        raise
    return written


def _is_export_of(path: Path, head: ExportHead, key: str | None, ckpt: dict[str, Any], run_name: str,
                  tolerance: float) -> bool:
    """Whether an existing fp32 file is this checkpoint's export of this head, so ``--int8`` may build on it.

    The metadata must name the same run, step and network, and ONNX Runtime must still match this
    checkpoint's network in PyTorch: a run trained again under the same name fails the second test.
    """
    try:
        prov = _provenance(onnx.load(str(path), load_external_data=False))
    except Exception:  # noqa: BLE001 - a damaged or foreign file is simply not ours to keep
        return False
    if "quantization" in prov or (prov.get("run_name"), prov.get("step"), prov.get("network_key")) != (
            run_name, ckpt.get("step"), key):
        return False
    try:
        return max_abs_difference(head, path, parity_cases(head)) <= tolerance
    except GantransError:
        return False


def _record(run_dir: Path | None, path: Path, head: ExportHead, ckpt_path: Path, ckpt: dict[str, Any]) -> None:
    """Note the file in the run's export list (figures read back from the file's own metadata)."""
    if run_dir is None:
        return
    prov = _provenance(onnx.load(str(path), load_external_data=False))
    try:
        R.record_export(run_dir, path, head=head.name, direction=head.name if head.task == "translate" else None,
                        int8="quantization" in prov, parity=prov.get("parity_max_abs_diff"),
                        psnr=prov.get("int8_psnr_db"), task=head.task, checkpoint=ckpt_path.name,
                        step=ckpt.get("step"))
    except OSError as exc:  # the export itself is done and good
        console.warning(f"{path}: written, but not recorded in {run_dir / R.EXPORTS_FILE} ({exc.strerror or exc})")


def _select_heads(recipe: Recipe, present: set[str], wanted: Sequence[str] | str | None,
                  ckpt_path: Path) -> list[tuple[ExportHead, str | None]]:
    try:
        all_heads = [(h, h.key) for h in recipe.resolved_export_heads()]
    except ConfigError as exc:
        raise ExportError(f"{ckpt_path}: {exc}") from None
    available = [(h, k) for h, k in all_heads if k in present]
    if isinstance(wanted, str):
        wanted = [w.strip() for w in wanted.split(",") if w.strip()]
    if wanted:
        names = {h.name for h, _ in available}
        missing = [w for w in wanted if w not in names]
        if missing:
            raise ExportError(f"{ckpt_path}: no export head {', '.join(missing)}; available: "
                              f"{', '.join(sorted(names)) or 'none'}")
        available = [(h, k) for h, k in available if h.name in wanted]
    if not available:
        raise ExportError(f"{ckpt_path}: no exportable generator in this checkpoint "
                          f"(heads {', '.join(h.name for h, _ in all_heads) or 'none'})")
    return available


def _export_fp32(head: ExportHead, key: str | None, ckpt: dict[str, Any], run_name: str, target: Path,
                 opset: int | None, exporter: str, tolerance: float, progress: Callable[[str], None]) -> Path:
    cases = parity_cases(head)
    label = _network_label(head, key, ckpt)
    check_reference(head, cases, label)  # a network failing in PyTorch is named before any export work
    model, used = to_onnx(head, opset=opset, exporter=exporter, progress=progress)
    real_opset = model_opset(model) or opset or 0
    tmp = None
    try:
        with reporting_disk_full(target):
            tmp = temp_path_for(target)
        contract = build_contract(head, ckpt, key=key, run_name=run_name, opset=real_opset, exporter=used)
        set_metadata(model, contract)
        with reporting_disk_full(target):
            onnx.save_model(model, str(tmp))
        sizes = describe_cases(head, cases)
        diff = max_abs_difference(head, tmp, cases, network=label)
        progress(f"  {head.name}: parity ONNX Runtime vs PyTorch at {sizes}: max abs difference {diff:.2e} "
                 f"(tolerance {tolerance:.0e}, {used} exporter, opset {real_opset})")
        if not diff <= tolerance:
            raise ExportError(f"head '{head.name}': ONNX Runtime differs from PyTorch by {diff:.3g} at {sizes} "
                              f"(tolerance {tolerance:g}); nothing written")
        contract.provenance["parity_max_abs_diff"] = diff
        set_metadata(model, contract)
        with reporting_disk_full(target):
            onnx.save_model(model, str(tmp))
            publish(tmp, target)
    except BaseException:
        discard(tmp)
        raise
    return target


def _network_label(head: ExportHead, key: str | None, ckpt: dict[str, Any]) -> str:
    """``network 'x' (plugin 'p' (dist 1.0))`` for the network behind a head, for error lines."""
    from gantrans.plugins.registry import Origin

    spec = dict((ckpt.get("network_specs") or {}).get(key or "", {}) or {})
    if not spec.get("plugin"):
        return f"network '{head.network}'"
    origin = Origin(str(spec["plugin"]), spec.get("distribution"), spec.get("version"))
    return f"network '{spec.get('name', head.network)}' ({origin.describe()})"


def _export_int8(head: ExportHead, key: str | None, ckpt: dict[str, Any], run_name: str, fp32: Path,
                 target: Path, inputs: tuple[list[np.ndarray], list[np.ndarray], str], force: bool,
                 min_psnr: float, progress: Callable[[str], None]) -> Path:
    calib, held, what = inputs
    progress(f"  {head.name}: calibrating int8 on {what}")
    with reporting_disk_full(target):
        tmp, value, excluded = quantize(fp32, target, head, calib, held, min_psnr=min_psnr, progress=progress)
    try:
        if not value >= min_psnr and not force:
            raise ExportError(f"head '{head.name}': int8 model reaches only {value:.2f} dB PSNR against fp32 "
                              f"(threshold {min_psnr:g} dB); pass --force to write it anyway")
        model = onnx.load(str(tmp))
        fp = onnx.load(str(fp32), load_external_data=False)
        opset = model_opset(fp) or 0
        contract = build_contract(head, ckpt, key=key, run_name=run_name, opset=opset,
                                  exporter=_provenance(fp).get("exporter", "?"),
                                  extra={"quantization": QUANTIZATION, "int8_psnr_db": _finite(value),
                                         "int8_fp32_nodes": excluded, "calibration": what})
        set_metadata(model, contract)
        with reporting_disk_full(target):
            onnx.save_model(model, str(tmp))
            publish(tmp, target)
    except BaseException:
        discard(tmp)
        raise
    progress(f"  {head.name}: wrote {target} (int8 PSNR {value:.2f} dB)")
    return target


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _provenance(model: onnx.ModelProto) -> dict[str, Any]:
    for p in model.metadata_props:
        if p.key == "gantrans":
            return dict(json.loads(p.value).get("provenance") or {})
    return {}
