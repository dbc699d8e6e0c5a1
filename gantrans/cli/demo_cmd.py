"""``gantrans demo``: the main jobs on built-in data, end to end, in a few minutes on a CPU.

By default it trains a CycleGAN on the built-in unpaired ``shapes`` set, exports both
generator heads to ONNX, translates the held-out images with the torch-free engine, scores
them against the ground truth and writes a contact sheet and an HTML report. ``--all`` adds
pix2pix on the paired form of the same set, ``vanilla`` on ``smileys`` and ``cgan`` on
``shape-classes`` (whose samples are checked by a nearest-centroid classifier). Each step runs
the same ``gantrans`` command a user would type, and prints it first, so the demo doubles as a
tour of the command line.

Running it again continues: data already written is kept, an interrupted training resumes
from its checkpoint, and only the steps after it run again.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from gantrans import runs as R
from gantrans.errors import GantransError

MARKER = ".gantrans-demo"
COMMANDS_LOG = Path("report") / "commands.txt"
INTERRUPTED = 130


@dataclass(frozen=True)
class Part:
    """One model family of the demo: its data, its training flags, how it is judged."""

    recipe: str
    data: str  # built-in data set
    form: str
    train: tuple[str, ...]  # flags beside --data/--name/--runs-dir
    epochs: int
    quick_steps: int
    task: str  # translate | generate | generate-conditional
    test: tuple[str, str] = ("", "")  # held-out inputs, ground truth (relative to the data folder)
    note: str = ""


# Demo-sized networks (the papers' defaults are one flag away): 64 px images, narrower
# generators, data loading in the training process (the epochs are short).
PARTS = {
    "cyclegan": Part("cyclegan", "shapes", "unpaired",
                     ("--crop-size", "64", "--load-size", "72", "--batch-size", "4", "--workers", "0", "--log-every", "4",
                      "--generator", "resnet_6blocks", "-o", "ngf=32", "-o", "ndf=32", "--preset", "paper"),
                     epochs=8, quick_steps=12, task="translate", test=("testA", "testB"),
                     note="label maps -> shaded renders, trained on unpaired images; the paper's settings, "
                          "as a translation that changes every pixel needs (the defaults suit photo edits)"),
    "pix2pix": Part("pix2pix", "shapes", "paired",
                    ("--crop-size", "64", "--load-size", "72", "--batch-size", "4", "--workers", "0", "--log-every", "4"),
                    epochs=4, quick_steps=12, task="translate", test=("A/test", "B/test"),
                    note="label maps -> shaded renders, trained on pairs"),
    "vanilla": Part("vanilla", "smileys", "folder",
                    ("--crop-size", "32", "--load-size", "32", "--workers", "0", "--sample-every-epoch", "250", "--log-every", "5",
                     "-o", "ngf=32", "-o", "ndf=32"),
                    epochs=250, quick_steps=4, task="generate",
                    note="DCGAN, noise -> smiley, batch 128 as in the paper"),
    "cgan": Part("cgan", "shape-classes", "labelled",
                 ("--crop-size", "32", "--load-size", "32", "--workers", "0", "--sample-every-epoch", "250", "--log-every", "5",
                  "-o", "ngf=32", "-o", "ndf=32"),
                 epochs=1500, quick_steps=4, task="generate-conditional",
                 note="class-conditional DCGAN, (noise, class) -> shape, batch 128, 3000 steps"),
}
DEFAULT_PARTS = ("cyclegan",)
ALL_PARTS = ("cyclegan", "pix2pix", "vanilla", "cgan")
CLASS_CHECK_TARGET = 0.8


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train, export and use a CycleGAN on built-in data (about 3 minutes on a CPU)",
                       description="Run the main job end to end on built-in data: write the 'shapes' data set, "
                                   "train a CycleGAN, export both directions to ONNX, translate the held-out "
                                   "images, score them against the ground truth and write an HTML report. "
                                   "Prints every command it runs. Run it again to continue an interrupted demo.")
    p.add_argument("--out", default="gantrans-demo", metavar="DIR", help="where everything goes (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="a few training steps only: a smoke test in under a minute")
    p.add_argument("--all", action="store_true",
                      help="also pix2pix, vanilla (smileys) and cgan (shape-classes); about 13 minutes on a 2-core CPU")
    p.add_argument("--recipe", choices=ALL_PARTS, action="append", default=None,
                   help="run only this part (repeatable; default: cyclegan, or all four with --all)")
    p.add_argument("--epochs", type=int, default=None, metavar="N",
                   help="training epochs of every part, instead of each part's own (cyclegan 8, vanilla 250, ...)")
    p.add_argument("--max-steps", type=int, default=None, metavar="N", help="stop each training after N steps")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (default: %(default)s)")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"),
                   help="auto, fp32, bf16 or fp16 (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true",
                   help="start again from nothing instead of continuing the demo in --out")
    p.set_defaults(func=run)


@dataclass
class Demo:
    out: Path
    commands: list[str] = field(default_factory=list)
    results: dict[str, dict] = field(default_factory=dict)

    def step(self, argv: list[str]) -> None:
        """Run one ``gantrans`` command in this process, printed first as a user would type it."""
        from gantrans.cli.main import main

        line = "gantrans " + shlex.join(argv)
        print(f"\n$ {line}", flush=True)
        self.commands.append(line)
        log = self.out / COMMANDS_LOG  # every command of every run of this demo, for the report
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        code = main(argv)
        if code == INTERRUPTED:
            raise KeyboardInterrupt
        if code:
            raise GantransError(f"the demo step 'gantrans {argv[0]}' failed (exit {code}); see the message above")


def _prepare(out: Path, overwrite: bool) -> None:
    """Continue a demo folder, start one, or refuse a folder the demo did not write."""
    if out.exists() and not out.is_dir():
        raise GantransError(f"{out}: exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise GantransError(f"{out}: not a folder written by 'gantrans demo'; refusing to write into it "
                                f"(choose another --out)")
        if overwrite:
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by gantrans demo\n")


def _length(part: Part, args: argparse.Namespace) -> list[str]:
    if args.quick:
        return ["--epochs", str(args.epochs or part.epochs), "--max-steps", str(args.max_steps or part.quick_steps)]
    flags = ["--epochs", str(args.epochs or part.epochs)]
    return flags + (["--max-steps", str(args.max_steps)] if args.max_steps else [])


def _run_part(demo: Demo, part: Part, args: argparse.Namespace) -> dict:
    out = demo.out
    data = out / "data" / f"{part.data}-{part.form}"
    runs, exports = out / "runs", out / "exports"
    name = f"{part.recipe}-quick" if args.quick else part.recipe
    run_dir = runs / name
    print(f"\n== {part.recipe}: {part.note} ==", flush=True)
    if not (data / "gantrans-data.json").is_file():
        demo.step(["data", "make", part.data, str(data), "--form", part.form, "--overwrite"])
    else:
        print(f"\n(data already written: {data})")
    hardware = ["--device", args.device, "--precision", args.precision]
    if R.latest_checkpoint(run_dir).is_file():
        demo.step(["train", "--resume", str(run_dir), *_length(part, args), *hardware])
    else:
        if run_dir.exists():  # killed before its first checkpoint: nothing to keep
            shutil.rmtree(run_dir)
        demo.step(["train", part.recipe, "--data", str(data), "--name", name, "--runs-dir", str(runs),
                   *part.train, *_length(part, args), *hardware])
    latest = R.latest_checkpoint(run_dir)
    heads = sorted(exports.glob(f"{name}_*.onnx"))
    heads = [h for h in heads if not h.name.endswith(".int8.onnx")]
    if not heads or min(h.stat().st_mtime for h in heads) < latest.stat().st_mtime:
        demo.step(["export", str(run_dir), "--out", str(exports), "--overwrite"])
        heads = sorted(h for h in exports.glob(f"{name}_*.onnx") if not h.name.endswith(".int8.onnx"))
    else:
        print(f"\n(exports up to date: {', '.join(str(h) for h in heads)})")
    from gantrans.demo_report import losses_image

    result: dict = {"recipe": part.recipe, "note": part.note, "run": str(run_dir), "models": [str(h) for h in heads],
                    "samples": [str(p) for p in R.RunDir(run_dir).samples()]}
    result["losses"] = str(losses_image(run_dir, out / "report" / f"losses_{name}.png"))
    if part.task == "translate":
        result.update(_translate_and_score(demo, part, name, data, exports))
    elif part.task == "generate":
        grid = out / "generated" / f"{name}.png"
        demo.step(["generate", str(heads[0]), "-n", "64", "--seed", "0", "--grid", "-o", str(grid), "--overwrite"])
        result["generated"] = str(grid)
    else:
        result.update(_generate_and_classify(demo, name, heads[0], data))
    return result


def _translate_and_score(demo: Demo, part: Part, name: str, data: Path, exports: Path) -> dict:
    from gantrans.demo_report import score_and_sheet

    test_in, test_gt = part.test
    scores = {}
    for direction, src, truth in (("A2B", test_in, test_gt), ("B2A", test_gt, test_in)):
        model = exports / f"{name}_{direction}.onnx"
        if not model.is_file():
            continue
        dest = demo.out / "translated" / f"{name}_{direction}"
        demo.step(["translate", str(model), str(data / src), "-o", str(dest), "--overwrite", "--no-progress"])
        sheet = demo.out / "report" / f"sheet_{name}_{direction}.png"
        score = score_and_sheet(data / src, dest, data / truth, sheet)
        scores[direction] = {**score.as_dict(), "sheet": str(sheet), "model": str(model), "translated": str(dest)}
        print(f"{direction}: {score.count} held-out images; L1 to ground truth {score.l1_output:.3f} (the "
              f"untranslated input: {score.l1_input:.3f}); PSNR {score.psnr_output:.2f} dB (input: "
              f"{score.psnr_input:.2f} dB)")
    return {"scores": scores}


def _generate_and_classify(demo: Demo, name: str, model: Path, data: Path) -> dict:
    from gantrans.class_check import nearest_centroid_check

    grid = demo.out / "generated" / f"{name}.png"
    demo.step(["generate", str(model), "-n", "48", "--seed", "0", "--grid", "-o", str(grid), "--overwrite"])
    folder = demo.out / "generated" / name
    demo.step(["generate", str(model), "-n", "120", "--seed", "1", "-o", str(folder), "--overwrite"])
    check = nearest_centroid_check(data / "train", folder)
    print(f"class check: {check.correct}/{check.count} generated samples ({check.accuracy:.0%}) look like the "
          f"class asked for, by a nearest-centroid classifier of the real images "
          f"(target {CLASS_CHECK_TARGET:.0%}; chance {1 / max(1, check.classes):.0%})")
    return {"generated": str(grid), "class_check": check.as_dict()}


def run(args: argparse.Namespace) -> int:
    from gantrans.extras import require_extra

    require_extra("train")  # before the data set is written: every part trains and exports
    out = Path(args.out)
    names = tuple(dict.fromkeys(args.recipe)) if args.recipe else (ALL_PARTS if args.all else DEFAULT_PARTS)
    _prepare(out, args.overwrite)
    demo = Demo(out)
    started = time.perf_counter()
    mode = "quick" if args.quick else ("all" if args.all else "default")
    try:
        for key in names:
            demo.results[key] = _run_part(demo, PARTS[key], args)
    except KeyboardInterrupt:
        again = ["demo", "--out", str(out)] + (["--quick"] if args.quick else []) + (["--all"] if args.all else [])
        for name in args.recipe or ():
            again += ["--recipe", name]
        print(f"\ngantrans: demo interrupted; nothing is lost: run 'gantrans {shlex.join(again)}' "
              f"again to continue where it stopped", file=sys.stderr)
        return INTERRUPTED
    from gantrans.demo_report import write_report

    seconds = time.perf_counter() - started
    log = out / COMMANDS_LOG
    commands = log.read_text(encoding="utf-8").splitlines() if log.is_file() else demo.commands
    report = write_report(out, demo.results, commands, mode=mode, seconds=seconds)
    (out / "report" / "figures.json").write_text(json.dumps(demo.results, indent=2) + "\n", encoding="utf-8")
    _summary(out, demo.results, report, seconds, all_parts=set(names) == set(ALL_PARTS))
    return 0


def _summary(out: Path, results: dict[str, dict], report: Path, seconds: float, all_parts: bool) -> None:
    print(f"\n== done in {seconds / 60:.1f} min ==")
    first_model = None
    for key, r in results.items():
        for direction, s in (r.get("scores") or {}).items():
            print(f"{key} {direction}: L1 {s['l1_output']:.3f} (input {s['l1_input']:.3f}), PSNR "
                  f"{s['psnr_output']:.2f} dB (input {s['psnr_input']:.2f} dB), sheet {s['sheet']}")
            first_model = first_model or s["model"]
        if r.get("class_check"):
            c = r["class_check"]
            print(f"{key}: class check {c['accuracy']:.0%} of {c['count']} samples (target "
                  f"{CLASS_CHECK_TARGET:.0%}), samples {r['generated']}")
        elif r.get("generated"):
            print(f"{key}: samples {r['generated']}")
    print(f"\nreport:        {report}")
    print(f"runs:          {out / 'runs'}  (sample grids in each run's samples/)")
    print(f"ONNX models:   {out / 'exports'}")
    print("\nnext:")
    print("  gantrans gui                                   # browse the models and translate in a window")
    if first_model:
        print(f"  gantrans translate {first_model} YOUR_IMAGES/ -o translated/")
    print("  gantrans train cyclegan --data YOUR_DATA --name mine --crop-size 128   "
          "# your own trainA/ trainB/")
    if not all_parts:
        print(f"  gantrans demo --out {out} --all                 # add pix2pix, vanilla and cgan")
