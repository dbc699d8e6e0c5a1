"""``gantrans bench train``: median seconds per training step on synthetic data (no files)."""

from __future__ import annotations

import argparse
import json

from gantrans import console, events
from gantrans.events import add_progress_argument
from gantrans.keyvalue import option_arg


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="time training steps of a recipe on synthetic data",
                       description="Build RECIPE with its default networks, run warm-up steps then timed "
                                   "steps on one synthetic batch, and print the median seconds per step, "
                                   "images/s, device, precision and peak memory.")
    p.add_argument("recipe", metavar="RECIPE")
    p.add_argument("--crop", type=int, default=256, metavar="N", help="image size (default 256)")
    p.add_argument("--batch", type=int, default=1, metavar="N", help="batch size (default 1)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                   help="precision of the step (default auto, as training's)")
    p.add_argument("--device", default="auto", metavar="DEV", help="auto, cpu, cuda[:N], mps")
    p.add_argument("--steps", type=int, default=None, metavar="N",
                   help="timed steps in a block (default 10; with --baseline or --versus, 1: the two loops "
                        "alternate every step)")
    p.add_argument("--warmup", type=int, default=3, metavar="N", help="untimed warm-up steps (default 3)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="torch CPU threads (default: torch's)")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks")
    p.add_argument("--memory-format", choices=("auto", "contiguous", "channels_last"), default="auto",
                   help="layout of images and weights (auto: channels_last on CUDA, contiguous elsewhere, as "
                        "training does)")
    p.add_argument("--convolutions", choices=("auto", "direct"), default="auto",
                   help="auto (as training): float32 3x3 convolutions on a CPU by Winograd where it pays off; "
                        "direct: torch's own convolution everywhere")
    p.add_argument("--baseline", action="store_true",
                   help="also time the reference implementation's own training step (plain PyTorch, fp32, "
                        "same networks; cyclegan and pix2pix), interleaved with ours, and print the ratio; both "
                        "run the recipe's paper preset, the reference's settings")
    p.add_argument("--versus", choices=("fp32", "bf16", "fp16"), default=None, metavar="PRECISION",
                   help="also time our own step at PRECISION (fp32, bf16, fp16; same networks and batch), "
                        "interleaved, and print the ratio: --precision auto --versus fp32 shows what the "
                        "automatic choice gains")
    p.add_argument("--rounds", type=int, default=None, metavar="N",
                   help="blocks of --steps timed steps, alternating with the baseline's or --versus's "
                        "(default with either: 15 blocks of one step, or 3 blocks where --steps is given; "
                        "else 1)")
    p.add_argument("--profile", action="store_true",
                   help="after timing, profile 2 more steps and print the top operators of each phase")
    p.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE", type=option_arg,
                   help="recipe option")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    add_progress_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gantrans.openmp import choose_wait_policy

    choose_wait_policy(adaptive=not args.threads)  # before torch loads OpenMP
    import torch

    from gantrans.errors import ConfigError
    from gantrans.training.bench import bench_train, timing_schedule

    counts = [n for n in (args.steps, args.rounds, args.batch, args.crop) if n is not None]  # None: the default
    if min(counts) < 1 or args.warmup < 0:
        raise ConfigError("--steps, --batch, --crop and --rounds must be >= 1 and --warmup >= 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    options = dict(args.option)  # parsed and checked by option_arg
    reporter = events.active()
    paired = args.baseline or args.versus is not None
    steps, rounds = timing_schedule(paired, args.steps, args.rounds)
    total = (args.warmup + rounds * steps) * (2 if paired else 1)
    reporter.start("bench train", total=total, unit="step")
    rate = events.Rate()

    def on_step(done: int, total: int) -> None:
        r, eta = rate.update(done, total)
        reporter.progress(done, total, rate=r, eta_s=eta)

    r = bench_train(args.recipe, crop=args.crop, batch=args.batch, precision=args.precision, device=args.device,
                    steps=steps, warmup=args.warmup, options=options, compile=args.compile, progress=on_step,
                    baseline=args.baseline, rounds=rounds, profile=args.profile, versus=args.versus,
                    channels_last=None if args.memory_format == "auto" else args.memory_format == "channels_last",
                    winograd=args.convolutions == "auto")
    reporter.result(files=[], figures=r)
    if args.json and not reporter.json:
        print(json.dumps(r, indent=2))
        return 0
    say = console.say
    say(f"recipe     {r['recipe']} ({', '.join(f'{k} {v / 1e6:.2f}M' for k, v in r['networks'].items())})")
    say(f"device     {r['device']}")
    say(f"precision  {r['precision']}" + (f" ({r['precision_note']})" if r.get("precision_note") else ""))
    if r.get("thread_changes") and len(r["thread_changes"]) > 1:
        say(f"threads    followed the load: {', '.join(f'{n} at {t:g} s' for t, n in r['thread_changes'])}")
    say(f"settings   {r['threads']} threads, compile {'on' if r['compile'] else 'off'}, "
        f"channels_last {'on' if r['channels_last'] else 'off'}, 3x3 convolutions "
        f"{'by Winograd where it pays off' if r['winograd'] else 'direct'} ({r['openmp']})")
    say(f"workload   batch {r['batch']} x {r['crop']}px, {r['warmup']} warm-up + {r['rounds']} x {r['steps']} "
        f"timed steps")
    say(f"median     {r['median_s_per_it']:.4f} s/it (min {r['min_s_per_it']:.4f})")
    say(f"throughput {r['images_per_s']:.2f} images/s")
    say(f"peak mem   {r['peak_memory_bytes'] / 2**20:.0f} MiB ({r['peak_memory_kind']})")
    if r["flops_per_step"]:
        say(f"work       {r['flops_per_step'] / 1e9:.1f} GFLOP per step -> "
            f"{r['achieved_flops_per_s'] / 1e9:.0f} GFLOP/s sustained")
    if "baseline" in r:
        b = r["baseline"]
        print_interleaved(((f"gantrans ({r['precision']}, {r['threads']} thr)", r),
                           (f"reference loop (fp32, {b['threads']} thr)", b)))
        say(f"ratio      {r['ratio']:.2f}x (reference s/it / gantrans s/it; > 1: gantrans is faster)")
    if "versus" in r:
        v = r["versus"]
        print_interleaved(((f"gantrans ({r['precision']})", r), (f"gantrans ({v['precision']})", v)))
        say(f"ratio      {r['versus_ratio']:.2f}x ({v['precision']} s/it / {r['precision']} s/it; > 1: "
            f"{r['precision']} is faster)")
    if "profile" in r:
        say("")
        print_profile(r["profile"], "gantrans")
        if "baseline" in r and "profile" in r["baseline"]:
            print_profile(r["baseline"]["profile"], "reference loop")
    return 0


def print_interleaved(rows: tuple[tuple[str, dict], ...]) -> None:
    """Median, images/s and per-round medians of loops timed in alternation."""
    say = console.say
    say("")
    say(f"{'interleaved':<28}{'s/it (median)':>15}{'images/s':>10}   per-round medians")
    for label, row in rows:
        rounds_text = " ".join(f"{v:.3f}" for v in row["round_medians_s"])
        say(f"{label:<28}{row['median_s_per_it']:>15.4f}{row['images_per_s']:>10.2f}   {rounds_text}")


def print_profile(profile: dict, who: str) -> None:
    """The per-phase table of :func:`gantrans.training.bench.profile_step`."""
    say = console.say
    for phase, entry in profile.items():
        parts = ", ".join(f"{k} {v:.1f}" for k, v in entry["parts_ms"].items())
        say(f"{who}, {phase}: {entry['total_ms']:.1f} ms/step" + (f" ({parts})" if parts else ""))
        device = any(row["self_device_ms"] for row in entry["top"])
        for row in entry["top"]:
            extra = f"  device {row['self_device_ms']:8.2f} ms" if device else ""
            say(f"    {row['op'][:52]:<52} {row['self_cpu_ms']:8.2f} ms {row['calls']:6.0f} calls{extra}")
