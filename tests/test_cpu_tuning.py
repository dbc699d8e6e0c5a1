"""Load-time CPU changes (gantrans.inference.cpu_tuning) compute the same numbers as the file."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from gantrans.inference import cpu_tuning, session
from gantrans.inference.cpu_tuning import tune_for_cpu
from gantrans.metadata import ModelContract


def _save(model: onnx.ModelProto, path) -> str:
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"image": x})[0]


def _translator(multiple: int = 4, out_channels: int = 3, k: int = 7, pads: int = 0) -> onnx.ModelProto:
    """reflect-pad -> Conv(16 -> out_channels, k x k) -> Tanh, the shape of a generator's output layer."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal((out_channels, 16, k, k)) * 0.05).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(out_channels).astype(np.float32), "b"),
             numpy_helper.from_array(np.array([0, 0, k // 2, k // 2, 0, 0, k // 2, k // 2], np.int64), "p")]
    nodes = [helper.make_node("Pad", ["image", "p"], ["padded"], mode="reflect"),
             helper.make_node("Conv", ["padded", "w", "b"], ["conv"], name="last", kernel_shape=[k, k],
                              pads=[pads] * 4),
             helper.make_node("Tanh", ["conv"], ["out"])]
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 16, "H", "W"])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", out_channels, "H2", "W2"])
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    contract = ModelContract(task="translate", in_channels=16, out_channels=out_channels, size_multiple=multiple,
                             input_names=["image"], output_names=["out"])
    helper.set_model_props(model, contract.metadata_props())
    return model


def test_the_output_convolution_in_space_to_depth_form_gives_the_same_image() -> None:
    model = _translator()
    x = np.random.default_rng(1).standard_normal((2, 16, 8, 12)).astype(np.float32)
    want = _run(model, x)
    assert tune_for_cpu(model, amx_int8=False) == ["space-to-depth last"]
    assert [n.op_type for n in model.graph.node] == ["Pad", "SpaceToDepth", "Conv", "DepthToSpace", "Tanh"]
    assert {t.name for t in model.graph.initializer}.isdisjoint({"w", "b"})  # the old weights are gone
    got = _run(model, x)
    assert got.shape == want.shape == (2, 3, 8, 12)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kwargs", [
    {"multiple": 1},          # an odd height would not split into 2x2 blocks
    {"out_channels": 16},     # a full block of channels wastes nothing
    {"k": 3, "pads": 1},      # pads of its own: not the reflect-padded output layer this is for
])
def test_other_convolutions_are_left_as_they_are(kwargs) -> None:
    model = _translator(**kwargs)
    before = [n.op_type for n in model.graph.node]
    assert tune_for_cpu(model, amx_int8=False) == []
    assert [n.op_type for n in model.graph.node] == before


def _int8_conv() -> onnx.ModelProto:
    """x -> Q -> DQ -> Conv(DQ(int8 weights, per channel, zero point 0)) -> y, as quantize_static writes."""
    rng = np.random.default_rng(2)
    q = rng.integers(-127, 128, (8, 4, 3, 3)).astype(np.int8)
    q[0, 0, 0, 0] = -127  # the extremes the shift must keep in range
    q[1, 0, 0, 0] = 127
    inits = [numpy_helper.from_array(q, "wq"),
             numpy_helper.from_array((rng.random(8) * 0.01 + 0.001).astype(np.float32), "ws"),
             numpy_helper.from_array(np.zeros(8, np.int8), "wz"),
             numpy_helper.from_array(np.array(0.02, np.float32), "xs"),
             numpy_helper.from_array(np.array(128, np.uint8), "xz")]
    nodes = [helper.make_node("QuantizeLinear", ["image", "xs", "xz"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0),
             helper.make_node("Conv", ["xd", "w"], ["out"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 4, "H", "W"])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 8, "H", "W"])
    return helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 17)])


def test_int8_weights_move_to_zero_point_minus_one_only_with_amx_and_keep_their_values() -> None:
    x = np.random.default_rng(3).standard_normal((1, 4, 9, 7)).astype(np.float32)
    model = _int8_conv()
    want = _run(model, x)
    assert tune_for_cpu(model, amx_int8=False) == []
    assert tune_for_cpu(model, amx_int8=True) == ["1 int8 weights with zero point -1"]
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert (inits["wz"] == -1).all()
    assert inits["wq"].min() == -128 and inits["wq"].max() == 126
    np.testing.assert_allclose(_run(model, x), want, rtol=0, atol=1e-5)


def test_a_cpu_session_opens_the_tuned_model_unless_optimisation_is_off(tmp_path, monkeypatch) -> None:
    path = _save(_translator(), tmp_path / "m.onnx")
    opened: list[type] = []
    real = session._create_session

    def spy(source, options, providers):
        opened.append(type(source))
        return real(source, options, providers)

    monkeypatch.setattr(session, "_create_session", spy)
    x = np.random.default_rng(4).standard_normal((1, 16, 8, 8)).astype(np.float32)
    tuned = session.open_session(path, [session.CPU], session.SessionConfig())
    plain = session.open_session(path, [session.CPU], session.SessionConfig(optimization="none"))
    assert opened == [bytes, str]
    np.testing.assert_allclose(tuned.run(None, {"image": x})[0], plain.run(None, {"image": x})[0], atol=1e-5)


def test_without_onnx_models_load_as_they_are(tmp_path, monkeypatch) -> None:
    import builtins

    path = _save(_translator(), tmp_path / "m.onnx")
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    assert cpu_tuning.tuned_model_bytes(path) is None


def test_bench_infer_says_what_it_changed_at_load(tmp_path, capsys) -> None:
    import json

    from gantrans.cli.main import main

    path = _save(_translator(), tmp_path / "m.onnx")
    assert main(["bench", "infer", path, "--size", "8", "--runs", "2", "--warmup", "0", "--providers", "cpu",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert rows[0]["backend"] == "onnxruntime-fp32" and rows[0]["cpu_changes"] == ["space-to-depth last"]


def test_a_process_that_must_not_stall_tunes_in_a_child_and_caches_it(tmp_path, monkeypatch) -> None:
    """The desktop app sets IN_CHILD: the same bytes, computed by a child process (this one
    already has onnx, so the switch is forced here), then read from the cache."""
    import subprocess
    import sys

    path = _save(_translator(), tmp_path / "m.onnx")
    here: list[str] = []
    expected = cpu_tuning.tuned_model_bytes(path, here)
    assert expected is not None and here
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(cpu_tuning, "IN_CHILD", True)
    monkeypatch.delitem(sys.modules, "onnx")
    runs = []
    real_run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: runs.append(a) or real_run(*a, **k))
    for _ in range(2):
        said: list[str] = []
        assert cpu_tuning.tuned_model_bytes(path, said) == expected and said == here
    assert len(runs) == 1  # the second open came from the cache
    assert sorted(p.suffix for p in cpu_tuning.cache_dir().iterdir()) == [".json", ".onnx"]
    # a changed file is tuned again, not served stale
    _save(_translator(out_channels=1), path)
    assert cpu_tuning.tuned_model_bytes(path) != expected and len(runs) == 2


def test_the_app_never_imports_onnx_to_open_a_model(tmp_path) -> None:
    import subprocess
    import sys

    path = _save(_translator(), tmp_path / "m.onnx")
    code = ("import sys\nfrom gantrans.inference import cpu_tuning, session\ncpu_tuning.IN_CHILD = True\n"
            f"s = session.open_session({path!r}, [session.CPU], session.SessionConfig())\n"
            "print('onnx' in sys.modules)\n")
    env = {**__import__("os").environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"
    assert list((tmp_path / "cache").rglob("*.onnx"))  # and it was tuned all the same
