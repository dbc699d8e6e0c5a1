"""Static int8 quantization (QDQ, per-channel weights) with onnxruntime.quantization.

What is quantized is :mod:`gantrans.export.int8`'s choice (the convolutions but the first and
the last, and the one before the last where that measures better, which stay in fp32). Quality is measured, not assumed: the int8 model's outputs on
held-out inputs are compared with the fp32 model's as a PSNR over the [-1, 1] value range.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from gantrans.fileio import discard, temp_path_for
from gantrans.recipe import ExportHead

from .int8 import QUANTIZATION, quantize_best
from .onnx_graph import input_names
from .parity import session

__all__ = ["MIN_PSNR", "QUANTIZATION", "psnr", "quantize"]

MIN_PSNR = 30.0


def _feeds(head: ExportHead, item: np.ndarray, label: int = 0) -> dict[str, np.ndarray]:
    names = input_names(head.task)
    feeds = {names[0]: item[None].astype(np.float32)}
    if head.task == "generate-conditional":
        feeds[names[1]] = np.array([label % max(1, len(head.class_names))], dtype=np.int64)
    return feeds


class _Reader:
    """A CalibrationDataReader over single inputs."""

    def __init__(self, head: ExportHead, items: Sequence[np.ndarray]):
        self._it = iter([_feeds(head, x, i) for i, x in enumerate(items)])

    def get_next(self):
        return next(self._it, None)


def psnr(fp32_path: Path, int8_path: Path, head: ExportHead, held_out: Sequence[np.ndarray]) -> float:
    """PSNR (dB) of int8 outputs against fp32 outputs, peak-to-peak range 2 ([-1, 1])."""
    a, b = session(fp32_path), session(int8_path)
    se, count = 0.0, 0
    for i, x in enumerate(held_out):
        feeds = _feeds(head, x, i)
        ref, got = a.run(None, feeds)[0].astype(np.float64), b.run(None, feeds)[0].astype(np.float64)
        se += float(np.sum((ref - got) ** 2))
        count += ref.size
    mse = se / max(1, count)
    return float("inf") if mse == 0 else 10.0 * math.log10(4.0 / mse)


@contextlib.contextmanager
def quiet_quantization_logs():
    """ONNX Runtime's quantization tools log every step at INFO/WARNING through the root
    logger: raised to ERROR while they run, and put back after, so that the process's own
    warnings (an image's dropped alpha, say) are still seen."""
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(before)


def quantize(fp32_path: Path, target: Path, head: ExportHead, calib: Sequence[np.ndarray],
             held_out: Sequence[np.ndarray], *, min_psnr: float = MIN_PSNR,
             progress: Callable[[str], None] = print) -> tuple[Path, float, list[str]]:
    """Quantize into a temp file next to ``target``; returns (temp file, PSNR dB, fp32-kept nodes).

    The caller decides whether to keep the result (PSNR threshold, --force) and renames it.
    """
    with quiet_quantization_logs():
        return _quantize(fp32_path, target, head, calib, held_out, min_psnr=min_psnr, progress=progress)


def _quantize(fp32_path: Path, target: Path, head: ExportHead, calib: Sequence[np.ndarray],
              held_out: Sequence[np.ndarray], *, min_psnr: float, progress: Callable[[str], None]
              ) -> tuple[Path, float, list[str]]:
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = temp_path_for(target)
    try:
        try:
            quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
            src = pre
        except Exception:  # noqa: BLE001 - pre-processing is an optimisation; quantize the raw graph instead
            src = fp32_path
        from onnxruntime.quantization import CalibrationDataReader

        reader = type("Reader", (_Reader, CalibrationDataReader), {})
        out, value, exclude = quantize_best(src, lambda: temp_path_for(target), lambda: reader(head, calib),
                                            lambda path: psnr(fp32_path, path, head, held_out),
                                            lambda text: progress(f"  {head.name}: {text}"))
    finally:
        with contextlib.suppress(Exception):
            discard(pre)
    label = f"convs kept in fp32: {', '.join(exclude)}" if exclude else "all convolutions"
    progress(f"  {head.name}: int8 ({label}): PSNR {value:.2f} dB vs fp32")
    return out, value, exclude
