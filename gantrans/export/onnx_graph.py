"""torch -> ONNX for one export head: calling convention, dynamic axes, exporter choice.

The dynamo exporter (``torch.export``) is the maintained path and handles every layer the
built-in generators use (reflection padding, instance/batch norm, transposed convolutions,
U-Net skip concatenation) with symbolic batch/height/width. It is used first; if it fails on
some third-party network the TorchScript exporter is tried, since both produce equivalent
graphs for these nets (parity is checked afterwards either way).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import Any

import onnx
import torch

from gantrans.errors import ConfigError, ExportError
from gantrans.recipe import ExportHead

EXPORTERS = ("dynamo", "torchscript")
DYNAMO_MIN_OPSET = 18


def output_name(task: str) -> str:
    """``image`` for generators; a translator's input is already ``image`` and ONNX names must be unique."""
    return "output" if task == "translate" else "image"


def input_names(task: str) -> list[str]:
    return {"translate": ["image"], "generate": ["z"], "generate-conditional": ["z", "label"]}[task]


def spatially_dynamic(head: ExportHead) -> bool:
    return head.task == "translate" and head.fixed_size is None


def example_inputs(head: ExportHead, batch: int, size: int | tuple[int, int], seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Seeded inputs following the head's calling convention (images in [-1, 1], z ~ N(0, 1))."""
    g = torch.Generator().manual_seed(seed)
    if head.task == "translate":
        h, w = (size, size) if isinstance(size, int) else size
        return (torch.rand(batch, head.in_channels, h, w, generator=g) * 2 - 1,)
    z = torch.randn(batch, int(head.latent_size or 0), generator=g)
    if head.task == "generate":
        return (z,)
    classes = max(1, len(head.class_names))
    return (z, torch.randint(0, classes, (batch,), generator=g, dtype=torch.int64))


def _dynamo(module: torch.nn.Module, args: tuple[torch.Tensor, ...], head: ExportHead, opset: int | None) -> onnx.ModelProto:
    dyn = torch.export.Dim.DYNAMIC
    shapes: list[dict[int, Any]] = []
    for a in args:
        axes = {0: dyn}
        if a.dim() == 4 and spatially_dynamic(head):
            axes.update({2: dyn, 3: dyn})
        shapes.append(axes)
    kwargs: dict[str, Any] = {"opset_version": opset} if opset else {}
    program = torch.onnx.export(module, args, None, dynamo=True, verbose=False, optimize=True,
                                input_names=input_names(head.task), output_names=[output_name(head.task)],
                                dynamic_shapes=tuple(shapes), **kwargs)
    return program.model_proto


def _torchscript(module: torch.nn.Module, args: tuple[torch.Tensor, ...], head: ExportHead,
                 opset: int | None) -> onnx.ModelProto:
    names = input_names(head.task)
    axes: dict[str, dict[int, str]] = {n: {0: "batch"} for n in names}
    out = output_name(head.task)
    axes[out] = {0: "batch"}
    if spatially_dynamic(head):
        axes[names[0]].update({2: "height", 3: "width"})
        axes[out].update({2: "height", 3: "width"})
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {"opset_version": opset} if opset else {}
    torch.onnx.export(module, args, buf, dynamo=False, input_names=names, output_names=[output_name(head.task)],
                      dynamic_axes=axes, do_constant_folding=True, **kwargs)
    return onnx.load_from_string(buf.getvalue())


def _name_dims(model: onnx.ModelProto, head: ExportHead) -> None:
    """Give the symbolic dimensions readable names (the dynamo exporter calls them s0, s1 ...)."""
    names = ["batch", None, "height", "width"]
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        for i, d in enumerate(dims):
            if d.HasField("dim_param") and i < len(names) and names[i]:
                d.dim_param = names[i]


def opset_range() -> tuple[int, int]:
    """The opsets this torch exports (torch's own bounds; 7..23 where it does not say)."""
    from torch.onnx import _constants

    return int(getattr(_constants, "ONNX_MIN_OPSET", 7)), int(getattr(_constants, "ONNX_MAX_OPSET", 23))


def check_opset(opset: int | None) -> None:
    """Refuse an ``--opset`` this torch cannot write before any work (the exporters would fall
    back to another one with a logged traceback, and the file would not have the opset asked for)."""
    if opset is None:
        return
    low, high = opset_range()
    if not low <= opset <= high:
        raise ConfigError(f"--opset {opset}: this installation (torch {torch.__version__}) exports opsets "
                          f"{low} to {high}; leave --opset out for its default")


def model_opset(model: onnx.ModelProto) -> int | None:
    """The opset of the model's default (``ai.onnx``) domain, the one ``--opset`` names."""
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def to_onnx(head: ExportHead, *, opset: int | None = None, exporter: str = "dynamo",
            progress: Callable[[str], None] | None = None) -> tuple[onnx.ModelProto, str]:
    """The head's module as an in-memory ONNX model (weights embedded) and the exporter used
    (``opset``: one :func:`check_opset` accepts; a model of another opset is never returned)."""
    if exporter not in EXPORTERS:
        raise ExportError(f"unknown exporter '{exporter}'; choose one of {', '.join(EXPORTERS)}")
    module = head.module.eval()
    # Small trace input: the axes are symbolic anyway (batch 2, as the dynamo exporter specialises 1).
    size = head.fixed_size or _round_up(max(head.min_size, 32), head.size_multiple)
    args = example_inputs(head, 2, size)
    if exporter == "dynamo" and opset is not None and opset < DYNAMO_MIN_OPSET:
        exporter = "torchscript"  # the dynamo exporter writes opset 18 at least, whatever was asked
    order = [exporter] + [e for e in EXPORTERS if e != exporter]
    errors = []
    for name in order:
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                model = _dynamo(module, args, head, opset) if name == "dynamo" else _torchscript(module, args, head, opset)
            _name_dims(model, head)
            written = model_opset(model)
            if opset is not None and written != opset:
                raise ExportError(f"the exporter wrote opset {written}, not the {opset} asked for")
            return model, name
        except Exception as exc:  # noqa: BLE001 - try the other exporter, report both if both fail
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            errors.append(f"{name}: {first}")
            if progress and name != order[-1]:
                progress(f"  {head.name}: {name} exporter failed ({first}); trying {order[-1]}")
    raise ExportError(f"head '{head.name}': ONNX export failed ({'; '.join(errors)})")


def _round_up(value: int, multiple: int) -> int:
    multiple = max(1, int(multiple))
    return -(-int(value) // multiple) * multiple


round_up = _round_up
