"""Small in-place edits of ONNX graphs, shared by the int8 passes (:mod:`gantrans.export`) and
the load-time CPU changes (:mod:`gantrans.inference.cpu_tuning`). Needs the ``onnx`` package;
imports neither torch nor ONNX Runtime.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import onnx
from onnx import helper

__all__ = ["attributes", "consumers", "constant_weights", "drop_replaced_initializers"]


def attributes(node: onnx.NodeProto) -> dict[str, Any]:
    """A node's attributes by name, as Python values."""
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    """For each tensor name, the nodes that read it (in graph order)."""
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    return readers


def constant_weights(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto]) -> bool:
    """Whether a convolution's weight, and its bias if it has one, are initializers."""
    bias = node.input[2] if len(node.input) > 2 else ""
    return len(node.input) >= 2 and node.input[1] in inits and (not bias or bias in inits)


def drop_replaced_initializers(graph: onnx.GraphProto, replaced: Iterable[str]) -> None:
    """Remove the initializers named in ``replaced`` that no node or graph input reads any more
    (ONNX Runtime warns of unused ones, and they would still be loaded)."""
    replaced = set(replaced)
    if not replaced:
        return
    used = {name for n in graph.node for name in n.input} | {v.name for v in graph.input}
    kept = [t for t in graph.initializer if t.name in used or t.name not in replaced]
    del graph.initializer[:]
    graph.initializer.extend(kept)
