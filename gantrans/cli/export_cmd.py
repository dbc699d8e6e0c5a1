"""``gantrans export`` (checkpoint -> ONNX) and ``gantrans import`` (reference checkpoint -> run).

Parsers are built without torch; the work functions import it.
"""

from __future__ import annotations

import argparse

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
    p.set_defaults(func=_import)


def _export(args: argparse.Namespace) -> int:
    from gantrans.export import export_run

    written = export_run(args.source, checkpoint=args.checkpoint, out_dir=args.out, opset=args.opset,
                         heads=args.heads, int8=args.int8, calibration=args.calibration,
                         overwrite=args.overwrite, force=args.force, progress=lambda m: print(m, flush=True))
    for path in written:
        print(f"wrote {path}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from gantrans.export import import_reference

    run_dir = import_reference(args.path, as_=args.as_, name=args.name, runs_dir=args.runs_dir)
    print(f"imported {args.path} as run {run_dir}")
    print(f"next: gantrans export {run_dir}")
    return 0
