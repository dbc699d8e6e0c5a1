"""``gantrans translate | generate | info``: run exported ONNX models, torch-free.

``translate`` writes results under OUTDIR (default ``translated/`` in the current folder),
mirroring each input folder's tree; it never writes over an input and never replaces an
existing output without ``--overwrite``. Files that fail are listed at the end and make the
exit code 1; every other file is still written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from gantrans import console, events
from gantrans.events import add_progress_argument


def _add_runtime_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--providers", action="append", default=None, metavar="EP[,EP...]",
                   help="execution providers in order of preference, comma-separated or repeated (cuda, "
                        "cpu, dml, ... or full names); default: CUDA when available, then CPU")
    p.add_argument("--threads", type=_at_least_one, default=None, metavar="N",
                   help="intra-op threads for ONNX Runtime (default: one per core)")
    p.add_argument("--int8", action="store_true", help="use <model>.int8.onnx beside the model")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("translate", help="translate images with an exported .onnx model",
                       description="Translate image files, folders and globs with an ONNX model. "
                                   "Outputs mirror each folder's tree under OUTDIR (default: "
                                   "./translated/); inputs are never overwritten, existing outputs "
                                   "only with --overwrite.")
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    p.add_argument("-o", "--outdir", default=None, metavar="OUTDIR",
                   help="output folder (default: ./translated/)")
    p.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    p.add_argument("--suffix", default="", metavar="S", help="append S to each output file name")
    p.add_argument("--format", choices=("png", "jpg", "webp"), default=None,
                   help="output format (default: the input's png/jpg/webp, else png)")
    p.add_argument("--quality", type=_quality, default=95, help="JPEG/WebP quality, 1-100 (default 95)")
    p.add_argument("--batch", type=_at_least_one, default=1, metavar="N", help="images per model run (same size only)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--skip-existing", action="store_true",
                   help="leave out inputs whose output file exists (continue a cancelled run)")
    p.add_argument("--tile", type=_non_negative, default=None, metavar="N",
                   help="force N-pixel tiles (0: never tile; default: automatic)")
    p.add_argument("--tile-overlap", type=_non_negative, default=None, metavar="N", help="tile overlap in pixels")
    p.add_argument("--blend", choices=("linear", "cosine"), default="linear", help="tile blending weights")
    p.add_argument("--resize", choices=("pad", "resize"), default="pad",
                   help="fit sizes the model rejects by reflect-padding (default) or resizing")
    p.add_argument("--max-memory", default=None, metavar="SIZE",
                   help="memory one model run may use, e.g. 4G (default: half the RAM)")
    p.add_argument("--value-range", default=None, metavar="LO,HI",
                   help="value range of a model without gantrans metadata: --value-range=-1,1 (default) "
                        "or --value-range=0,1 (also: signed, unit)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=None,
                   help="input channels for models without gantrans metadata")
    p.add_argument("--size-multiple", type=_at_least_one, default=None, metavar="M",
                   help="size multiple for models without gantrans metadata")
    p.add_argument("--workers", type=_non_negative, default=2, metavar="N",
                   help="threads decoding/encoding images (0: in the main thread)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_runtime_args(p)
    add_progress_argument(p)
    p.set_defaults(func=_translate)

    p = sub.add_parser("generate", help="sample images from an exported generator",
                       description="Sample images from a vanilla or class-conditional ONNX generator.")
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("-n", type=_at_least_one, default=64, help="number of images (default 64)")
    p.add_argument("--seed", type=_non_negative, default=None, help="random seed, 0 or more (default: random)")
    p.add_argument("--class", dest="cls", default=None, metavar="NAME|ID",
                   help="class for a conditional model (default: every class in turn)")
    p.add_argument("--grid", action="store_true", help="write one grid PNG instead of single files")
    p.add_argument("--nrow", type=_at_least_one, default=None, help="images per grid row")
    p.add_argument("--interpolate", nargs=2, type=_non_negative, default=None, metavar=("SEED_A", "SEED_B"),
                   help="walk the latent space from SEED_A to SEED_B")
    p.add_argument("--steps", type=_interpolation_steps, default=8,
                   help="images along the walk, both seeds' included (default 8)")
    p.add_argument("-o", "--out", default=None, metavar="OUT",
                   help="output folder (default ./generated/), or the .png file with --grid")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("--skip-existing", action="store_true",
                   help="write only the images whose files are missing (continues a stopped run: same --seed)")
    p.add_argument("--batch", type=_at_least_one, default=16, help="images per model run (default 16)")
    _add_runtime_args(p)
    add_progress_argument(p)
    p.set_defaults(func=_generate)

    p = sub.add_parser("info", help="show an ONNX model's contract, inputs, outputs and providers",
                       description="Show a model's gantrans metadata, inputs and outputs, and the "
                                   "available and chosen execution providers.")
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--providers", action="append", default=None, metavar="EP[,EP...]",
                   help="execution providers to try (default: CUDA when available, then CPU)")
    p.set_defaults(func=_info)


def _model_path(args: argparse.Namespace) -> Path:
    from gantrans.inference import int8_path

    return int8_path(args.model) if getattr(args, "int8", False) else Path(args.model)


def _notes(source, after: int = 0) -> int:
    """A model's (or a translator's) notes from the ``after``-th on: what it was told or took for
    itself; returns how many it has said in all."""
    for note in source.notes[after:]:
        if events.json_mode():
            console.message(f"note: {note}")
        else:
            print(f"gantrans: note: {note}", file=sys.stderr)
    return len(source.notes)


def _translate(args: argparse.Namespace) -> int:
    from gantrans.cli.cancel import CancelOnSignal
    from gantrans.errors import Cancelled, ConfigError
    from gantrans.fileio import check_output_folder, make_output_folder
    from gantrans.inference import (
        CancelToken,
        Overrides,
        TranslateOptions,
        Translator,
        check_suffix,
        collect_inputs,
        default_outdir,
        load_model,
        parse_value_range,
        plan_jobs,
        without_own_outputs,
    )
    from gantrans.inference.memory import parse_bytes

    if args.skip_existing and args.overwrite:
        raise ConfigError("--skip-existing and --overwrite ask for opposite things; pass one of them")
    overrides = Overrides(value_range=parse_value_range(args.value_range) if args.value_range else None,
                          channels=args.channels, size_multiple=args.size_multiple)
    model = load_model(_model_path(args), providers=args.providers, threads=args.threads, overrides=overrides)
    _notes(model)
    options = TranslateOptions(resize=args.resize, tile=args.tile, tile_overlap=args.tile_overlap,
                               blend=args.blend, batch_size=args.batch,
                               memory_limit=parse_bytes(args.max_memory) if args.max_memory else None)
    translator = Translator(model, options=options)  # refuses a model that does not translate
    said = _notes(translator)
    fixed = model.contract.fixed_size
    if fixed:  # not a silent squash: the user sees why outputs look softer than their inputs
        console.say(f"{model.path.name} takes {fixed}x{fixed} px images only: each image of another size is "
                    f"resized to that and its result back to the image's size")
    outdir = Path(args.outdir) if args.outdir else default_outdir(args.inputs)
    check_output_folder(outdir, "-o OUTDIR")
    check_suffix(args.suffix)
    notes: list[str] = []
    items = collect_inputs(args.inputs, recursive=args.recursive, skip=outdir, notes=notes)
    for note in notes:
        console.say(note)
    items, own = without_own_outputs(items, outdir, suffix=args.suffix, fmt=args.format)
    if own:
        console.say(f"leaving out {len(own)} file(s) this command wrote before (e.g. {own[0]}): results, "
                    f"not inputs")
    if not items:
        print("gantrans: no images found in " + " ".join(args.inputs), file=sys.stderr)
        return 1
    jobs = plan_jobs(items, outdir, suffix=args.suffix, fmt=args.format)
    if not args.overwrite and not args.skip_existing:  # refused before any work, with both ways on
        taken = [j.dst for j in jobs if os.path.lexists(j.dst)]
        if taken:
            more = f" (and {len(taken) - 1} more of the {len(jobs)} outputs)" if len(taken) > 1 else ""
            raise ConfigError(f"{taken[0]}: already exists{more}; pass --skip-existing to translate only the "
                              f"images without an output, or --overwrite to replace them")
    make_output_folder(outdir, "-o OUTDIR")
    skipped = 0
    if args.skip_existing:
        kept = [j for j in jobs if not os.path.lexists(j.dst)]
        skipped, jobs = len(jobs) - len(kept), kept
        if skipped:
            console.say(f"skipping {skipped} input(s) whose output exists in {outdir}")
    reporter = events.active()
    reporter.start("translate", total=len(jobs), unit="image")

    from tqdm import tqdm

    bar = tqdm(total=len(jobs), unit="img", disable=args.no_progress or reporter.json or None, file=sys.stderr,
               desc=f"translate [{model.providers[0].replace('ExecutionProvider', '')}]")
    rate = events.Rate()
    stopper = CancelOnSignal(CancelToken())

    def on_progress(p) -> None:
        if p.done > bar.n:
            bar.update(p.done - bar.n)
        if p.phase in ("load", "save"):  # between images: a Ctrl+C / SIGTERM takes effect here
            stopper.stop_now_if_requested()
        r, eta = rate.update(p.done, p.total)
        tiles = {"tiles_done": p.tiles_done, "tiles_total": p.tiles_total} if p.phase == "tile" else {}
        reporter.progress(p.done, p.total, rate=r, eta_s=eta, current=p.current, **tiles)

    started = time.time()
    try:
        with stopper:
            report = translator.translate_files(jobs, overwrite=args.overwrite, quality=args.quality,
                                                cancel=stopper.token, progress=on_progress, workers=args.workers)
    except Cancelled:
        if not stopper.requested:
            raise
        written = [j.dst for j in jobs if j.dst.is_file() and j.dst.stat().st_mtime >= started - 1]
        console.say(f"cancelled: {len(written)} of {len(jobs)} written to {outdir}; the same command with "
                    f"--skip-existing continues")
        reporter.result(files=written, figures={"written": len(written), "total": len(jobs), "cancelled": True})
        return stopper.exit_code
    finally:
        bar.close()
    for note in report.notes:
        console.say(note)
    _notes(translator, after=said)  # what the images made it change
    if report.failed:  # each failure before the summary and the result that count them
        if reporter.json:
            for _src, message in report.failed:
                reporter.warning(message)
        else:
            print(f"gantrans: {len(report.failed)} file(s) failed:", file=sys.stderr)
            for _src, message in report.failed:
                print(f"  {message}", file=sys.stderr)
    console.say(f"{len(report.written)} written to {outdir}, {len(report.failed)} failed"
                + (f", {skipped} skipped (output exists)" if skipped else ""))
    # failed files by name, with their one-line reason: a pipeline acts on them without parsing prose
    reporter.result(files=report.written, figures={"written": len(report.written), "failed": len(report.failed),
                                                   "total": len(jobs), "seconds": round(time.time() - started, 3)},
                    failed=[{"file": str(src), "error": message} for src, message in report.failed])
    if report.failed:
        if reporter.json:
            reporter.error(f"{len(report.failed)} file(s) failed")
        return 1
    return stopper.exit_code if stopper.requested else 0


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
    return value


def _at_least_one(text: str) -> int:
    """An argparse type: a count of 1 or more (a usage error, exit 2, otherwise)."""
    return _int_at_least(text, 1)


def _interpolation_steps(text: str) -> int:
    """An argparse type: the images of an interpolation, its two ends at least."""
    from gantrans.inference.generate import MIN_STEPS

    return _int_at_least(text, MIN_STEPS)


def _quality(text: str) -> int:
    """An argparse type: a JPEG/WebP quality, 1 to 100."""
    value = _int_at_least(text, 1)
    if value > 100:
        raise argparse.ArgumentTypeError(f"must be at most 100, got {value}")
    return value


def _non_negative(text: str) -> int:
    """An argparse type: a seed (NumPy takes 0 and up; a usage error, exit 2, otherwise)."""
    return _int_at_least(text, 0)


def _generate(args: argparse.Namespace) -> int:
    import numpy as np

    from gantrans.cli.cancel import CancelOnSignal
    from gantrans.errors import Cancelled, ConfigError
    from gantrans.fileio import OVERWRITE_HINT, check_output_folder
    from gantrans.images import save_image
    from gantrans.inference import Generator, grid_columns, load_model, make_grid
    from gantrans.inference.generate import label_columns

    if args.skip_existing and (args.overwrite or args.grid):
        raise ConfigError(f"--skip-existing and {'--overwrite' if args.overwrite else '--grid'} do not go "
                          f"together; pass one of them")
    model = load_model(_model_path(args), providers=args.providers, threads=args.threads)
    _notes(model)
    gen = Generator(model)
    seed = args.seed if args.seed is not None else int(np.random.SeedSequence().entropy % (2**31))
    label = gen.class_id(args.cls) if args.cls is not None else None
    if args.interpolate and gen.conditional and label is None:  # one walk, in one class: say which
        label = 0
        console.say(f"interpolating in class '{gen.class_names[0] if gen.class_names else 0}'; "
                    f"choose another with --class")
    stem = f"interp_{args.interpolate[0]}_{args.interpolate[1]}" if args.interpolate else f"seed{seed}"
    total = args.steps if args.interpolate else args.n
    # Where the images go is checked before they are made: a refusal costs no generating.
    if args.grid:
        out = Path(args.out) if args.out else Path("generated") / f"{stem}_grid.png"
        if out.is_dir() or (args.out and out.suffix == ""):
            out = out / f"{stem}_grid.png"
        if out.suffix.lower() != ".png":
            raise ConfigError(f"{out}: a grid is written as PNG; name it .png")
        check_output_folder(out.parent, "-o")
        if os.path.lexists(out) and not args.overwrite:
            raise ConfigError(f"{out}: already exists; {OVERWRITE_HINT}")
    else:
        outdir = Path(args.out) if args.out else Path("generated")
        if outdir.suffix.lower() in (".png", ".jpg", ".webp") and not outdir.is_dir():
            raise ConfigError(f"{outdir}: -o names a folder for single images (use --grid for one file)")
        check_output_folder(outdir, "-o")
        targets = [outdir / name for name in _sample_names(gen, stem, total, label)]
        taken = [t for t in targets if os.path.lexists(t)] if not args.overwrite else []
        if taken and args.skip_existing:
            if len(taken) == len(targets):
                console.say(f"all {len(targets)} images are already in {outdir}; nothing to do")
                return 0
            console.say(f"skipping {len(taken)} image(s) already in {outdir}")
        elif taken:
            more = f" (and {len(taken) - 1} more of the {len(targets)})" if len(taken) > 1 else ""
            raise ConfigError(f"{taken[0]}: already exists{more}; {OVERWRITE_HINT}, or choose another -o "
                              f"folder or --seed")
    reporter = events.active()
    reporter.start("generate", total=total, unit="image")
    stopper = CancelOnSignal()
    rate = events.Rate()

    def on_progress(p) -> None:  # between model runs
        stopper.stop_now_if_requested()
        r, eta = rate.update(p.done, p.total)
        reporter.progress(p.done, p.total, rate=r, eta_s=eta)

    common = dict(batch_size=args.batch, progress=on_progress, cancel=stopper.token)
    try:
        with stopper:
            if args.interpolate:
                images = gen.interpolate(args.interpolate[0], args.interpolate[1], args.steps, label=label, **common)
            else:
                images = gen.generate(args.n, seed=seed, labels=label, **common)
    except Cancelled:
        if not stopper.requested:
            raise
        console.say("cancelled: nothing written")
        return stopper.exit_code
    if args.grid:
        cycling = gen.conditional and label is None and gen.class_names  # every class in turn
        nrow = args.nrow or (args.steps if args.interpolate else
                             grid_columns(len(images), len(gen.class_names) if cycling else 0))
        grid = make_grid(images, nrow=nrow)
        if gen.class_names:  # which class each column shows, as the training grids say per row
            used = gen.default_labels(len(images)) if label is None else [label] * len(images)
            grid = label_columns(grid, used, gen.class_names, nrow, images.shape[2])
        save_image(grid, out, overwrite=args.overwrite)
        console.say(f"wrote {out}")
        reporter.result(files=[out], figures={"images": len(images), "seed": seed})
        return 0
    written = []
    kept = set(taken)
    with stopper:
        for img, target in zip(images, targets):
            if stopper.requested:
                break
            if target not in kept:
                save_image(img, target, overwrite=args.overwrite)
                written.append(target)
    if stopper.requested:
        again = "" if args.seed is not None or args.interpolate else f" --seed {seed}"
        console.say(f"interrupted: {len(written) + len(kept)} of {len(targets)} images are in {outdir}; the same "
                    f"command with{again} --skip-existing writes the rest")
    else:
        console.say(f"{len(written)} images written to {outdir}")
    reporter.result(files=[str(p) for p in written], figures={"images": len(written), "seed": seed})
    return stopper.exit_code if stopper.requested else 0


def _sample_names(gen: Any, stem: str, count: int, label: int | None) -> list[str]:
    """``seed7_0003_circle.png``: a conditional model's images name their class (every class in
    turn unless one was asked for). Class names come from the model file: data, never a path."""
    from gantrans.fileio import safe_name

    names = []
    for k in range(count):
        tag = ""
        if gen.conditional and gen.class_names:
            tag = f"_{safe_name(gen.class_names[label if label is not None else k % len(gen.class_names)], 'class')}"
        names.append(f"{stem}_{k:04d}{tag}.png")
    return names


TILING_NOTES = {
    "discouraged": "the network normalises each image as a whole (instance norm), so tiles normalised one "
                   "by one may show seams; images are translated whole, one over the memory limit "
                   "(--max-memory) is refused until you ask for --tile N",
    "unsupported": "the model makes whole images (or has a fixed size); it is never tiled",
    "ok": "images larger than the model's tile limit are translated in overlapping tiles",
}


def _compact(options: dict) -> str:
    return ", ".join(f"{k} {json.dumps(v) if not isinstance(v, str) else v}" for k, v in sorted(options.items()))


def provenance_lines(prov: dict) -> list[tuple[str, str]]:
    """The provenance record as labelled lines a person reads; ``info --json`` keeps the raw form."""
    prov = dict(prov)
    lines: list[tuple[str, str]] = []
    if prov.get("probed"):
        return [("source", "probed from the graph (no gantrans metadata)")]
    if prov.get("recipe"):
        origin = ", ".join(x for x in (f"plugin {prov.get('plugin')} {prov.get('plugin_version') or ''}".strip()
                                       if prov.get("plugin") else "",
                                       f"distribution {prov['distribution']}" if prov.get("distribution") else "")
                           if x)
        lines.append(("recipe", f"{prov['recipe']}" + (f" ({origin})" if origin else "")))
    if prov.get("run_name") is not None:
        where = [f"run {prov['run_name']}"]
        where += [f"{k} {prov[k]}" for k in ("epoch", "step") if prov.get(k) is not None]
        lines.append(("trained", ", ".join(where)))
    net = prov.get("network") or {}
    if net:  # what it was built with: the options passed, over its factory's defaults for the rest
        opts = {k: v for k, v in {**(net.get("resolved_options") or {}), **(net.get("options") or {})}.items()
                if k not in ("in_channels", "out_channels")}
        where = f", plugin {net['plugin']}" if net.get("plugin") else ""
        lines.append(("network", f"{prov.get('network_key') or '?'} = {net.get('name')}"
                                 + (f" ({_compact(opts)}{where})" if opts or where else "")))
    others = {k: v.get("name") for k, v in (prov.get("networks") or {}).items()
              if k != prov.get("network_key") and isinstance(v, dict)}
    if others:
        lines.append(("alongside", ", ".join(f"{k} = {v}" for k, v in sorted(others.items()))))
    if prov.get("recipe_options"):
        lines.append(("options", _compact(prov["recipe_options"])))
    if prov.get("imported_from"):
        lines.append(("imported", str(prov["imported_from"])))
    made = [f"{prov['export_date']}" if prov.get("export_date") else ""]
    made += [f"{k} {prov[v]}" for k, v in (("exporter", "exporter"), ("opset", "opset"), ("torch", "torch_version"),
                                           ("gantrans", "gantrans_version")) if prov.get(v) is not None]
    if any(made):
        lines.append(("exported", ", ".join(x for x in made if x)))
    if prov.get("parity_max_abs_diff") is not None:
        lines.append(("parity", f"max |ONNX Runtime - PyTorch| = {float(prov['parity_max_abs_diff']):.2e}"))
    if isinstance(prov.get("int8_psnr_db"), (int, float)):
        lines.append(("int8", f"{float(prov['int8_psnr_db']):.2f} dB PSNR against the fp32 model"))
    known = {"int8_psnr_db", "plugin", "plugin_version", "distribution", "recipe", "run_name", "epoch", "step", "network",
             "network_key", "networks", "recipe_options", "imported_from", "export_date", "exporter", "opset",
             "torch_version", "gantrans_version", "checkpoint_gantrans_version", "parity_max_abs_diff", "probed"}
    for key in sorted(set(prov) - known):
        value = prov[key]
        lines.append((key, value if isinstance(value, str) else json.dumps(value, sort_keys=True)))
    return lines


def _info(args: argparse.Namespace) -> int:
    from gantrans.inference import load_model

    model = load_model(args.model, providers=args.providers)
    info = model.describe()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"model:      {info['path']}")
    print(f"metadata:   {'gantrans' if info['has_gantrans_metadata'] else 'none (probed; defaults apply)'}")
    print(f"task:       {info['task']}")
    generates = str(info["task"] or "").startswith("generate")
    if not generates and (info["direction"] or info["source_domain"]):
        domains = f" ({info['source_domain']} -> {info['target_domain']})" if info["source_domain"] else ""
        print(f"direction:  {info['direction']}{domains}")
    if generates:  # its input is a latent vector (and a class), not an image
        print(f"channels:   out {info['out_channels']}")
    else:
        print(f"channels:   in {info['in_channels']}, out {info['out_channels']}")
    print(f"range:      {info['value_range'][0]:g}..{info['value_range'][1]:g}")
    size = f"fixed {info['fixed_size']}px" if info["fixed_size"] else \
        f"multiple of {info['size_multiple']}, min {info['min_size']}"
    print(f"size:       {size}")
    if info["latent_size"]:
        print(f"latent:     {info['latent_size']}")
    if info["class_names"]:
        print(f"classes:    {', '.join(info['class_names'])}")
    print(f"tiling:     {info['tiling']}")
    if not info["has_gantrans_metadata"]:
        print("            (assumed: the file carries no gantrans metadata, so how the network normalises "
              "is unknown; --tile N asks for tiles anyway)")
    elif info["tiling"] in TILING_NOTES:
        print(f"            ({TILING_NOTES[info['tiling']]})")
    for kind in ("inputs", "outputs"):
        for t in info[kind]:
            print(f"{kind[:-1]:<11} {t['name']} {t['shape']} {t['type']}")
    if info["provenance"]:
        print("provenance:")
        for key, value in provenance_lines(info["provenance"]):
            print(f"  {key:<10} {value}")
    print(f"providers:  available {', '.join(info['providers_available'])}")
    print(f"            using {', '.join(info['providers_used'])}")
    for note in info["notes"]:
        print(f"note:       {note}")
    return 0
