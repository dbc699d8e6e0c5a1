"""Say what a file handed to ``translate``/``info`` is when it is not an ONNX model (torch-free).

Newcomers often point the inference commands at what training or a paper's repository gave
them: a run folder, a gantrans checkpoint (``runs/NAME/checkpoints/latest.pt``) or a
reference CycleGAN/pix2pix generator (``latest_net_G_A.pth``). Each gets the one command that
turns it into an ``.onnx`` file, instead of a protobuf parse error.
"""

from __future__ import annotations

import shlex
import zipfile
from pathlib import Path

from gantrans.images import is_image_file
from gantrans.runs import CHECKPOINTS_DIR, CONFIG_FILE

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".tar")
#: The ``format`` value every gantrans training checkpoint carries (see gantrans.training.checkpoint).
GANTRANS_CHECKPOINT_MARK = b"gantrans-checkpoint"


def run_dir_of(path: Path) -> Path | None:
    """The run folder ``path`` is, or holds a checkpoint of, else None."""
    for candidate in (path, path.parent.parent):
        if (candidate / CONFIG_FILE).is_file() and (candidate / CHECKPOINTS_DIR).is_dir():
            return candidate
    return None


def _is_gantrans_checkpoint(path: Path) -> bool:
    """A torch zip whose pickle names the gantrans checkpoint format (read without torch)."""
    try:
        with zipfile.ZipFile(path) as zf:
            pickles = [n for n in zf.namelist() if n.endswith("data.pkl")]
            return any(GANTRANS_CHECKPOINT_MARK in zf.read(n) for n in pickles[:1])
    except (OSError, zipfile.BadZipFile, KeyError):
        return False


def explain(path: Path) -> str | None:
    """A one-line explanation and the command to run, or None for anything that may be ONNX."""
    path = Path(path)
    if path.is_dir():
        run = run_dir_of(path)
        if run is not None:
            return (f"{path}: a training run folder, not an .onnx model; export it first with "
                    f"'gantrans export {shlex.quote(str(run))}' (writes exports/{run.name}_*.onnx)")
        return None
    if is_image_file(path.name) and path.is_file():  # the arguments swapped, often
        return (f"{path}: an image, not an .onnx model; the model comes first "
                f"('gantrans translate MODEL.onnx {shlex.quote(str(path))}')")
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES or not path.is_file():
        return None
    run = run_dir_of(path)
    if run is not None or _is_gantrans_checkpoint(path):
        target = run if run is not None else path
        return (f"{path}: a gantrans training checkpoint, not an .onnx model; export it first with "
                f"'gantrans export {shlex.quote(str(target))}'")
    return (f"{path}: a PyTorch checkpoint, not an .onnx model; if it is a reference CycleGAN/pix2pix "
            f"generator, turn it into a run with 'gantrans import {path}', then 'gantrans export "
            f"runs/{path.stem}'")
