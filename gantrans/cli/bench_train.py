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
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto")
    p.add_argument("--device", default="auto", metavar="DEV", help="auto, cpu, cuda[:N], mps")
    p.add_argument("--steps", type=int, default=10, metavar="N", help="timed steps (default 10)")
    p.add_argument("--warmup", type=int, default=3, metavar="N", help="untimed warm-up steps (default 3)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="torch CPU threads (default: torch's)")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks")
    p.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE", type=option_arg,
                   help="recipe option")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    add_progress_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gantrans.openmp import choose_wait_policy

    choose_wait_policy()  # before torch loads OpenMP
    import torch

    from gantrans.errors import ConfigError
    from gantrans.training.bench import bench_train

    if args.steps < 1 or args.warmup < 0 or args.batch < 1 or args.crop < 1:
        raise ConfigError("--steps, --batch and --crop must be >= 1 and --warmup >= 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    options = dict(args.option)  # parsed and checked by option_arg
    reporter = events.active()
    reporter.start("bench train", total=args.warmup + args.steps, unit="step")
    rate = events.Rate()

    def on_step(done: int, total: int) -> None:
        r, eta = rate.update(done, total)
        reporter.progress(done, total, rate=r, eta_s=eta)

    r = bench_train(args.recipe, crop=args.crop, batch=args.batch, precision=args.precision, device=args.device,
                    steps=args.steps, warmup=args.warmup, options=options, compile=args.compile, progress=on_step)
    reporter.result(files=[], figures=r)
    if args.json and not reporter.json:
        print(json.dumps(r, indent=2))
        return 0
    say = console.say
    say(f"recipe     {r['recipe']} ({', '.join(f'{k} {v / 1e6:.2f}M' for k, v in r['networks'].items())})")
    say(f"device     {r['device']}")
    say(f"precision  {r['precision']}")
    say(f"workload   batch {r['batch']} x {r['crop']}px, {r['warmup']} warm-up + {r['steps']} timed steps")
    say(f"median     {r['median_s_per_it']:.4f} s/it (min {r['min_s_per_it']:.4f})")
    say(f"throughput {r['images_per_s']:.2f} images/s")
    say(f"peak mem   {r['peak_memory_bytes'] / 2**20:.0f} MiB ({r['peak_memory_kind']})")
    if r["flops_per_step"]:
        say(f"work       {r['flops_per_step'] / 1e9:.1f} GFLOP per step -> "
            f"{r['achieved_flops_per_s'] / 1e9:.0f} GFLOP/s sustained")
    return 0
