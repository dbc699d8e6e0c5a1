"""The graph passes int8 quantization runs: transposed convolutions in sub-pixel form, and
(de)quantization moved across the ops that only copy values. Both must leave the numbers alone."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from gantrans.export.int8_copies import move_quantization_across_copies
from gantrans.export.subpixel import rewrite_conv_transposes


def _model(nodes, inits, x_type=TensorProto.FLOAT, channels=4, opset=17) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", x_type, ["N", channels, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "C", "H2", "W2"])
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    return model


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    onnx.checker.check_model(model)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the graph as written
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]


def _conv_transpose(k: int, stride: int, pad: int, out_pad: int, c_in=4, c_out=3, bias=True, seed=0):
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.standard_normal((c_in, c_out, k, k)).astype(np.float32), "w")]
    inputs = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(c_out).astype(np.float32), "b"))
        inputs.append("b")
    node = helper.make_node("ConvTranspose", inputs, ["y"], name="up", kernel_shape=[k, k], strides=[stride] * 2,
                            pads=[pad] * 4, output_padding=[out_pad] * 2)
    return _model([node], inits, channels=c_in)


@pytest.mark.parametrize(("k", "stride", "pad", "out_pad", "bias"), [
    (3, 2, 1, 1, True),   # the ResNet generators' up-sampling
    (4, 2, 1, 0, True),   # DCGAN's and the U-Net's
    (4, 2, 1, 0, False),
    (6, 3, 2, 1, True),   # a stride other than 2
])
def test_subpixel_form_computes_the_transposed_convolution(k, stride, pad, out_pad, bias) -> None:
    model = _conv_transpose(k, stride, pad, out_pad, bias=bias)
    x = np.random.default_rng(1).standard_normal((2, 4, 5, 7)).astype(np.float32)
    want = _run(model, x)
    assert rewrite_conv_transposes(model) == ["up"]
    assert [n.op_type for n in model.graph.node] == ["Conv", "DepthToSpace"]
    assert model.graph.node[0].name == "up"  # choices made by node name (fp32 edges) still apply
    assert {t.name for t in model.graph.initializer}.isdisjoint({"w", "b"})  # the old weights are gone
    got = _run(model, x)
    assert got.shape == want.shape == (2, 3, 5 * stride, 7 * stride)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


@pytest.mark.parametrize(("k", "stride", "pad", "out_pad"), [
    (4, 1, 0, 0),  # DCGAN's first layer: 1x1 -> 4x4 is not a fixed multiple of the input
    (3, 2, 1, 0),  # output 2H - 1
    (3, 1, 1, 0),  # stride 1 is an ordinary convolution already
])
def test_other_transposed_convolutions_are_left_alone(k, stride, pad, out_pad) -> None:
    model = _conv_transpose(k, stride, pad, out_pad)
    assert rewrite_conv_transposes(model) == []
    assert [n.op_type for n in model.graph.node] == ["ConvTranspose"]


def _qdq_chain() -> onnx.ModelProto:
    """x -> Relu -> Pad(reflect) -> Q -> DQ -> DepthToSpace... the shape of a quantized generator's
    up-sampling tail, with the copies on the float side."""
    scalar = lambda v, name, dtype: numpy_helper.from_array(np.array(v, dtype=dtype), name)  # noqa: E731
    inits = [scalar(0.05, "s", np.float32), scalar(0, "zp", np.uint8),
             numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")]
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Pad", ["r", "pads"], ["p"], mode="reflect"),
        helper.make_node("QuantizeLinear", ["p", "s", "zp"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["dq"]),
        helper.make_node("DepthToSpace", ["dq"], ["y"], blocksize=2, mode="CRD"),
    ]
    model = _model(nodes, inits)
    model.graph.value_info.append(helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 4, "H", "W"]))
    return model


def test_quantization_moves_across_pad_and_depth_to_space_with_the_same_numbers() -> None:
    model = _qdq_chain()
    x = np.random.default_rng(2).standard_normal((1, 4, 6, 5)).astype(np.float32) * 4
    want = _run(model, x)
    assert move_quantization_across_copies(model) == 2
    assert [n.op_type for n in model.graph.node] == ["Relu", "QuantizeLinear", "Pad", "DepthToSpace",
                                                     "DequantizeLinear"]
    assert "p" not in {v.name for v in model.graph.value_info}  # its type changed: no stale annotation
    np.testing.assert_array_equal(_run(model, x), want)


def test_a_constant_pad_or_a_shared_tensor_keeps_its_place() -> None:
    model = _qdq_chain()
    pad = model.graph.node[1]
    pad.attribute[0].CopyFrom(helper.make_attribute("mode", "constant"))  # 0 would not stay 0 once quantized
    model.graph.output.append(helper.make_tensor_value_info("dq", TensorProto.FLOAT, ["N", 4, "H", "W"]))  # DQ also an output
    before = [n.op_type for n in model.graph.node]
    assert move_quantization_across_copies(model) == 0
    assert [n.op_type for n in model.graph.node] == before


def test_float32_choices_fastest_first(tmp_path) -> None:
    from gantrans.export.int8 import fp32_choices

    w = numpy_helper.from_array(np.zeros((4, 4, 1, 1), np.float32), "w")
    names = ["in", "mid", "up", "out"]
    nodes = [helper.make_node("ConvTranspose" if name == "up" else "Conv", [src, "w"], [dst], name=name)
             for name, src, dst in zip(names, ["x", "a", "b", "c"], ["a", "b", "c", "y"])]
    path = tmp_path / "m.onnx"
    onnx.save(_model(nodes, [w]), str(path))
    assert fp32_choices(path) == [["in", "out"], ["in", "up", "out"]]
    del nodes[1:3]
    nodes[1].input[0] = "a"
    onnx.save(_model(nodes, [w]), str(path))
    assert fp32_choices(path) == [["in", "out"]]


@pytest.mark.parametrize(("scores", "kept", "tries"), [
    ((45.0, 50.0), ["in", "out"], 1),           # close enough: the fastest, one try
    ((34.3, 40.9), ["in", "up", "out"], 2),     # the paper CycleGAN's case: the slower one is worth it
    ((34.3, 34.8), ["in", "out"], 2),           # not worth a slower model
])
def test_quantize_best_tries_the_slower_choice_only_when_it_pays(tmp_path, monkeypatch, scores, kept, tries) -> None:
    from gantrans.export import int8

    monkeypatch.setattr(int8, "fp32_choices", lambda src: [["in", "out"], ["in", "up", "out"]])
    made: list[list[str]] = []

    def fake_quantize(src, dst, reader, exclude):
        made.append(list(exclude))
        dst.write_text(str(len(made)))

    monkeypatch.setattr(int8, "quantize_model", fake_quantize)
    paths = iter(tmp_path / f"q{i}" for i in range(5))
    said: list[str] = []
    path, value, exclude = int8.quantize_best("m.onnx", lambda: next(paths), lambda: None,
                                              lambda p: scores[int(p.read_text()) - 1], said.append)
    assert (exclude, len(made)) == (kept, tries)
    retried = [f"int8 at {scores[0]:.1f} dB, under 40: trying again with up in fp32 too"]
    if tries == 2 and kept == ["in", "out"]:  # the second try was dropped: said, as the list it printed changes
        retried.append(f"int8 with those in fp32 too: {scores[1]:.1f} dB, not 1 dB better; keeping the first "
                       f"(faster) one")
    assert said == ([] if tries == 1 else retried)
    assert value == scores[made.index(kept)]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # the other try is removed
