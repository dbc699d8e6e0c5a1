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

from gantrans.recipe import DataSpec, Recipe, get_recipe, preset_options
from gantrans.training import auto_precision, devices
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
    backward pass included); None under ``torch.compile``, whose kernels bypass the counter.
    The convolutions are counted as such, also where the step computes them by Winograd's
    fewer products: the work is the step's, whatever the algorithm."""
    if any(engine.run_nets[key] is not net for key, net in engine.nets.items()):
        return None
    from torch.utils.flop_counter import FlopCounterMode

    winograd, engine.winograd = engine.winograd, False
    try:
        with FlopCounterMode(display=False) as counter:
            engine.step(data, step)
    finally:
        engine.winograd = winograd
    return int(counter.get_total_flops())


#: Timed steps a side when two loops alternate and the caller named neither ``steps`` nor
#: ``rounds``: one step at a time, so a machine whose speed drifts from minute to minute slows
#: both sides alike (blocks of 5 steps on a drifting 2-core VM read 1.13x-1.32x for one code;
#: single steps 1.17x-1.23x; docs/benchmarks.md).
PAIRED_STEPS, PAIRED_ROUNDS = 1, 15
#: Timed steps of a lone run, and rounds of blocks when the caller chose the block length.
ALONE_STEPS, BLOCK_ROUNDS = 10, 3


def timing_schedule(paired: bool, steps: int | None = None, rounds: int | None = None) -> tuple[int, int]:
    """``(steps, rounds)``: ``rounds`` blocks of ``steps`` timed steps, what the caller left out
    filled in. Alone: 10 steps in one block. Alternating with a second loop: one step at a time,
    15 a side; a caller who sets ``steps`` alternates blocks of that length, 3 of them."""
    if not paired:
        return steps or ALONE_STEPS, rounds or 1
    if steps is None:
        return PAIRED_STEPS, rounds or PAIRED_ROUNDS
    return steps, rounds or BLOCK_ROUNDS


def bench_train(recipe: str, *, crop: int = 256, batch: int = 1, precision: str = "auto", device: str = "auto",
                steps: int | None = None, warmup: int = 3, options: dict[str, Any] | None = None, compile: bool = False,
                seed: int = 0, progress: Callable[[int, int], None] | None = None, baseline: bool = False,
                rounds: int | None = None, profile: bool = False, profile_steps: int = 2,
                channels_last: bool | None = None, versus: str | None = None, winograd: bool = True) -> dict[str, Any]:
    """Time training steps after ``warmup`` untimed ones; returns the figures as a dict.

    ``rounds`` blocks of ``steps`` timed steps (defaults: :func:`timing_schedule`). With
    ``baseline`` the reference implementation's own loop (:mod:`gantrans.training.baseline`,
    fp32, same networks and seed) runs a block after each of ours — ours, reference, ours,
    reference, ... — so both see the same machine, and the figures include both medians and their
    ratio; both run the recipe's ``paper`` preset (under ``options``), the only settings the
    reference has. ``profile`` adds the top operators of each phase (:func:`profile_step`).
    ``channels_last`` overrides the Engine's memory format (default: NHWC on CUDA only);
    ``winograd=False`` keeps torch's direct convolutions where the Engine would use Winograd's
    (float32 on a CPU: :mod:`gantrans.training.winograd`), on both of our loops.
    ``versus`` (a precision; not with ``baseline``) interleaves the same way a second copy of our
    own step at that precision — same recipe, networks, seed and batch — so ``auto`` can be held
    against ``fp32`` on one machine at one time; the figures then include ``versus`` and
    ``versus_ratio`` (its s/it over ours: > 1 means the precision under test is faster).
    ``progress(done, total)`` is called after each step (warm-up steps included).
    """
    from gantrans import openmp

    dev = devices.pick_device(device)
    devices.pick_precision(precision, dev)  # refuse what the device cannot do before any work
    devices.configure_backends(dev, deterministic=False)
    cls = get_recipe(recipe)
    spec = synthetic_spec(cls, crop)
    options = dict(options or {})
    if baseline and versus:
        from gantrans.errors import ConfigError

        raise ConfigError("--versus and --baseline each add one interleaved loop; use one at a time")
    versus_prec = devices.pick_precision(versus, dev) if versus else None
    if baseline:
        from gantrans.training.baseline import RECIPES

        if recipe not in RECIPES:
            from gantrans.errors import ConfigError

            raise ConfigError(f"--baseline: no reference training loop for recipe '{recipe}' "
                              f"(there is one for {', '.join(RECIPES)})")
        # Side by side means the same arithmetic: the reference knows only the paper's settings.
        options = {**preset_options(cls, "paper"), **options}
    prec, prec_note = auto_precision.pick_precision(precision, dev, lambda: cls(dict(options), spec), batch, seed)
    rec = cls(options, spec)
    nets = build_networks(rec, seed)
    engine = Engine(rec, nets, dev, prec, compile=compile, channels_last=channels_last, winograd=None if winograd else False)
    data = move_batch(synthetic_batch(spec, batch, seed), dev, engine.channels_last)
    paired = baseline or versus_prec is not None
    steps, rounds = timing_schedule(paired, steps, rounds)
    total = (warmup + rounds * steps) * (2 if paired else 1)
    done = 0

    def run(step: Callable[[int], Any], first: int, count: int) -> list[float]:
        nonlocal done
        times = []
        for i in range(first, first + count):
            _sync(dev)
            t = time.perf_counter()
            step(i)
            _sync(dev)
            times.append(time.perf_counter() - t)
            done += 1
            if progress is not None:
                progress(done, total)
        return times

    # As in training: where the command left the thread count to gantrans, torch's threads follow
    # the cores other processes leave idle (gantrans.openmp.ThreadGovernor) during our steps; the
    # reference loop runs with torch's default count, as the reference does.
    default_threads = torch.get_num_threads()
    governor = openmp.governor(torch.set_num_threads, default_threads) if dev.type == "cpu" else None

    def ours_step(i: int) -> None:
        engine.step(data, i)
        if governor is not None:
            governor.tick()

    _reset_peak(dev)
    run(ours_step, 0, warmup)
    ours_rounds: list[list[float]] = []
    ref_rounds: list[list[float]] = []
    ours_mem = ref_mem = 0
    reference: _Reference | _OwnStep | None = None
    for r in range(rounds):
        if r:
            _reset_peak(dev)
        ours_rounds.append(run(ours_step, warmup + r * steps, steps))
        if reference is None or dev.type == "cuda":  # a CPU's peak resident set is the whole process's
            ours_mem = max(ours_mem, peak_memory(dev)[0])
        if not paired:
            continue
        if governor is not None:
            governor.pause(default_threads)
        if reference is None:
            # Built only now, so the CPU's peak resident set above is gantrans's alone.
            other_recipe = cls(dict(options or {}), spec)
            reference = (_Reference(other_recipe, spec, batch, seed, dev) if baseline else
                         _OwnStep(other_recipe, spec, batch, seed, dev, str(versus_prec), compile, channels_last,
                                  winograd))
            _reset_peak(dev)
            run(reference, 0, warmup)
        _reset_peak(dev)
        ref_rounds.append(run(reference, 0, steps))
        ref_mem = max(ref_mem, peak_memory(dev)[0])
        if governor is not None:
            governor.resume()
    times = [t for block in ours_rounds for t in block]
    median = statistics.median(times)
    mem_kind = peak_memory(dev)[1]
    flops = count_step_flops(engine, data, warmup + rounds * steps)
    result = {"recipe": recipe, "device": devices.describe_device(dev, verbose=True), "precision": prec,
              "precision_note": prec_note,
              "crop": crop, "batch": batch, "steps": steps, "warmup": warmup, "rounds": rounds,
              "median_s_per_it": median, "images_per_s": batch / median, "min_s_per_it": min(times),
              "round_medians_s": [statistics.median(b) for b in ours_rounds], "peak_memory_bytes": ours_mem,
              "peak_memory_kind": mem_kind, "threads": torch.get_num_threads(), "openmp": openmp.describe(),
              "thread_changes": governor.history if governor is not None else None,
              "compile": compile, "channels_last": engine.channels_last, "winograd": engine.winograd,
              "flops_per_step": flops, "achieved_flops_per_s": (flops / median) if flops else None,
              "networks": {k: sum(p.numel() for p in n.parameters()) for k, n in engine.nets.items()}}
    if versus_prec is not None:
        ref_times = [t for block in ref_rounds for t in block]
        result["versus"] = {"precision": versus_prec, "median_s_per_it": statistics.median(ref_times),
                            "images_per_s": batch / statistics.median(ref_times), "min_s_per_it": min(ref_times),
                            "round_medians_s": [statistics.median(b) for b in ref_rounds],
                            "peak_memory_bytes": ref_mem if dev.type == "cuda" else max(ref_mem, ours_mem)}
        result["versus_ratio"] = statistics.median(ref_times) / median
    if baseline:
        ref_times = [t for block in ref_rounds for t in block]
        ref_median = statistics.median(ref_times)
        result["baseline"] = {
            "loop": "reference optimize_parameters (junyanz/pytorch-CycleGAN-and-pix2pix), plain PyTorch",
            "precision": "fp32", "median_s_per_it": ref_median, "images_per_s": batch / ref_median,
            "min_s_per_it": min(ref_times), "round_medians_s": [statistics.median(b) for b in ref_rounds],
            "threads": default_threads,
            # the CPU's peak resident set is the process's: the higher of the two loops
            "peak_memory_bytes": ref_mem if dev.type == "cuda" else max(ref_mem, ours_mem)}
        result["ratio"] = ref_median / median
    if profile:
        result["profile"] = profile_step(engine, data, warmup + rounds * steps + 1, profile_steps)
        if isinstance(reference, _Reference):
            if governor is not None:
                governor.pause(default_threads)
            result["baseline"]["profile"] = profile_step(reference.loop, reference.data, 0, profile_steps)
    return result


class _Reference:
    """The reference loop on its own networks (same recipe options and seed) and its own batch."""

    def __init__(self, recipe: Recipe, spec: DataSpec, batch: int, seed: int, dev: torch.device):
        from gantrans.training.baseline import reference_loop

        self.loop = reference_loop(recipe, build_networks(recipe, seed), dev)
        self.data = move_batch(synthetic_batch(spec, batch, seed), dev)

    def __call__(self, step: int) -> None:
        self.loop.step(self.data)


class _OwnStep:
    """Our own step at another precision, on its own networks (same options and seed) and batch."""

    def __init__(self, recipe: Recipe, spec: DataSpec, batch: int, seed: int, dev: torch.device, precision: str,
                 compile: bool, channels_last: bool | None, winograd: bool = True):
        self.engine = Engine(recipe, build_networks(recipe, seed), dev, precision, compile=compile,
                             channels_last=channels_last, winograd=None if winograd else False)
        self.data = move_batch(synthetic_batch(spec, batch, seed), dev, self.engine.channels_last)

    def __call__(self, step: int) -> None:
        self.engine.step(self.data, step)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _reset_peak(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)


#: Named ranges (:func:`gantrans.training.engine.profiled`) a profile is grouped by.
STEP_RANGE = "reference step"


def profile_step(runner: Any, data: Any, first: int, steps: int = 2, top: int = 8) -> dict[str, Any]:
    """Where a step's time goes: per phase, its parts and its top operators by self time.

    ``runner`` is an :class:`Engine` (its phases carry ranges ``phase G``, ``G: backward``...)
    or the reference loop (one range for the whole step). Times are per step, in milliseconds:
    self CPU time (the host's work, all of it on a CPU run) and, on CUDA, self device time.
    """
    from torch.profiler import ProfilerActivity, profile, record_function

    activities = [ProfilerActivity.CPU]
    dev = getattr(runner, "device", None)
    if torch.cuda.is_available() and dev is not None and getattr(dev, "type", "") == "cuda":
        activities.append(ProfilerActivity.CUDA)
    is_engine = isinstance(runner, Engine)
    with profile(activities=activities) as prof:
        for i in range(first, first + steps):
            if is_engine:
                runner.step(data, i)
            else:
                with record_function(STEP_RANGE):
                    runner.step(data)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    return summarize_profile(prof.events(), steps, top)


def summarize_profile(events: Any, steps: int, top: int = 8) -> dict[str, Any]:
    """Group profiler events under their phase range; see :func:`profile_step`."""
    phases: dict[str, dict[str, Any]] = {}
    ops: dict[str, dict[str, list[float]]] = {}

    def phase_of(event: Any) -> str | None:
        e = event
        while e is not None:
            if e.name.startswith("phase ") or e.name == STEP_RANGE:
                return e.name.removeprefix("phase ")
            e = e.cpu_parent
        return None

    for e in events:
        name = e.name
        if name.startswith("phase ") or name == STEP_RANGE:
            entry = phases.setdefault(name.removeprefix("phase "), {"total_ms": 0.0, "parts_ms": {}, "top": []})
            entry["total_ms"] += e.cpu_time_total / 1e3 / steps
            continue
        phase = phase_of(e)
        if phase is None:
            continue
        if ": " in name and name.split(": ", 1)[0] == phase:  # a part range of the phase
            parts = phases.setdefault(phase, {"total_ms": 0.0, "parts_ms": {}, "top": []})["parts_ms"]
            part = name.split(": ", 1)[1]
            parts[part] = parts.get(part, 0.0) + e.cpu_time_total / 1e3 / steps
            continue
        row = ops.setdefault(phase, {}).setdefault(name, [0.0, 0.0, 0])
        row[0] += e.self_cpu_time_total / 1e3 / steps
        row[1] += float(getattr(e, "self_device_time_total", 0.0) or 0.0) / 1e3 / steps
        row[2] += 1
    for phase, rows in ops.items():
        device = any(r[1] for r in rows.values())
        ranked = sorted(rows.items(), key=lambda kv: kv[1][1] if device else kv[1][0], reverse=True)[:top]
        phases[phase]["top"] = [{"op": name, "self_cpu_ms": r[0], "self_device_ms": r[1], "calls": r[2] / steps}
                                for name, r in ranked]
    return phases
