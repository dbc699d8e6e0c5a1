"""``gantrans bench train``: seconds per training step of a recipe on synthetic data.

It runs the trainer's own :class:`~gantrans.training.engine.Engine` with the recipe's default
(paper) networks on one fixed synthetic batch, so the figure is the cost of a real training
step without data loading. It never changes the workload to reach a number.

It also counts the floating-point operations of one step (``torch.utils.flop_counter``, on an
extra untimed step), so the figure can be read against what the hardware can do at all: a
step's work divided by its median time is the sustained rate the device delivered.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from gantrans.recipe import DataSpec, Recipe, get_recipe
from gantrans.training import devices
from gantrans.training.engine import Engine, build_networks, move_batch


def synthetic_spec(recipe_cls: type[Recipe], size: int, classes: int = 10) -> DataSpec:
    kind = recipe_cls.data_kinds[0] if recipe_cls.data_kinds else "unpaired"
    if kind in ("unpaired", "paired"):
        return DataSpec(kind, {"A": 3, "B": 3}, size)
    names = [f"class{i}" for i in range(classes)] if kind == "labelled" else []
    return DataSpec(kind, {"image": 3}, size, class_names=names)


def synthetic_batch(spec: DataSpec, batch: int, seed: int = 0) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    out: dict[str, Any] = {}
    for key, channels in spec.channels.items():
        out[key] = torch.rand(batch, channels, spec.size, spec.size, generator=g) * 2 - 1
        out[f"{key}_path"] = [f"synthetic/{key}{i}.png" for i in range(batch)]
    if spec.kind == "labelled":
        out["label"] = torch.randint(0, max(1, len(spec.class_names)), (batch,), generator=g)
    return out


def peak_memory(device: torch.device) -> tuple[int, str]:
    """Peak bytes: allocated on the CUDA device, else the process's peak resident set."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda max_memory_allocated"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024), "peak RSS"


def count_step_flops(engine: Engine, data: Any, step: int) -> int | None:
    """FLOPs of one training step as torch's counter sees them (convolutions and matmuls, the
    backward pass included); None under ``torch.compile``, whose kernels bypass the counter."""
    if any(engine.run_nets[key] is not net for key, net in engine.nets.items()):
        return None
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        engine.step(data, step)
    return int(counter.get_total_flops())


def bench_train(recipe: str, *, crop: int = 256, batch: int = 1, precision: str = "auto", device: str = "auto",
                steps: int = 10, warmup: int = 3, options: dict[str, Any] | None = None, compile: bool = False,
                seed: int = 0, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Time ``steps`` training steps after ``warmup`` untimed ones; returns the figures as a dict.

    ``progress(done, total)`` is called after each step (warm-up steps included).
    """
    dev = devices.pick_device(device)
    prec = devices.pick_precision(precision, dev)
    devices.configure_backends(dev, deterministic=False)
    cls = get_recipe(recipe)
    spec = synthetic_spec(cls, crop)
    rec = cls(dict(options or {}), spec)
    nets = build_networks(rec, seed)
    engine = Engine(rec, nets, dev, prec, compile=compile)
    data = move_batch(synthetic_batch(spec, batch, seed), dev, engine.channels_last)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    times = []
    for i in range(warmup + steps):
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t = time.perf_counter()
        engine.step(data, i)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        if i >= warmup:
            times.append(time.perf_counter() - t)
        if progress is not None:
            progress(i + 1, warmup + steps)
    median = statistics.median(times)
    mem, mem_kind = peak_memory(dev)  # before the counted step, which must not change the figure
    flops = count_step_flops(engine, data, warmup + steps)
    return {"recipe": recipe, "device": devices.describe_device(dev, verbose=True), "precision": prec, "crop": crop,
            "batch": batch, "steps": steps, "warmup": warmup, "median_s_per_it": median,
            "images_per_s": batch / median, "min_s_per_it": min(times), "peak_memory_bytes": mem,
            "peak_memory_kind": mem_kind, "threads": torch.get_num_threads(),
            "flops_per_step": flops, "achieved_flops_per_s": (flops / median) if flops else None,
            "networks": {k: sum(p.numel() for p in n.parameters()) for k, n in engine.nets.items()}}
