"""Move per-tensor (de)quantization across the ops that only copy values, in a QDQ int8 graph.

Why: ``quantize_static`` leaves reflection padding before its ``QuantizeLinear`` and the
sub-pixel interleave (:mod:`gantrans.export.subpixel`) after its ``DequantizeLinear``, so
ONNX Runtime pads and interleaves float32 tensors — four bytes a value where one would do. A
per-tensor (de)quantization is the same function of each value wherever it sits, and ``Pad``
(reflect or edge) and ``DepthToSpace`` only move values, so ``Pad → Q`` becomes ``Q → Pad``
and ``DQ → DepthToSpace`` becomes ``DepthToSpace → DQ``: the same numbers, a quarter of the
bytes (ONNX Runtime still fuses the moved Q into the convolution it feeds). Imports neither
torch nor the exporter.
"""

from __future__ import annotations

import onnx

from gantrans.onnx_edit import attributes, consumers

__all__ = ["move_quantization_across_copies"]

_PAD_MODES = (b"reflect", b"edge", "reflect", "edge")


def _scalar(name: str, inits: dict[str, onnx.TensorProto]) -> bool:
    return name in inits and all(d == 1 for d in inits[name].dims)


def _per_tensor(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto]) -> bool:
    return len(node.input) >= 2 and all(_scalar(n, inits) for n in node.input[1:] if n)


def move_quantization_across_copies(model: onnx.ModelProto) -> int:
    """Rewrite ``model`` in place as the module says; returns how many pairs were swapped."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    outputs = {o.name for o in graph.output}
    readers = consumers(graph)
    position = {id(n): i for i, n in enumerate(graph.node)}
    order = list(graph.node)
    swapped = 0
    stale: set[str] = set()
    for first in list(graph.node):
        out = first.output[0] if first.output else ""
        users = readers.get(out, [])
        if len(users) != 1 or out in outputs:
            continue
        second = users[0]
        if first.op_type == "Pad" and second.op_type == "QuantizeLinear" and attributes(first).get("mode", b"constant") in _PAD_MODES \
                and _per_tensor(second, inits):
            copy = first
        elif first.op_type == "DequantizeLinear" and second.op_type == "DepthToSpace" \
                and _per_tensor(first, inits):
            copy = second
        else:
            continue
        # before: x -> first -> mid -> second -> y ; after: x -> second' -> mid -> first' -> y
        # ``mid`` changes type (float <-> integer): a new name, so no stale type annotation applies.
        x, y = first.input[0], second.output[0]
        stale.add(first.output[0])
        mid = f"{first.output[0]}_{second.op_type}_first"
        second.input[0], second.output[0] = x, mid
        first.input[0], first.output[0] = mid, y
        if copy.op_type == "Pad" and len(copy.input) > 2:
            copy.input[2] = ""  # a constant value would be float; reflect and edge never read it
        i, j = position[id(first)], position[id(second)]
        order[i], order[j] = second, first
        position[id(first)], position[id(second)] = j, i
        readers[mid] = [first]
        readers[x] = [second if n is first else n for n in readers.get(x, [])]
        swapped += 1
    if swapped:
        del graph.node[:]
        graph.node.extend(order)
        kept = [v for v in graph.value_info if v.name not in stale]
        del graph.value_info[:]
        graph.value_info.extend(kept)
    return swapped
