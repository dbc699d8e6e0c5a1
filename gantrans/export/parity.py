"""ONNX Runtime against PyTorch on random inputs: an export is only written if they agree."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from gantrans.errors import ExportError
from gantrans.recipe import ExportHead

from .onnx_graph import example_inputs, input_names, round_up

PARITY_TOLERANCE = 1e-4


def session(path: str | Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnx_outputs(path: str | Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """First output of the model for the feeds (a seam tests use to inject a mismatch)."""
    return session(path).run(None, feeds)[0]


def parity_cases(head: ExportHead) -> list[tuple[int, int | tuple[int, int]]]:
    """(batch, size) pairs: two batch sizes and, where the net allows, two spatial sizes (one non-square)."""
    if head.task != "translate" or head.fixed_size is not None:
        return [(1, head.fixed_size or 0), (3, head.fixed_size or 0)]
    m = max(1, head.size_multiple)
    base = round_up(max(64, head.min_size), m)
    # base + m: a size the rule allows that is not a multiple of any larger power of two, so a
    # network whose registered rule is too loose changes this size and fails the check.
    return [(1, base), (2, (base + m, base))]


def describe_cases(head: ExportHead, cases: Sequence[tuple[int, int | tuple[int, int]]]) -> str:
    """``64x64 (batch 1), 68x64 (batch 2)``: the sizes a parity check runs, for its messages."""
    if head.task != "translate" or head.fixed_size is not None:
        return ", ".join(f"batch {b}" for b, _ in cases)
    out = []
    for batch, size in cases:
        h, w = (size, size) if isinstance(size, int) else size
        out.append(f"{w}x{h} (batch {batch})")
    return ", ".join(out)


def _labels(head: ExportHead, network: str | None) -> tuple[str, str, str]:
    who = network or f"network '{head.network}'"
    rule = f"registered for sizes a multiple of {head.size_multiple}, at least {head.min_size} px"
    return who, rule, "fix the network or register it with the size rule it needs; nothing written"


def reference_output(head: ExportHead, args: Sequence[torch.Tensor], network: str | None = None) -> np.ndarray:
    """The PyTorch output for ``args``, with one clear line when the network fails or, for a
    translate head, changes the image size."""
    who, rule, fix = _labels(head, network)
    shown = f"{args[0].shape[3]}x{args[0].shape[2]} px" if head.task == "translate" else f"batch {args[0].shape[0]}"
    try:
        with torch.no_grad():
            expected = head.module.eval()(*args).float().numpy()
    except Exception as exc:  # noqa: BLE001 - the PyTorch reference run failing is the network's fault
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ExportError(f"head '{head.name}': {who}, {rule}, fails in PyTorch at {shown} "
                          f"({type(exc).__name__}: {first}); {fix}") from None
    if expected.ndim == 4 and head.out_channels and expected.shape[1] != head.out_channels:
        raise ExportError(f"head '{head.name}': {who} returns {expected.shape[1]} channels, but the head declares "
                          f"{head.out_channels} (the data's); the file would promise one thing and give another; "
                          f"fix the network's output layer; nothing written")
    if head.task == "translate" and tuple(expected.shape[2:]) != tuple(args[0].shape[2:]):
        h, w = args[0].shape[2:]
        raise ExportError(
            f"head '{head.name}': {who} turns a {w}x{h} image into "
            f"{expected.shape[3]}x{expected.shape[2]}, but a translate head must keep the size; {rule}; {fix}")
    return expected


def check_reference(head: ExportHead, cases: Sequence[tuple[int, int | tuple[int, int]]],
                    network: str | None = None) -> None:
    """Run PyTorch at every case before exporting, so a network that fails there is named first."""
    for i, (batch, size) in enumerate(cases):
        reference_output(head, example_inputs(head, batch, size, seed=100 + i), network)


def max_abs_difference(head: ExportHead, path: str | Path, cases: Sequence[tuple[int, int | tuple[int, int]]] | None = None,
                       network: str | None = None) -> float:
    """Largest |onnx - torch| over the cases; inf when an output is not finite or has the wrong shape.

    ``network`` names the network in errors (``network 'x' (plugin 'p' ...)``).
    """
    worst = 0.0
    for i, (batch, size) in enumerate(cases or parity_cases(head)):
        args = example_inputs(head, batch, size, seed=100 + i)
        expected = reference_output(head, args, network)
        feeds = {n: a.numpy() for n, a in zip(input_names(head.task), args)}
        try:
            got = onnx_outputs(path, feeds)
        except Exception as exc:  # noqa: BLE001 - ORT rejecting the graph is an export failure
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ExportError(f"head '{head.name}': ONNX Runtime cannot run the exported model ({first})") from None
        if got.shape != expected.shape or not np.all(np.isfinite(got)):
            return float("inf")
        worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - expected))))
    return worst
