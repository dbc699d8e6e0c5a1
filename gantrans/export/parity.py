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


def max_abs_difference(head: ExportHead, path: str | Path, cases: Sequence[tuple[int, int | tuple[int, int]]] | None = None,
                       ) -> float:
    """Largest |onnx - torch| over the cases; inf when an output is not finite or has the wrong shape."""
    worst = 0.0
    module = head.module.eval()
    for i, (batch, size) in enumerate(cases or parity_cases(head)):
        args = example_inputs(head, batch, size, seed=100 + i)
        with torch.no_grad():
            expected = module(*args).float().numpy()
        if head.task == "translate" and tuple(expected.shape[2:]) != tuple(args[0].shape[2:]):
            h, w = args[0].shape[2:]
            raise ExportError(
                f"head '{head.name}': network '{head.network}' turns a {w}x{h} image into "
                f"{expected.shape[3]}x{expected.shape[2]}, but a translate head must keep the size; fix the "
                f"network or register it with the size rule it needs (now: multiple of {head.size_multiple}, "
                f"at least {head.min_size} px); nothing written")
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
