"""``gantrans eval MODEL_OR_RUN --data TEST_DIR [--sheet FILE]``: score a translator on paired ground truth.

Reports L1, PSNR and SSIM (:mod:`gantrans.evaluation`) of the model's outputs and of the
untranslated inputs, so a user sees at once whether the model beats doing nothing. An .onnx file
is scored with ONNX Runtime alone; a run folder (or checkpoint) is exported to a temporary
folder first, which needs the ``train`` extra.
"""

from __future__ import annotations

import argparse
import json
import shlex

from gantrans import console, events
from gantrans.events import add_progress_argument


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="score a translation model against paired ground truth (L1, PSNR, SSIM)",
        description="Translate the paired test split of a data folder and compare each output with its "
                    "ground truth, next to the untranslated input's figures (identity). MODEL_OR_RUN is "
                    "an exported .onnx file, or a run folder / checkpoint that is exported on the fly.")
    p.add_argument("model", metavar="MODEL_OR_RUN", help="an .onnx translation model, a run folder or a checkpoint")
    p.add_argument("--data", required=True, metavar="TEST_DIR",
                   help="a data folder with a paired test split (e.g. one 'gantrans data make photos-warm' wrote)")
    p.add_argument("--split", default="test", help="which split to score (default: test)")
    p.add_argument("--reverse", action="store_true", help="score B -> A instead of A -> B")
    p.add_argument("--head", default=None, metavar="A2B",
                   help="for a run: the export head to score (default: A2B, or B2A with --reverse)")
    p.add_argument("--sheet", default=None, metavar="FILE.png", help="also write a labelled contact sheet")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --sheet file")
    p.add_argument("--sheet-rows", type=int, default=8, metavar="N", help="images on the sheet (default 8)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    add_progress_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from gantrans.errors import ConfigError
    from gantrans.evaluation import check_direction, contact_sheet, evaluate, find_test_pairs
    from gantrans.fileio import OVERWRITE_HINT

    if args.sheet_rows < 1:
        raise ConfigError(f"--sheet-rows must be at least 1, got {args.sheet_rows}")
    if args.sheet:  # before any work: nothing of the user's is replaced unless asked
        sheet = Path(args.sheet).expanduser()
        if sheet.suffix.lower() != ".png":
            raise ConfigError(f"{sheet}: a contact sheet is written as PNG; name it .png")
        if sheet.is_dir():
            raise ConfigError(f"{sheet}: is a folder; name the sheet's file, e.g. {sheet / 'sheet.png'}")
        if sheet.exists() and not args.overwrite:
            raise ConfigError(f"{sheet}: already exists; {OVERWRITE_HINT}")
    source = Path(args.model).expanduser()
    if source.is_file() and source.suffix.lower() == ".onnx":
        _refuse_a_generator(source)
    pairs = find_test_pairs(args.data, args.split, args.reverse)
    reporter = events.active()
    reporter.start("eval", total=len(pairs), unit="image")
    with tempfile.TemporaryDirectory(prefix="gantrans-eval-") as tmp:
        model_path = source if source.is_file() and source.suffix.lower() == ".onnx" else _export(source, args, tmp)
        from gantrans.inference import Translator

        translator = Translator(model_path)
        check_direction(translator.model.contract, source, args.data, args.reverse)
        result, kept = evaluate(translator.translate_array, pairs, args.reverse,
                                keep=args.sheet_rows if args.sheet else 0,
                                on_image=lambda n: reporter.progress(n, len(pairs)))
    files = []
    if args.sheet:
        way = "B -> A" if args.reverse else "A -> B"  # two sheets of one run must not look alike
        title = f"{source.name} on {Path(args.data).name}/{args.split} ({way}): input | output | target"
        files.append(str(contact_sheet(kept, result, args.sheet, title=title)))
    figures = result.as_dict()
    if args.json:
        print(json.dumps({"model": str(source), "data": str(args.data), **figures}, indent=2))
    else:
        console.say(f"{source} on {args.data} ({args.split}{', B -> A' if args.reverse else ''}):")
        for line in result.table():
            console.say("  " + line)
        for f in files:
            console.say(f"wrote {f}")
    # with --json too, the stream's result carries the whole document (stdout is the stream's)
    reporter.result(files=files, figures=figures if args.json else {
        "model": figures["model"], "identity": figures["identity"], "images": figures["images"]})
    return 0


def _refuse_a_generator(path) -> None:
    """A generation model has no input image to score: say so before looking for test pairs."""
    from gantrans.errors import ConfigError
    from gantrans.metadata import ModelContract, read_metadata_props

    contract = ModelContract.from_metadata_props(read_metadata_props(path), source=str(path))
    if contract is not None and contract.task != "translate":
        raise ConfigError(_not_a_translation(path, f"a '{contract.task}' model",
                                             f"'gantrans generate {shlex.quote(str(path))}'"))


def _not_a_translation(path, what: str, look: str) -> str:
    return (f"{path}: {what} makes images from noise, and 'gantrans eval' scores translation models "
            f"against ground truth; look at its samples with {look}")


def _export(source, args: argparse.Namespace, tmp: str):
    """Export a run's head to ``tmp`` and return the .onnx path."""
    from pathlib import Path

    from gantrans.errors import ConfigError

    if not source.exists():
        raise ConfigError(f"{source}: no such model file or run folder")
    try:
        from gantrans.export import export_run
    except ImportError as exc:
        raise ConfigError(f"{source}: scoring a run needs the 'train' extra to export it ({exc.name} is missing); "
                          f"or export it first with 'gantrans export {shlex.quote(str(source))}' and pass the .onnx file") from None
    head = args.head or ("B2A" if args.reverse else "A2B")
    _refuse_a_generation_run(source, args.head)
    written = export_run(source, out_dir=Path(tmp), heads=head, progress=lambda _m: None, record=False)
    onnx = [p for p in written if str(p).endswith(".onnx") and not str(p).endswith(".int8.onnx")]
    if not onnx:
        raise ConfigError(f"{source}: exporting head {head} wrote no model")
    return onnx[0]


def _refuse_a_generation_run(source, head: str | None) -> None:
    """A run of a recipe that takes no images (vanilla, cgan) has nothing to score, whatever head."""
    from gantrans.errors import ConfigError
    from gantrans.recipe import get_recipe
    from gantrans.runs import RunDir, is_run_dir

    if head or not is_run_dir(source):
        return
    name = RunDir(source).config().get("recipe")
    try:
        kinds = set(get_recipe(name).data_kinds) if name else set()
    except Exception:  # noqa: BLE001 - a recipe not installed: the export says so
        return
    if kinds and kinds <= {"labelled", "single"}:
        raise ConfigError(_not_a_translation(source, f"a '{name}' run", f"'gantrans runs show {shlex.quote(str(source))}' "
                                                                         f"or export it and use 'gantrans generate'"))
