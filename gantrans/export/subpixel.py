"""A transposed convolution as an ordinary convolution followed by DepthToSpace, in an ONNX graph.

Why: ONNX Runtime's CPU provider has int8 kernels for ``Conv`` but not for ``ConvTranspose``,
so the up-sampling layers of a quantized generator stayed in float32 and, at 256x256, took a
fifth of the int8 model's time (issue 18). A transposed convolution of stride ``s`` whose output
is exactly ``s`` times its input (``k + output_padding - 2 * pad == s``) is ``s * s``
interleaved ordinary convolutions of the input (Shi et al. 2016, "sub-pixel convolution"): one
``Conv`` with ``s * s * C_out`` channels and a kernel of the taps each output phase reads, then
``DepthToSpace(mode=CRD)`` to interleave the phases. Every output value is the same sum of the
same products (taps a phase does not read are zero weights), so the float32 result matches to
rounding; the ``Conv`` costs more multiply-adds (16 for 9 at kernel 3, stride 2) but runs in
int8. Imports neither torch nor the exporter.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from gantrans.onnx_edit import attributes, constant_weights, drop_replaced_initializers

__all__ = ["subpixel_kernel", "rewrite_conv_transposes"]


def subpixel_kernel(weight: np.ndarray, stride: int, pad: int) -> tuple[np.ndarray, int, int]:
    """The ``Conv`` weight of a ``ConvTranspose`` weight ``[C_in, C_out, k, k]`` with ``stride`` and
    symmetric ``pad``; returns ``(kernel [C_out*s*s, C_in, n, n], pad_begin, pad_end)``.

    Output ``s*i + a`` of the transposed convolution sums input ``i + d`` times tap
    ``a + pad - s*d``, for every ``d`` that puts the tap inside the kernel; the ``Conv`` reads
    inputs ``i + d_min .. i + d_max``, so it pads ``-d_min`` before and ``d_max`` after.
    """
    c_in, c_out, k, _ = weight.shape
    s = stride
    d_min = -((k - 1 - pad) // s)  # ceil((pad - k + 1) / s)
    d_max = (s - 1 + pad) // s
    n = d_max - d_min + 1
    kernel = np.zeros((c_out, s, s, c_in, n, n), dtype=weight.dtype)
    w = weight.transpose(1, 0, 2, 3)  # [C_out, C_in, k, k]
    for a in range(s):
        for dy in range(d_min, d_max + 1):
            ky = a + pad - s * dy
            if not 0 <= ky < k:
                continue
            for b in range(s):
                for dx in range(d_min, d_max + 1):
                    kx = b + pad - s * dx
                    if 0 <= kx < k:
                        kernel[:, a, b, :, dy - d_min, dx - d_min] = w[:, :, ky, kx]
    return kernel.reshape(c_out * s * s, c_in, n, n), -d_min, d_max


def _rewritable(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto]) -> tuple[int, int] | None:
    """(stride, pad) when ``node`` is a 2-D, ungrouped, undilated transposed convolution with a
    constant square kernel, equal strides and pads, and an output ``stride`` times its input."""
    if node.op_type != "ConvTranspose" or node.domain not in ("", "ai.onnx") or not constant_weights(node, inits):
        return None
    attrs = attributes(node)
    if "output_shape" in attrs or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return None
    weight = inits[node.input[1]]
    if len(weight.dims) != 4 or weight.dims[2] != weight.dims[3] or int(attrs.get("group", 1)) != 1:
        return None
    k = weight.dims[2]
    strides = list(attrs.get("strides", [1, 1]))
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    out_pad = list(attrs.get("output_padding", [0, 0]))
    if list(attrs.get("dilations", [1, 1])) != [1, 1] or len(set(strides)) != 1 or len(set(pads)) != 1 \
            or len(set(out_pad)) != 1:
        return None
    s, p = strides[0], pads[0]
    if s < 2 or k + out_pad[0] - 2 * p != s or p > k - 1:
        return None
    return s, p


def rewrite_conv_transposes(model: onnx.ModelProto) -> list[str]:
    """Replace, in place, each transposed convolution of ``model`` that has a sub-pixel form by a
    ``Conv`` (same node name, so choices made by name still apply) and a ``DepthToSpace``;
    returns the names of the nodes replaced. Others are left as they are."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    done: list[str] = []
    replaced: set[str] = set()
    nodes: list[onnx.NodeProto] = []
    for i, node in enumerate(graph.node):
        shape = _rewritable(node, inits)
        if shape is None:
            nodes.append(node)
            continue
        s, p = shape
        weight = numpy_helper.to_array(inits[node.input[1]])
        kernel, begin, end = subpixel_kernel(weight, s, p)
        stem = f"{node.name or node.output[0]}_subpixel{i}"
        graph.initializer.append(numpy_helper.from_array(kernel, f"{stem}_weight"))
        inputs = [node.input[0], f"{stem}_weight"]
        if len(node.input) > 2 and node.input[2]:
            bias = numpy_helper.to_array(inits[node.input[2]])
            graph.initializer.append(numpy_helper.from_array(np.repeat(bias, s * s), f"{stem}_bias"))
            inputs.append(f"{stem}_bias")
        phases = f"{stem}_phases"
        nodes.append(helper.make_node("Conv", inputs, [phases], name=node.name or stem,
                                      kernel_shape=list(kernel.shape[2:]), strides=[1, 1],
                                      pads=[begin, begin, end, end]))
        nodes.append(helper.make_node("DepthToSpace", [phases], list(node.output), name=f"{stem}_interleave",
                                      blocksize=s, mode="CRD"))
        done.append(node.name)
        replaced.update(node.input[1:])
    if done:
        del graph.node[:]
        graph.node.extend(nodes)
        drop_replaced_initializers(graph, replaced)
    return done
