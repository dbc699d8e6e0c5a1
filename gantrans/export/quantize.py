"""Static int8 quantization (QDQ, per-channel weights) with onnxruntime.quantization.

Quality is measured, not assumed: the int8 model's outputs on held-out inputs are compared
with the fp32 model's as a PSNR over the [-1, 1] value range. If the full quantization falls
short, the first and last convolutions (the ones touching pixels) are kept in fp32 and the
measurement repeated.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx

from gantrans.fileio import discard, temp_path_for
from gantrans.recipe import ExportHead

from .onnx_graph import input_names
from .parity import session

QUANTIZATION = "int8-qdq-per-channel"
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


def _edge_convs(model_path: Path) -> list[str]:
    model = onnx.load(str(model_path), load_external_data=False)
    convs = [n.name for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    return [convs[0], convs[-1]] if len(convs) >= 2 else convs


def _quantize_once(src: Path, dst: Path, head: ExportHead, calib: Sequence[np.ndarray], exclude: list[str]) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    reader = type("Reader", (_Reader, CalibrationDataReader), {})(head, calib)
    quantize_static(str(src), str(dst), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_exclude=exclude or None)


def quantize(fp32_path: Path, target: Path, head: ExportHead, calib: Sequence[np.ndarray],
             held_out: Sequence[np.ndarray], *, min_psnr: float = MIN_PSNR,
             progress: Callable[[str], None] = print) -> tuple[Path, float, list[str]]:
    """Quantize into a temp file next to ``target``; returns (temp file, PSNR dB, fp32-kept nodes).

    The caller decides whether to keep the result (PSNR threshold, --force) and renames it.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    logging.getLogger("root").setLevel(logging.ERROR)
    pre = temp_path_for(target)
    best: tuple[Path, float, list[str]] | None = None
    try:
        try:
            quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
            src = pre
        except Exception:  # noqa: BLE001 - pre-processing is an optimisation; quantize the raw graph instead
            src = fp32_path
        for attempt, exclude in enumerate(([], _edge_convs(src))):
            if attempt and not exclude:
                break  # no convolutions to keep in fp32: a second try would be the same model
            out = temp_path_for(target)
            try:
                _quantize_once(src, out, head, calib, exclude)
                value = psnr(fp32_path, out, head, held_out)
            except BaseException:
                discard(out)
                raise
            label = f"first/last conv kept in fp32: {', '.join(exclude)}" if exclude else "all layers"
            progress(f"  {head.name}: int8 ({label}): PSNR {value:.2f} dB vs fp32")
            if best is None or value > best[1]:
                if best is not None:
                    discard(best[0])
                best = (out, value, exclude)
            else:
                discard(out)
            if best[1] >= min_psnr:
                break
    except BaseException:
        if best is not None:
            discard(best[0])
        raise
    finally:
        with contextlib.suppress(Exception):
            discard(pre)
    assert best is not None
    return best
