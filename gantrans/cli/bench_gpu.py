"""``gantrans bench gpu``: the GPU check (training step eager/compiled, NCCL smoke, ORT CUDA inference)."""

from __future__ import annotations

import argparse
import json

from gantrans import console, events
from gantrans.events import add_progress_argument
from gantrans.keyvalue import option_arg


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gpu", help="check what a GPU does: training step, NCCL, ONNX Runtime CUDA",
                       description="On one CUDA GPU, in under 10 minutes: the CycleGAN training step at "
                                   "256 px in bf16, eager and torch.compile, contiguous and channels_last "
                                   "(images/s, peak memory); a one-process NCCL smoke of the multi-process "
                                   "path; ONNX Runtime CUDA inference at 512x512 against PyTorch. Prints one "
                                   "table. Without a GPU it says so and exits 1; --device cpu runs the CPU "
                                   "twin (gloo, CPU execution provider), with small sizes from the flags.")
    p.add_argument("--device", default="cuda", metavar="DEV", help="cuda (default), cuda:N, or cpu for the twin")
    p.add_argument("--crop", type=int, default=256, metavar="N", help="training image size (default 256)")
    p.add_argument("--batch", type=int, default=1, metavar="N", help="training batch size (default 1)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="bf16",
                   help="training precision (default bf16)")
    p.add_argument("--steps", type=int, default=10, metavar="N", help="timed training steps per row (default 10)")
    p.add_argument("--warmup", type=int, default=3, metavar="N", help="untimed steps first (default 3)")
    p.add_argument("--infer-size", type=int, default=512, metavar="N", help="inference image side (default 512)")
    p.add_argument("--infer-runs", type=int, default=20, metavar="N", help="timed inference runs (default 20)")
    p.add_argument("--smoke-crop", type=int, default=64, metavar="N",
                   help="image size of the process-group smoke (default 64)")
    p.add_argument("--no-compile", dest="compile", action="store_false", help="skip the torch.compile rows")
    p.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE", type=option_arg,
                   help="cyclegan option, e.g. -o ngf=8 for the CPU twin")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    add_progress_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gantrans.openmp import choose_wait_policy

    choose_wait_policy()  # before torch loads OpenMP
    from gantrans.errors import ConfigError
    from gantrans.training.gpu_check import ROW_COUNT, gpu_check, table

    numbers = (args.crop, args.batch, args.steps, args.infer_size, args.infer_runs, args.smoke_crop)
    if min(numbers) < 1 or args.warmup < 0:
        raise ConfigError("--crop, --batch, --steps, --infer-size, --infer-runs and --smoke-crop must be >= 1 "
                          "and --warmup >= 0")
    reporter = events.active()
    done = 0

    def on_row(row) -> None:
        nonlocal done
        done += 1
        reporter.progress(done, ROW_COUNT, force=True)
        if not args.json and not reporter.json:
            state = "FAILED" if not row.ok else ("skipped" if row.note.startswith("skipped") else "ok")
            console.message(f"  {row.check}, {row.setting}: {state}")

    reporter.start("bench gpu", total=ROW_COUNT, unit="check")
    r = gpu_check(args.device, crop=args.crop, batch=args.batch, precision=args.precision, steps=args.steps,
                  warmup=args.warmup, infer_size=args.infer_size, infer_runs=args.infer_runs,
                  smoke_crop=args.smoke_crop, options=dict(args.option), compile=args.compile, progress=on_row)
    reporter.result(files=[], figures=r)
    if args.json and not reporter.json:
        print(json.dumps(r, indent=2, default=str))
    elif not reporter.json:
        console.say(f"device     {r['device']}")
        console.say(f"settings   torch {r['torch']}, {r['precision']}, batch {r['batch']}, {r['warmup']} warm-up + "
                    f"{r['steps']} timed steps, options {r['options'] or 'recipe defaults'}; "
                    f"{r['seconds']:.0f} s in all")
        for line in table(r):
            console.say(line)
    if not r["ok"]:
        failed = [f"{row['check']} ({row['setting']})" for row in r["rows"] if not row["ok"]]
        raise ConfigError(f"gantrans bench gpu: {len(failed)} check(s) failed: {'; '.join(failed)}")
    return 0
