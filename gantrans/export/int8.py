"""How gantrans quantizes a generator to int8: one owner for ``gantrans export --int8`` and
``gantrans bench infer --int8 auto``. Imports neither torch nor the exporter.

Static QDQ quantization with ``onnxruntime.quantization``: per-channel int8 weights, uint8
activations, calibrated ranges (MinMax). What is quantized, measured with ONNX Runtime's CPU
execution provider on a trained CycleGAN generator at 256x256 (resnet_6blocks, ngf 32; one
thread; issue 18):

- only ``Conv``: ONNX Runtime's CPU provider has no int8 ``ConvTranspose`` kernel, so a
  quantized ConvTranspose runs in float32 between a DequantizeLinear and a QuantizeLinear —
  pure overhead, and 5 dB of PSNR lost for nothing (all layers: 1.29x fp32 at 35.5 dB; Conv
  only: 1.36x at 41.0 dB);
- not the first and last convolutions: 3 input (or output) channels make poor int8 matrix
  products — the int8 7x7 3->64 convolution alone ran at 0.74x its fp32 speed, the 64->3 one
  at a third — and they touch the pixels, where quantization shows most (Conv only, edges in
  float32: 1.64x at 44.6 dB);
- ``ConvTranspose`` rewritten first as a ``Conv`` and a ``DepthToSpace``
  (:mod:`gantrans.export.subpixel`), so the up-sampling layers run in int8 too, and the copies
  around them move bytes, not floats (:mod:`gantrans.export.int8_copies`). Measured on the
  paper's CycleGAN generator (resnet_9blocks, ngf 64, trained) at 256x256, two threads: the two
  float32 transposed convolutions took 36 of the int8 model's 175 ms; int8 went from 2.04x to
  2.30x fp32's speed (at 34.3 dB);
- the convolution that feeds the output layer stays in float32 too when that measures better:
  there the int8 error reaches the pixels almost unfiltered. On that CycleGAN generator int8
  reached only 34.3 dB, and keeping it in float32 brought 40.9 dB for about 4 % of the time
  (2.20x); on the demo's pix2pix U-Net int8 was already above 50 dB and keeping it would have cost
  a third of the speed (2.25x -> 1.57x). So the fastest choice is tried first, and only below
  ``CLOSE_DB`` the next one, kept when it is ``WORTH_DB`` better (:func:`quantize_best`);
- on a CPU, :mod:`gantrans.inference.cpu_tuning` changes the loaded model further without
  changing its numbers: 2.45-2.66x (median 2.52x) there, with AMX (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

QUANTIZATION = "int8-qdq-per-channel"
OP_TYPES = ("Conv",)
#: An int8 model this close to float32 (PSNR, dB) is kept; below it the next choice is tried.
CLOSE_DB = 40.0
#: How much better (dB) the slower choice must measure to be kept.
WORTH_DB = 1.0


def fp32_choices(model_path: str | Path) -> list[list[str]]:
    """Which convolutions (of either kind) to keep in float32, fastest first: the first and the
    last; then also the one that feeds the last."""
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    convs = [n.name for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    choices = [list(dict.fromkeys(convs[:1] + convs[-1:])), list(dict.fromkeys(convs[:1] + convs[-2:]))]
    return choices[:1] if choices[0] == choices[1] else choices


def quantize_best(src: str | Path, new_path: Callable[[], Path], reader: Callable[[], Any],
                  measure: Callable[[Path], float],
                  progress: Callable[[str], None] | None = None) -> tuple[Path, float, list[str]]:
    """Quantize ``src`` with the fastest of :func:`fp32_choices` into ``new_path()``; below
    ``CLOSE_DB`` (as ``measure(path)`` says) also with the next, keeping it when it is
    ``WORTH_DB`` better. Returns (file, PSNR, nodes kept in float32); the other file is removed.
    ``reader()`` makes a fresh ``CalibrationDataReader`` for each try; ``progress`` hears of a
    second try (it takes as long as the first)."""
    from gantrans.fileio import discard

    best: tuple[Path, float, list[str]] | None = None
    for exclude in fp32_choices(src):
        if best is not None and progress is not None:
            extra = ", ".join(n for n in exclude if n not in best[2])
            progress(f"int8 at {best[1]:.1f} dB, under {CLOSE_DB:g}: trying again with {extra} in fp32 too")
        dst = new_path()
        try:
            quantize_model(src, dst, reader(), exclude)
            value = measure(dst)
        except BaseException:
            discard(dst)
            if best is not None:
                discard(best[0])
            raise
        if best is None or value >= best[1] + WORTH_DB:
            if best is not None:
                discard(best[0])
            best = (dst, value, exclude)
        else:
            if progress is not None:
                progress(f"int8 with those in fp32 too: {value:.1f} dB, not {WORTH_DB:g} dB better; "
                         f"keeping the first (faster) one")
            discard(dst)
        if best[1] >= CLOSE_DB:
            break
    assert best is not None
    return best


def quantize_model(src: str | Path, dst: str | Path, reader: Any, exclude: Sequence[str] = ()) -> None:
    """Write the int8 model of ``src`` to ``dst``, calibrated on ``reader`` (a
    ``CalibrationDataReader``), keeping the nodes named in ``exclude`` in float32."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from .int8_copies import move_quantization_across_copies
    from .subpixel import rewrite_conv_transposes

    model = onnx.load(str(src))
    rewrite_conv_transposes(model)  # same node names: ``exclude`` still names what it named
    quantize_static(model, str(dst), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=list(OP_TYPES), nodes_to_exclude=list(exclude) or None)
    quantized = onnx.load(str(dst))
    if move_quantization_across_copies(quantized):
        onnx.save(quantized, str(dst))
