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
  products — the int8 7x7 3->64 convolution alone ran at 0.74x its fp32 speed — and they touch
  the pixels, where quantization shows most (Conv only, edges in float32: 1.64x at 44.6 dB).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

QUANTIZATION = "int8-qdq-per-channel"
OP_TYPES = ("Conv",)


def edge_convs(model_path: str | Path) -> list[str]:
    """Names of the first and last convolution (of either kind) of an ONNX graph."""
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    convs = [n.name for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    return [convs[0], convs[-1]] if len(convs) >= 2 else convs


def quantize_model(src: str | Path, dst: str | Path, reader: Any, exclude: Sequence[str] = ()) -> None:
    """Write the int8 model of ``src`` to ``dst``, calibrated on ``reader`` (a
    ``CalibrationDataReader``), keeping the nodes named in ``exclude`` in float32."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    quantize_static(str(src), str(dst), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=list(OP_TYPES), nodes_to_exclude=list(exclude) or None)
