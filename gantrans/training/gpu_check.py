"""``gantrans bench gpu``: what a GPU does with gantrans, measured in one go (under 10 minutes).

Rows, each independent (a failing one is reported and the others still run):

- the CycleGAN training step (the Engine, synthetic batch) at ``crop`` px in ``precision``, in
  the four combinations of eager / ``torch.compile`` and contiguous / channels_last memory
  format: median s/it, images/s, peak memory;
- a one-process smoke of the multi-process path: a world-size-1 process group (NCCL on CUDA,
  gloo on the CPU) through :mod:`gantrans.training.distributed` and Engine steps that broadcast
  weights and all-reduce gradients through it;
- inference of the CycleGAN generator at ``infer_size``² (numpy in, numpy out, as a caller
  sees it): PyTorch fp32 against ONNX Runtime's CUDA execution provider (the CPU one on the
  twin) on the same weights, with the largest difference between the two.

The CPU twin (``device="cpu"`` with tiny sizes) runs the same code in seconds, which is what
the test suite checks; on the day a GPU is lent, the defaults are the real check.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gantrans.errors import ConfigError
from gantrans.training import devices
from gantrans.training import distributed as D

RECIPE = "cyclegan"


@dataclass
class Row:
    """One line of the table."""

    check: str
    setting: str
    ok: bool = True
    s_per_it: float | None = None
    images_per_s: float | None = None
    peak_memory_bytes: int | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "setting": self.setting, "ok": self.ok, "s_per_it": self.s_per_it,
                "images_per_s": self.images_per_s, "peak_memory_bytes": self.peak_memory_bytes,
                "note": self.note, **self.extra}


def resolve_device(spec: str) -> torch.device:
    """``cuda`` (default) must exist; ``cpu`` is the twin. A clear error where there is no GPU."""
    spec = (spec or "cuda").lower()
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"gantrans bench gpu: no CUDA device on this machine (torch {torch.__version__}, "
                          f"built for CUDA {torch.version.cuda or 'none'}); run it where a GPU is, or use "
                          f"--device cpu for the CPU twin")
    if spec not in ("cpu",) and not spec.startswith("cuda"):
        raise ConfigError(f"gantrans bench gpu: --device {spec}: expected cuda, cuda:N or cpu")
    return devices.pick_device(spec)


def train_rows(dev: torch.device, *, crop: int, batch: int, precision: str, steps: int, warmup: int,
               options: dict[str, Any], compile: bool) -> Iterator[Row]:
    from gantrans.training.bench import bench_train

    for use_compile in (False, True):
        for channels_last in (False, True):
            setting = (f"{'compile' if use_compile else 'eager'}, "
                       f"{'channels_last' if channels_last else 'contiguous'}")
            check = f"train {RECIPE} {crop}px {precision}"
            if use_compile and not compile:
                yield Row(check, setting, ok=True, note="skipped (--no-compile)")
                continue
            with _row(check, setting) as row:
                r = bench_train(RECIPE, crop=crop, batch=batch, precision=precision, device=str(dev), steps=steps,
                                warmup=warmup, options=options, compile=use_compile, channels_last=channels_last)
                row.s_per_it, row.images_per_s = r["median_s_per_it"], r["images_per_s"]
                row.peak_memory_bytes = r["peak_memory_bytes"]
                row.note = r["peak_memory_kind"]
            yield row
            if use_compile:
                torch._dynamo.reset()


class _OneProcessGroup(D.DistContext):
    """Rank 0 of a world of one that still takes the multi-process path (a real process group)."""

    @property
    def enabled(self) -> bool:
        return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def distributed_row(dev: torch.device, *, crop: int, precision: str, options: dict[str, Any],
                    steps: int = 3) -> Row:
    """Engine steps through a world-size-1 process group: broadcast, all-reduce, agreement checks."""
    import torch.distributed as dist

    from gantrans.recipe import get_recipe
    from gantrans.training.bench import synthetic_batch, synthetic_spec
    from gantrans.training.engine import Engine, build_networks, move_batch

    backend = "nccl" if dev.type == "cuda" else "gloo"
    row = Row(f"{backend} process group", "1 process, Engine steps")
    if dist.is_initialized():
        row.ok, row.note = False, "a process group already exists in this process"
        return row
    saved = {k: os.environ.get(k) for k in ("MASTER_ADDR", "MASTER_PORT")}
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    try:
        with _row(row.check, row.setting, row):
            ctx = _OneProcessGroup(rank=0, world_size=1, local_rank=dev.index or 0)
            D.init_process_group(ctx, dev)
            if dist.get_backend() != backend:
                raise RuntimeError(f"process group backend is {dist.get_backend()}, expected {backend}")
            cls = get_recipe(RECIPE)
            spec = synthetic_spec(cls, crop)
            rec = cls(dict(options), spec)
            engine = Engine(rec, build_networks(rec, 0), dev, precision, dist_ctx=ctx)
            data = move_batch(synthetic_batch(spec, 1, 0), dev, engine.channels_last)
            before = [p.detach().clone() for p in engine.nets["G_A"].parameters()]
            times = []
            for i in range(steps):
                _sync(dev)
                t = time.perf_counter()
                engine.step(data, i)
                _sync(dev)
                times.append(time.perf_counter() - t)
            after = list(engine.nets["G_A"].parameters())
            if not any(not torch.equal(a, b) for a, b in zip(after, before)):
                raise RuntimeError("the generator's weights did not change")
            probe = torch.full((4,), 3.0, device=dev)
            dist.all_reduce(probe)
            if not bool((probe == 3.0).all()):
                raise RuntimeError(f"all_reduce over one process changed the values: {probe.tolist()}")
            row.s_per_it = statistics.median(times[1:] or times)
            row.images_per_s = 1 / row.s_per_it
            row.note = f"{crop}px, {steps} steps, weights broadcast and gradients all-reduced"
    finally:
        D.destroy_process_group()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return row


def inference_rows(dev: torch.device, *, size: int, options: dict[str, Any], runs: int,
                   warmup: int) -> list[Row]:
    """PyTorch fp32 and ONNX Runtime on the same generator, numpy in and numpy out."""
    import onnxruntime as ort

    from gantrans.export.onnx_graph import to_onnx
    from gantrans.recipe import get_recipe, preset_options
    from gantrans.training.bench import synthetic_spec
    from gantrans.training.engine import build_networks

    check = f"infer G_A {size}x{size}"
    torch_row, ort_row = Row(check, "pytorch fp32"), Row(check, "onnxruntime fp32")
    if dev.type == "cuda" and torch.backends.cudnn.allow_tf32:
        torch_row.note = "TF32 convolutions allowed (as in training)"
    provider = "CUDAExecutionProvider" if dev.type == "cuda" else "CPUExecutionProvider"
    ort_row.setting = f"onnxruntime fp32 ({provider.removesuffix('ExecutionProvider')} EP)"
    cls = get_recipe(RECIPE)
    # The paper's generator, unless the options say otherwise: the defaults' residual generator
    # starts as the identity, and two runtimes returning their input agree whatever they do.
    rec = cls({**preset_options(cls, "paper"), **options}, synthetic_spec(cls, size))
    rec.attach(build_networks(rec, 0))
    head = next(h for h in rec.resolved_export_heads() if h.key == "G_A")
    exported: tuple[Any, str] | BaseException
    try:  # on the CPU, before the module moves to the device (the exporter's example inputs are CPU tensors)
        exported = to_onnx(head)
    except Exception as exc:  # noqa: BLE001 - reported in the ONNX Runtime row
        exported = exc
    module = head.module.to(dev).eval()
    x = np.random.default_rng(0).uniform(-1, 1, (1, head.in_channels, size, size)).astype(np.float32)

    def torch_run() -> np.ndarray:
        with torch.inference_mode():
            out = module(torch.from_numpy(x).to(dev))
            return out.float().cpu().numpy()

    ref = None
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    with _row(check, torch_row.setting, torch_row):
        t, ref = _median(torch_run, runs, warmup, dev)
        torch_row.s_per_it, torch_row.images_per_s = t, 1 / t
        if dev.type == "cuda":
            torch_row.peak_memory_bytes = int(torch.cuda.max_memory_allocated(dev))
    with _row(check, ort_row.setting, ort_row), tempfile.TemporaryDirectory(prefix="gantrans-gpu-") as tmp:
        if provider not in ort.get_available_providers():
            raise RuntimeError(f"onnxruntime {ort.__version__} has no {provider} (for CUDA: pip install "
                               f"onnxruntime-gpu)")
        if isinstance(exported, BaseException):
            raise exported
        model, exporter = exported
        path = Path(tmp) / "G_A.onnx"
        path.write_bytes(model.SerializeToString())
        options_ = ort.SessionOptions()
        options_.log_severity_level = 3
        session = ort.InferenceSession(str(path), options_, providers=[provider])
        if session.get_providers()[0] != provider:
            raise RuntimeError(f"onnxruntime fell back to {session.get_providers()[0]} (is the CUDA/cuDNN "
                               f"runtime onnxruntime-gpu needs installed?)")
        name = session.get_inputs()[0].name
        t, got = _median(lambda: session.run(None, {name: x})[0], runs, warmup, None)
        ort_row.s_per_it, ort_row.images_per_s = t, 1 / t
        diff = float(np.max(np.abs(got - ref))) if ref is not None else float("nan")
        ort_row.extra = {"max_abs_diff_vs_pytorch": diff, "exporter": exporter}
        speed = (torch_row.s_per_it / t) if torch_row.s_per_it else None
        ort_row.extra["speedup_vs_pytorch"] = speed
        ort_row.note = (f"{speed:.2f}x PyTorch, " if speed else "") + f"max |diff| {diff:.1e}"
    return [torch_row, ort_row]


def _median(fn: Callable[[], Any], runs: int, warmup: int, dev: torch.device | None) -> tuple[float, Any]:
    out = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(max(1, runs)):
        t = time.perf_counter()
        out = fn()
        if dev is not None:
            _sync(dev)
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


@contextlib.contextmanager
def _row(check: str, setting: str, row: Row | None = None) -> Iterator[Row]:
    """A row that records the failure of its body instead of ending the check."""
    row = row or Row(check, setting)
    try:
        yield row
    except Exception as exc:  # noqa: BLE001 - every failure becomes a row; the check goes on
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        row.ok, row.note = False, f"failed: {type(exc).__name__}: {first}"[:300]
        row.extra["traceback"] = traceback.format_exc(limit=6)


def gpu_check(device: str = "cuda", *, crop: int = 256, batch: int = 1, precision: str = "bf16",
              steps: int = 10, warmup: int = 3, infer_size: int = 512, infer_runs: int = 20,
              smoke_crop: int = 64, options: dict[str, Any] | None = None, compile: bool = True,
              progress: Callable[[Row], None] | None = None) -> dict[str, Any]:
    """Run every row; ``progress(row)`` after each. Returns the device, settings and rows."""
    dev = resolve_device(device)
    prec = devices.pick_precision(precision, dev)
    devices.configure_backends(dev, deterministic=False)
    options = dict(options or {})
    started = time.perf_counter()
    rows: list[Row] = []

    def add(row: Row) -> None:
        rows.append(row)
        if progress is not None:
            progress(row)

    for row in train_rows(dev, crop=crop, batch=batch, precision=prec, steps=steps, warmup=warmup,
                          options=options, compile=compile):
        add(row)
    add(distributed_row(dev, crop=smoke_crop, precision=prec, options=options))
    for row in inference_rows(dev, size=infer_size, options=options, runs=infer_runs, warmup=max(1, warmup)):
        add(row)
    return {"device": devices.describe_device(dev, verbose=True), "precision": prec, "crop": crop,
            "batch": batch, "steps": steps, "warmup": warmup, "infer_size": infer_size, "options": options,
            "torch": torch.__version__, "rows": [r.as_dict() for r in rows], "ok": all(r.ok for r in rows),
            "seconds": time.perf_counter() - started}


#: The rows a full check has, in order (for tests and readers of the JSON).
ROW_COUNT = 7


def table(result: dict[str, Any]) -> list[str]:
    """The result as aligned text lines."""
    lines = [f"{'check':<28} {'setting':<32} {'s/it':>9} {'images/s':>9} {'peak MiB':>9}  note"]
    for r in result["rows"]:
        s = f"{r['s_per_it']:9.4f}" if r["s_per_it"] else f"{'-':>9}"
        ips = f"{r['images_per_s']:9.2f}" if r["images_per_s"] else f"{'-':>9}"
        mem = f"{r['peak_memory_bytes'] / 2**20:9.0f}" if r["peak_memory_bytes"] else f"{'-':>9}"
        lines.append(f"{r['check']:<28} {r['setting']:<32} {s} {ips} {mem}  {'' if r['ok'] else 'FAILED '}"
                     f"{r['note']}")
    return lines
