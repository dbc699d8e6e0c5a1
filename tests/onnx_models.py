"""Small ONNX models built with ``onnx.helper`` for the inference tests (no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from gantrans.metadata import ModelContract

OPSET = 17
IR_VERSION = 9


def _save(graph: onnx.GraphProto, path: str | Path, props: dict[str, str] | None) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    if props:
        helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def translate_model(path: str | Path, *, channels: int = 3, out_channels: int | None = None,
                    kernel: int = 1, multiple: int = 1, metadata: bool = True, tiling: str = "ok",
                    value_range: tuple[float, float] = (-1.0, 1.0), seed: int = 0, identity: bool = False,
                    static_hw: int | None = None, tile_size: int | None = None,
                    extra: dict | None = None, direction: str = "AtoB", min_size: int = 1) -> Path:
    """``tanh(conv_k(x))`` with dynamic N/H/W (``identity``: the output is the input).

    With ``multiple`` > 1 the graph also adds ``0 * upsample(avgpool_multiple(x))``, which only
    type-checks when H and W are multiples of ``multiple`` — so running it proves the engine
    fed a legal size.
    """
    out_channels = out_channels or channels
    rng = np.random.default_rng(seed)
    hw = static_hw if static_hw else None
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", channels, hw or "H", hw or "W"])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", out_channels, hw or "H", hw or "W"])
    inits, nodes = [], []
    if identity:
        nodes.append(helper.make_node("Identity", ["image"], ["body"]))
    else:
        w = (rng.standard_normal((out_channels, channels, kernel, kernel)) * 0.5 / kernel).astype(np.float32)
        b = (rng.standard_normal(out_channels) * 0.1).astype(np.float32)
        inits += [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
        nodes.append(helper.make_node("Conv", ["image", "w", "b"], ["conv"], pads=[kernel // 2] * 4))
        nodes.append(helper.make_node("Tanh", ["conv"], ["body"]))
    last = "body"
    if multiple > 1:
        inits += [numpy_helper.from_array(np.array([1, 1, multiple, multiple], np.float32), "scales"),
                  numpy_helper.from_array(np.zeros(1, np.float32), "zero")]
        nodes += [
            helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[multiple, multiple],
                             strides=[multiple, multiple]),
            helper.make_node("Resize", ["pooled", "", "scales"], ["up"], mode="nearest"),
            helper.make_node("Mul", ["up", "zero"], ["zeroed"]),
        ]
        if out_channels != channels:
            nodes.append(helper.make_node("ReduceMean", ["zeroed"], ["zeroed1"], axes=[1], keepdims=1))
            nodes.append(helper.make_node("Add", [last, "zeroed1"], ["summed"]))
        else:
            nodes.append(helper.make_node("Add", [last, "zeroed"], ["summed"]))
        last = "summed"
    nodes.append(helper.make_node("Identity", [last], ["out"]))
    graph = helper.make_graph(nodes, "translate", [x], [y], inits)
    props = None
    if metadata:
        contract = ModelContract(task="translate", in_channels=channels, out_channels=out_channels,
                                 value_range=value_range, size_multiple=multiple, tiling=tiling, min_size=min_size,
                                 fixed_size=static_hw, direction=direction, source_domain=direction[0],
                                 target_domain=direction[-1],
                                 tile_size=tile_size, input_names=["image"], output_names=["out"],
                                 provenance={"test": True, **(extra or {})})
        props = contract.metadata_props()
    return _save(graph, path, props)


def generator_model(path: str | Path, *, latent: int = 8, size: int = 8, channels: int = 3,
                    class_names: list[str] | None = None, metadata: bool = True, seed: int = 0) -> Path:
    """``tanh(reshape(z @ W) [+ embed(label)])``: a generator, conditional with ``class_names``."""
    rng = np.random.default_rng(seed)
    n_out = channels * size * size
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", latent])
    inputs = [z]
    y = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", channels, size, size])
    inits = [numpy_helper.from_array((rng.standard_normal((latent, n_out)) * 0.5).astype(np.float32), "W"),
             numpy_helper.from_array(np.array([-1, channels, size, size], np.int64), "shape")]
    nodes = [helper.make_node("MatMul", ["z", "W"], ["flat"])]
    last = "flat"
    if class_names:
        inputs.append(helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]))
        emb = (rng.standard_normal((len(class_names), n_out)) * 2.0).astype(np.float32)
        inits.append(numpy_helper.from_array(emb, "E"))
        nodes += [helper.make_node("Gather", ["E", "label"], ["emb"], axis=0),
                  helper.make_node("Add", ["flat", "emb"], ["flat2"])]
        last = "flat2"
    nodes += [helper.make_node("Reshape", [last, "shape"], ["img"]),
              helper.make_node("Tanh", ["img"], ["image"])]
    graph = helper.make_graph(nodes, "generate", inputs, [y], inits)
    props = None
    if metadata:
        task = "generate-conditional" if class_names else "generate"
        contract = ModelContract(task=task, in_channels=0, out_channels=channels, latent_size=latent,
                                 class_names=list(class_names or []), fixed_size=size,
                                 input_names=[i.name for i in inputs], output_names=["image"])
        props = contract.metadata_props()
    return _save(graph, path, props)


def conv_reference(x_nchw: np.ndarray, path: str | Path) -> np.ndarray:
    """Run a model file with onnxruntime (a reference for engine outputs)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x_nchw.astype(np.float32)})[0]
