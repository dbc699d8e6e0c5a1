"""``gantrans demo``: the main job on built-in data, end to end, in a few minutes on a CPU.

It writes the built-in ``shapes`` data set to disk, trains a translation model on it, exports
the generator to ONNX, translates the held-out test images with the torch-free engine and
scores them against the ground truth. Each step runs the same ``gantrans`` command a user would
type, and prints it first, so the demo doubles as a tour of the command line.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
from pathlib import Path

from gantrans.errors import GantransError

MARKER = ".gantrans-demo"

RECIPES = {
    # recipe: (data form, test input folder, ground-truth folder, train flags)
    "pix2pix": ("paired", "A/test", "B/test", ["--generator", "unet_64"]),
    "cyclegan": ("unpaired", "testA", "testB",
                 ["--generator", "resnet_6blocks", "-o", "ngf=32", "-o", "ndf=32"]),
}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train, export and use a model on built-in data (a few minutes on a CPU)",
                       description="Run the main job end to end on the built-in 'shapes' data set: write the "
                                   "data, train, export to ONNX, translate the held-out images and score them "
                                   "against the ground truth. Prints every command it runs.")
    p.add_argument("--out", default="gantrans-demo", metavar="DIR", help="where everything goes (default: %(default)s)")
    p.add_argument("--recipe", choices=sorted(RECIPES), default="pix2pix", help="model family (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=8, help="training epochs of 40 steps (default: %(default)s)")
    p.add_argument("--max-steps", type=int, default=None, metavar="N", help="stop training after N steps (quick check)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (default: %(default)s)")
    p.add_argument("--precision", default="auto", help="auto, fp32, bf16 or fp16 (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace the output of an earlier demo in --out")
    p.set_defaults(func=run)


def _step(argv: list[str]) -> None:
    from gantrans.cli.main import main

    print(f"\n$ gantrans {shlex.join(argv)}", flush=True)
    code = main(argv)
    if code:
        raise GantransError(f"the demo step 'gantrans {argv[0]}' failed (exit {code}); see the message above")


def _prepare(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise GantransError(f"{out}: exists and is not empty; pass --overwrite to replace an earlier demo "
                                f"or --out to choose another folder")
        if not (out / MARKER).is_file():
            raise GantransError(f"{out}: not a folder written by 'gantrans demo'; refusing to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by gantrans demo\n")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    form, test_in, test_gt, flags = RECIPES[args.recipe]
    _prepare(out, args.overwrite)
    data, runs, exports, translated = out / "data", out / "runs", out / "exports", out / "translated"

    _step(["data", "make", "shapes", str(data), "--form", form])
    _step(["train", args.recipe, "--data", str(data), "--name", "demo", "--runs-dir", str(runs),
           "--crop-size", "64", "--load-size", "72", "--batch-size", "4", "--epochs", str(args.epochs),
           "--device", args.device, "--precision", args.precision, *flags,
           *(["--max-steps", str(args.max_steps)] if args.max_steps else [])])
    _step(["export", str(runs / "demo"), "--out", str(exports)])
    model = sorted(exports.glob("demo_A2B.onnx"))[0]
    _step(["translate", str(model), str(data / test_in), "-o", str(translated)])

    from gantrans.demo_report import score_and_sheet

    report = score_and_sheet(data / test_in, translated, data / test_gt, out / "results.png")
    print(f"\nheld-out test images: {report.count}")
    print(f"L1 to ground truth (pixels in [-1, 1]): {report.l1_output:.4f} "
          f"(the untranslated input scores {report.l1_input:.4f}); PSNR {report.psnr_output:.2f} dB")
    print(f"\nresults sheet (input | output | ground truth): {out / 'results.png'}")
    print(f"training samples per epoch:                   {runs / 'demo' / 'samples'}")
    print(f"ONNX model:                                    {model}")
    print(f"translated images:                             {translated}")
    print(f"\nnext: gantrans translate {model} YOUR_IMAGES/ -o translated/")
    return 0
