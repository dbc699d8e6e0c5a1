"""``gantrans export`` (checkpoint -> ONNX) and ``gantrans import`` (reference checkpoint -> run).

Parsers are built without torch; the work functions import it.
"""

from __future__ import annotations

import argparse
import shlex

from gantrans import console, events
from gantrans.events import add_progress_argument

AS_CHOICES = ("cyclegan-A2B", "cyclegan-B2A", "pix2pix")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a run's generators to ONNX (with metadata, parity check, optional int8)",
        description="Export every generator head of a run (or checkpoint file) to one ONNX file each, "
                    "with its contract in the model metadata. Each file is checked against PyTorch with "
                    "ONNX Runtime before it is written.")
    p.add_argument("source", metavar="RUN_DIR_OR_CKPT", help="a run directory or a checkpoint file")
    p.add_argument("--checkpoint", default="latest", metavar="latest|EPOCH",
                   help="which checkpoint of a run directory (default: latest)")
    p.add_argument("--out", default="exports", metavar="DIR", help="output folder (default: exports/)")
    p.add_argument("--opset", type=int, default=None, metavar="N", help="ONNX opset (default: the exporter's)")
    p.add_argument("--heads", default=None, metavar="A2B,...", help="only these export heads (comma-separated)")
    p.add_argument("--int8", action="store_true",
                   help="also write a static int8 (QDQ, per-channel) model calibrated on images")
    p.add_argument("--calibration", default=None, metavar="DIR",
                   help="images to calibrate int8 on (default: the run's data set)")
    p.add_argument("--overwrite", action="store_true", help="replace existing exports")
    p.add_argument("--force", action="store_true", help="write an int8 model even below 30 dB PSNR")
    add_progress_argument(p)
    p.set_defaults(func=_export)

    p = sub.add_parser(
        "import", help="turn a reference CycleGAN/pix2pix generator checkpoint into a run",
        description="Read a generator state_dict saved by the reference CycleGAN/pix2pix code, infer its "
                    "architecture from the weights and write a run directory that 'gantrans export' accepts.")
    p.add_argument("path", metavar="PATH.pth", help="the reference generator checkpoint")
    p.add_argument("--as", dest="as_", choices=AS_CHOICES, default=None,
                   help="how to file it (default: pix2pix for a U-Net, cyclegan-A2B for a ResNet)")
    p.add_argument("--name", default=None, help="run name (default: the file's stem)")
    p.add_argument("--runs-dir", default="runs", metavar="DIR", help="where runs live (default: runs/)")
    add_progress_argument(p)
    p.set_defaults(func=_import)


def _export(args: argparse.Namespace) -> int:
    from gantrans.export import export_run

    written = export_run(args.source, checkpoint=args.checkpoint, out_dir=args.out, opset=args.opset,
                         heads=args.heads, int8=args.int8, calibration=args.calibration,
                         overwrite=args.overwrite, force=args.force, progress=console.say)
    for path in written:
        console.say(f"wrote {path}")
    if events.json_mode():
        events.active().result(files=[str(p) for p in written], figures=_export_figures(written))
    return 0


def _export_figures(written) -> dict:
    """Parity (fp32: max abs difference to PyTorch) and PSNR (int8, dB against fp32) per file."""
    import onnx

    from gantrans.export.run_export import _provenance

    parity, psnr = {}, {}
    for path in written:
        prov = _provenance(onnx.load(str(path), load_external_data=False))
        if "parity_max_abs_diff" in prov:
            parity[str(path)] = prov["parity_max_abs_diff"]
        if "int8_psnr_db" in prov:
            psnr[str(path)] = prov["int8_psnr_db"]
    return {"parity_max_abs_diff": parity, "int8_psnr_db": psnr}


def _import(args: argparse.Namespace) -> int:
    from gantrans.export import import_reference

    events.active().start("import", total=1, unit="file")
    run_dir = import_reference(args.path, as_=args.as_, name=args.name, runs_dir=args.runs_dir)
    events.active().progress(1, 1)
    console.say(f"imported {args.path} as run {run_dir}")
    console.say(f"next: gantrans export {shlex.quote(str(run_dir))}")
    from gantrans.runs import latest_checkpoint

    events.active().result(files=[str(run_dir), str(latest_checkpoint(run_dir))], figures={}, run=str(run_dir))
    return 0
