"""``gantrans bench infer``: latency, throughput and achieved GFLOP/s of an exported model.

Times ONNX Runtime fp32, optionally int8 (a given file, or one quantized on the fly with
``onnxruntime.quantization`` from synthetic calibration images) and optionally PyTorch eager on
the same network from a checkpoint (the only branch that imports torch). FLOPs count the
multiply-adds of Conv (2*Cin/groups*K*K*Cout*Hout*Wout) and ConvTranspose
(2*Cin*K*K*Cout/groups*Hin*Win: each input pixel is scattered once) from ONNX shape inference.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gantrans import console, events
from gantrans.events import add_progress_argument


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("infer", help="time an exported model (ONNX Runtime fp32/int8, PyTorch eager)",
                       description="Median latency, images/s and GFLOP/s of an ONNX model with ONNX "
                                   "Runtime fp32, int8 and PyTorch eager (from --checkpoint), timed in "
                                   "turns (one run of each per round) so all see the same machine.")
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("--size", type=int, default=256, help="image side for translate models (default 256)")
    p.add_argument("--batch", type=int, default=1, help="images per run (default 1)")
    p.add_argument("--runs", type=int, default=10, metavar="N", help="timed runs (default 10)")
    p.add_argument("--warmup", type=int, default=2, metavar="N", help="untimed runs first (default 2)")
    p.add_argument("--int8", default=None, metavar="PATH|auto",
                   help="also time an int8 model: a file, or 'auto' to quantize one now")
    p.add_argument("--checkpoint", default=None, metavar="RUN_DIR",
                   help="also time PyTorch eager on the network from this run or checkpoint file")
    p.add_argument("--threads", type=int, default=None, help="threads for ONNX Runtime and PyTorch")
    p.add_argument("--providers", action="append", default=None, metavar="EP[,EP...]",
                   help="execution providers, comma-separated (default: CUDA when available, then CPU)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_progress_argument(p)
    p.set_defaults(func=_bench)


# -- inputs ----------------------------------------------------------------------------------------

def synthetic_images(n: int, channels: int, size: int, seed: int = 0) -> np.ndarray:
    """Photo-like NxCxHxW images in [0, 1]: smooth gradients, soft blobs, edges and mild noise.

    Random noise is a poor stand-in for images when quantizing or measuring quality: real
    photos are mostly smooth, and int8 calibration ranges follow the data.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(1, size - 1)
    out = np.empty((n, channels, size, size), np.float32)
    for k in range(n):
        for c in range(channels):
            img = rng.uniform(0.2, 0.8) + rng.uniform(-0.3, 0.3) * xx + rng.uniform(-0.3, 0.3) * yy
            for _ in range(4):
                cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
                img += rng.uniform(-0.4, 0.4) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
            edge = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) > rng.uniform(-0.5, 0.5)
            img += 0.15 * edge
            img += 0.02 * rng.standard_normal((size, size))
            out[k, c] = np.clip(img, 0, 1)
    return out


def make_feeds(model, size: int, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    from gantrans.inference import processing

    c = model.contract
    names = [i.name for i in model.inputs]
    if c.task == "translate":
        side = c.fixed_size or processing.round_up(max(size, c.min_size or 1), max(1, c.size_multiple or 1))
        lo, hi = c.value_range
        x = synthetic_images(batch, c.in_channels, side, seed) * (hi - lo) + lo
        return {names[0]: x.astype(np.float32)}
    z = np.random.default_rng(seed).standard_normal((batch, c.latent_size)).astype(np.float32)
    feeds = {names[0]: z}
    if c.task == "generate-conditional":
        feeds[names[1]] = (np.arange(batch) % max(1, len(c.class_names))).astype(np.int64)
    return feeds


@contextlib.contextmanager
def _scratch_cwd():
    """Run in a temporary folder: ONNX Runtime's symbolic shape inference drops
    ``sym_shape_infer_temp.onnx`` into the working directory when it gives up."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="gantrans-shapes-") as tmp:
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(old)


# -- FLOPs -----------------------------------------------------------------------------------------

def conv_flops(model_path: str | os.PathLike, feeds: dict[str, np.ndarray]) -> int | None:
    """FLOPs of all Conv/ConvTranspose nodes for these input shapes (None if shapes are unknown).

    ONNX's own shape inference cannot follow pads computed in the graph (torch's reflection
    padding exports that way), so ONNX Runtime's symbolic shape inference is the fallback.
    """
    import onnx
    from onnx import shape_inference

    m = onnx.load(str(model_path))
    for inp in m.graph.input:
        if inp.name in feeds:
            dims = inp.type.tensor_type.shape.dim
            for d, v in zip(dims, feeds[inp.name].shape):
                d.ClearField("dim_param")
                d.dim_value = int(v)
    total = None
    try:
        total = _count(shape_inference.infer_shapes(m, data_prop=True))
    except Exception:  # noqa: BLE001 - best effort
        pass
    if total is None:
        try:
            from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

            with _scratch_cwd():
                total = _count(SymbolicShapeInference.infer_shapes(m, auto_merge=True))
        except Exception:  # noqa: BLE001 - a graph nobody can infer gets no FLOP figure
            return None
    return total


def _count(m) -> int | None:
    shapes: dict[str, list[int]] = {}
    for vi in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    weights = {t.name: list(t.dims) for t in m.graph.initializer}
    for node in m.graph.node:  # weights folded into Constant nodes
        if node.op_type == "Constant" and node.attribute and node.attribute[0].t.dims:
            weights[node.output[0]] = list(node.attribute[0].t.dims)
    total = 0
    for node in m.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose"):
            continue
        w = weights.get(node.input[1]) or shapes.get(node.input[1])
        if not w or len(w) != 4:
            return None
        kk = w[2] * w[3]
        if node.op_type == "Conv":  # weight [Cout, Cin/groups, K, K]
            out = shapes.get(node.output[0])
            if not out or len(out) != 4 or 0 in out:
                return None
            total += 2 * w[1] * kk * w[0] * out[0] * out[2] * out[3]
        else:  # ConvTranspose weight [Cin, Cout/groups, K, K]: every input pixel scattered once
            inp = shapes.get(node.input[0])
            if not inp or len(inp) != 4 or 0 in inp:
                return None
            total += 2 * w[0] * kk * w[1] * inp[0] * inp[2] * inp[3]
    return total


# -- timing ----------------------------------------------------------------------------------------

class Stopped(Exception):
    """The benchmark was asked to stop (SIGINT/SIGTERM) and did, between two runs."""


def time_interleaved(fns: Sequence[Callable[[], Any]], runs: int, warmup: int,
                     stop: Callable[[], bool] | None = None) -> list[tuple[float, Any]]:
    """Median seconds of each of ``fns`` over ``runs`` rounds that call them in turn, after
    ``warmup`` such rounds; also each one's last result. Taking turns, every backend sees the
    same machine: a clock or a neighbour that changes during the benchmark moves all of them.
    ``stop()`` is asked before every call; when it says so, :class:`Stopped` is raised."""
    def check() -> None:
        if stop is not None and stop():
            raise Stopped

    outs: list[Any] = [None] * len(fns)
    for _ in range(max(0, warmup)):
        for i, fn in enumerate(fns):
            check()
            outs[i] = fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(max(1, runs)):
        for i, fn in enumerate(fns):
            check()
            t0 = time.perf_counter()
            outs[i] = fn()
            times[i].append(time.perf_counter() - t0)
    return [(statistics.median(t), out) for t, out in zip(times, outs)]


def psnr(ref: np.ndarray, got: np.ndarray, value_range: tuple[float, float]) -> float:
    mse = float(np.mean((ref.astype(np.float64) - got.astype(np.float64)) ** 2))
    peak = value_range[1] - value_range[0]
    return float("inf") if mse == 0 else 10 * math.log10(peak * peak / mse)


def quantize_auto(model, feeds: dict[str, np.ndarray], out_dir: Path, n_calib: int = 8) -> Path:
    """An int8 model quantized as ``gantrans export --int8`` does (:mod:`gantrans.export.int8`),
    calibrated on synthetic images."""
    from gantrans.export.quantize import quiet_quantization_logs

    with quiet_quantization_logs():
        return _quantize_auto(model, feeds, out_dir, n_calib)


def _quantize_auto(model, feeds: dict[str, np.ndarray], out_dir: Path, n_calib: int) -> Path:
    import itertools

    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from gantrans.export.int8 import quantize_best

    src = Path(model.path).resolve()
    pre = out_dir / "pre.onnx"
    try:
        with _scratch_cwd():
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        src = pre
    except Exception:  # noqa: BLE001 - pre-processing only helps; quantize the raw graph otherwise
        pass
    items = [make_feeds(model, _side(feeds, model), 1, seed=100 + k) for k in range(n_calib)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(items)

        def get_next(self):
            return next(self.it, None)

    # Measured as export measures: int8 against fp32 on images the calibration did not see.
    held_out = [make_feeds(model, _side(feeds, model), 1, seed=200 + k) for k in range(2)]
    fp32 = ort.InferenceSession(str(model.path), providers=["CPUExecutionProvider"])
    refs = [fp32.run(None, f)[0] for f in held_out]

    def measure(path: Path) -> float:
        q = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = np.concatenate([q.run(None, f)[0].ravel() for f in held_out])
        return psnr(np.concatenate([r.ravel() for r in refs]), got, model.contract.value_range)

    tries = itertools.count()
    dst, _, _ = quantize_best(src, lambda: out_dir / f"model{next(tries)}.int8.onnx", Reader, measure)
    return dst


def _side(feeds: dict[str, np.ndarray], model) -> int:
    x = feeds[model.inputs[0].name]
    return int(x.shape[-1]) if x.ndim == 4 else 0


def torch_eager(args, model, feeds: dict[str, np.ndarray]):
    """PyTorch eager on the checkpoint's network matching this model (imports torch here only)."""
    import torch

    from gantrans.checkpoint import load_checkpoint, recipe_from_checkpoint
    from gantrans.errors import ConfigError

    ckpt = load_checkpoint(args.checkpoint)
    heads = recipe_from_checkpoint(ckpt).resolved_export_heads()
    c = model.contract
    match = [h for h in heads if h.task == c.task and (
        (c.direction and c.direction in (h.name, getattr(h, "direction", None)))
        or (c.source_domain and h.source_domain == c.source_domain and h.target_domain == c.target_domain))]
    if not match:
        match = [h for h in heads if h.task == c.task]
    if not match:
        raise ConfigError(f"{args.checkpoint}: no '{c.task}' generator in this checkpoint")
    module = match[0].module.eval()
    if args.threads:
        torch.set_num_threads(args.threads)
    tensors = [torch.from_numpy(feeds[i.name]) for i in model.inputs]

    def run():
        with torch.inference_mode():
            return module(*tensors).numpy()

    return match[0].name, run, torch.get_num_threads()


def _bench(args: argparse.Namespace) -> int:
    """Ctrl+C / SIGINT / SIGTERM stop the benchmark between two runs (exit 130 / 143), never in
    the middle of an ONNX Runtime call: an interrupt raised asynchronously in session set-up or
    teardown could end the process by the signal itself or by a crash instead of the exit code
    a driving program waits for."""
    from gantrans.cli.cancel import CancelOnSignal
    from gantrans.errors import ConfigError

    if args.runs < 1 or args.batch < 1:
        raise ConfigError("--runs and --batch must be at least 1")
    with CancelOnSignal() as stopper:
        try:
            return _measure(args, lambda: stopper.requested)
        except Stopped:
            pass
    console.say("cancelled: nothing measured")
    return stopper.exit_code


def _measure(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from gantrans.inference import load_model

    reporter = events.active()
    backends = 1 + bool(args.int8) + bool(args.checkpoint)
    reporter.start("bench infer", total=backends, unit="backend")
    model = load_model(args.model, providers=args.providers, threads=args.threads)
    if stop():
        raise Stopped
    for note in model.notes:
        print(f"gantrans: note: {note}", file=sys.stderr)
    feeds = make_feeds(model, args.size, args.batch)
    flops = conv_flops(model.path, feeds)
    rows: list[dict[str, Any]] = []

    def add(name: str, seconds: float, extra: dict[str, Any] | None = None) -> None:
        row = {"backend": name, "median_ms": seconds * 1000, "images_per_s": args.batch / seconds,
               "gflops_per_s": (flops / seconds / 1e9) if flops is not None else None}
        row.update(extra or {})
        rows.append(row)
        reporter.progress(len(rows), backends, force=True)

    def ort_run(m):
        return lambda: m.session.run([m.output_name], feeds)[0]

    timed: list[Callable[[], Any]] = [ort_run(model)]
    qmodel = q_path = torch_part = None
    with tempfile.TemporaryDirectory(prefix="gantrans-bench-") as tmp:
        if args.int8:
            if args.int8 == "auto":
                print("quantizing to int8 on synthetic calibration images...", file=sys.stderr)
                q_path = quantize_auto(model, feeds, Path(tmp))
            else:
                q_path = Path(args.int8)
            qmodel = load_model(q_path, providers=args.providers, threads=args.threads)
            timed.append(ort_run(qmodel))
        if args.checkpoint:
            torch_part = torch_eager(args, model, feeds)
            timed.append(torch_part[1])
        results = iter(time_interleaved(timed, args.runs, args.warmup, stop))
    sec, ref = next(results)
    # A benchmark says what it timed: the load-time changes each CPU session made.
    add("onnxruntime-fp32", sec, {"provider": model.providers[0], "cpu_changes": model.cpu_changes})
    if qmodel is not None:
        qsec, qout = next(results)
        add("onnxruntime-int8", qsec, {"provider": qmodel.providers[0], "speedup_vs_fp32": sec / qsec,
                                       "psnr_vs_fp32_db": psnr(ref, qout, model.contract.value_range),
                                       "path": str(q_path) if args.int8 != "auto" else "auto",
                                       "cpu_changes": qmodel.cpu_changes})
    if torch_part is not None:
        head, _, nthreads = torch_part
        tsec, tout = next(results)
        add("pytorch-eager-fp32", tsec, {"head": head, "torch_threads": nthreads,
                                         "ort_speedup_vs_torch": tsec / sec,
                                         "max_abs_diff_vs_onnx": float(np.max(np.abs(tout - ref)))})
    result = {"model": str(model.path), "task": model.contract.task,
              "input_shapes": {k: list(v.shape) for k, v in feeds.items()}, "batch": args.batch,
              "runs": args.runs, "warmup": args.warmup, "threads": args.threads,
              "gflops_per_batch": flops / 1e9 if flops is not None else None, "results": rows}
    reporter.result(files=[], figures=result)
    if args.json and not reporter.json:
        print(json.dumps(result, indent=2))
        return 0
    console.say(f"model: {result['model']}  input: {result['input_shapes']}  runs: {args.runs} "
                f"(+{args.warmup} warmup)")
    gf = result["gflops_per_batch"]
    console.say(f"conv GFLOPs per batch: {gf:.3f}" if gf is not None else "conv GFLOPs per batch: unknown")
    for r in rows:
        gfs = f"{r['gflops_per_s']:.1f} GFLOP/s" if r["gflops_per_s"] is not None else "- GFLOP/s"
        line = f"{r['backend']:<20} median {r['median_ms']:9.2f} ms  {r['images_per_s']:8.2f} img/s  {gfs}"
        if "speedup_vs_fp32" in r:
            line += f"  speedup {r['speedup_vs_fp32']:.2f}x  PSNR {r['psnr_vs_fp32_db']:.1f} dB"
        if "ort_speedup_vs_torch" in r:
            line += f"  (onnxruntime is {r['ort_speedup_vs_torch']:.2f}x faster; max diff " \
                    f"{r['max_abs_diff_vs_onnx']:.2e})"
        console.say(line)
        if r.get("cpu_changes"):
            console.say(f"{'':<20} changed at load for the CPU: {'; '.join(r['cpu_changes'])}")
    return 0
