"""The torch-free inference engine on small ONNX models built in the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from gantrans.errors import Cancelled, ConfigError, GantransError, ModelError
from gantrans.inference import (
    SESSIONS,
    CancelToken,
    FileJob,
    Generator,
    Overrides,
    TranslateOptions,
    Translator,
    load_model,
    make_grid,
    resolve_providers,
)
from gantrans.inference import session as session_mod
from gantrans.inference.translate import count_file_tiles

sys.path.insert(0, str(Path(__file__).parent))
from onnx_models import conv_reference, generator_model, translate_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _reference(model_path: Path, pixels: np.ndarray, value_range=(-1.0, 1.0)) -> np.ndarray:
    lo, hi = value_range
    x = pixels.astype(np.float32) / 255.0 * (hi - lo) + lo
    y = conv_reference(x.transpose(2, 0, 1)[None], model_path)[0].transpose(1, 2, 0)
    return np.clip((y - lo) / (hi - lo), 0, 1)


def test_engine_never_imports_torch(tmp_path):
    model = translate_model(tmp_path / "m.onnx", multiple=4)
    gen = generator_model(tmp_path / "g.onnx", class_names=["a", "b"])
    Image.fromarray(_rgb(20, 30)).save(tmp_path / "in.png")
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from gantrans.inference import Translator, Generator
        from gantrans.inference.files import FileJob
        t = Translator({str(model)!r})
        t.translate_file({str(tmp_path / "in.png")!r}, {str(tmp_path / "out.png")!r})
        Generator({str(gen)!r}).generate(2, seed=0)
        assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torch"))
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "ok" in res.stdout
    assert (tmp_path / "out.png").is_file()


def test_metadata_model_matches_reference(tmp_path):
    path = translate_model(tmp_path / "m.onnx", kernel=3)
    t = Translator(path)
    assert t.model.has_metadata and t.contract.direction == "AtoB"
    img = _rgb(24, 40)
    np.testing.assert_allclose(t.translate_array(img), _reference(path, img), atol=1e-5)


def test_metadata_less_defaults_and_overrides(tmp_path):
    path = translate_model(tmp_path / "plain.onnx", metadata=False, kernel=1)
    m = load_model(path)
    assert not m.has_metadata
    c = m.contract
    assert (c.task, c.in_channels, c.value_range, c.size_multiple, c.tiling) == \
        ("translate", 3, (-1.0, 1.0), 1, "discouraged")
    img = _rgb(16, 16)
    default = Translator(m).translate_array(img)
    np.testing.assert_allclose(default, _reference(path, img, (-1, 1)), atol=1e-5)
    other = Translator(path, overrides=Overrides(value_range=(0.0, 1.0), size_multiple=4)).translate_array(img)
    np.testing.assert_allclose(other, _reference(path, img, (0, 1)), atol=1e-5)
    assert np.abs(other - default).max() > 0.01  # the override changed something
    with pytest.raises(ConfigError, match="takes 3 channels, not 1"):
        load_model(path, overrides=Overrides(channels=1))


@pytest.mark.parametrize("content", [b"", b"not an onnx model at all", b"\x08\x01\x12\x00garbage\xff"])
def test_bad_model_file_is_one_model_error(tmp_path, content):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(content)
    with pytest.raises(ModelError) as info:
        load_model(bad)
    msg = str(info.value)
    assert str(bad) in msg and "\n" not in msg


def test_missing_folder_and_non_image_models(tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        load_model(tmp_path / "nope.onnx")
    with pytest.raises(ModelError, match="folder"):
        load_model(tmp_path)
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(tmp_path / "vec.onnx"))
    with pytest.raises(ModelError, match="not an image model"):
        load_model(tmp_path / "vec.onnx")


def test_provider_resolution_and_fallback(tmp_path, monkeypatch):
    path = translate_model(tmp_path / "m.onnx")
    assert resolve_providers(None)[-1] == "CPUExecutionProvider"
    assert resolve_providers(["cpu"]) == ["CPUExecutionProvider"]
    with pytest.raises(ConfigError, match="not available"):
        resolve_providers(["some-missing-ep"])

    monkeypatch.setattr(session_mod, "available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert resolve_providers(None) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers(["cuda"]) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    real = session_mod._create_session
    calls = []

    def fake(p, options, providers):
        calls.append(list(providers))
        if "CUDAExecutionProvider" in providers:
            raise RuntimeError("CUDA driver version is insufficient\nmore lines")
        return real(p, options, providers)

    monkeypatch.setattr(session_mod, "_create_session", fake)
    SESSIONS.clear()
    m = load_model(path)
    assert calls == [["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]]
    assert m.providers == ["CPUExecutionProvider"]
    assert any("falling back" in n and "insufficient" in n for n in m.notes)
    assert m.describe()["providers_requested"][0] == "CUDAExecutionProvider"
    SESSIONS.clear()


def test_session_options_and_cache(tmp_path):
    path = translate_model(tmp_path / "m.onnx")
    so = session_mod.SessionConfig(threads=1).session_options()
    assert so.intra_op_num_threads == 1
    assert so.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    a = load_model(path, threads=1)
    assert load_model(path, threads=1).session is a.session
    assert load_model(path, threads=2).session is not a.session
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert load_model(path, threads=1).session is not a.session


def test_alpha_is_reattached(tmp_path):
    path = translate_model(tmp_path / "m.onnx", multiple=4)
    same = translate_model(tmp_path / "m1.onnx")  # same weights, any size
    rgba = np.dstack([_rgb(21, 30), np.tile(np.linspace(0, 255, 30).astype(np.uint8), (21, 1))])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = Translator(path).translate_file(tmp_path / "a.png", tmp_path / "out" / "a.png")
    with Image.open(out) as im:
        assert im.mode == "RGBA" and im.size == (30, 21)
        got = np.asarray(im)
    np.testing.assert_array_equal(got[..., 3], rgba[..., 3])
    np.testing.assert_allclose(got[..., :3] / 255.0, _reference(same, rgba[..., :3]), atol=1 / 255 + 1e-6)


def test_grayscale_and_16bit_inputs(tmp_path):
    rgb_model = translate_model(tmp_path / "rgb.onnx", kernel=1)
    gray = np.random.default_rng(1).integers(0, 256, (17, 19), dtype=np.uint8)
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    out = Translator(rgb_model).translate_file(tmp_path / "g.png", tmp_path / "o" / "g.png")
    with Image.open(out) as im:
        assert im.mode == "RGB" and im.size == (19, 17)
    np.testing.assert_allclose(np.asarray(Image.open(out)) / 255.0,
                               _reference(rgb_model, np.repeat(gray[..., None], 3, 2)), atol=1 / 255 + 1e-6)

    ident = translate_model(tmp_path / "id1.onnx", channels=1, identity=True)
    deep = np.random.default_rng(2).integers(0, 65536, (13, 15), dtype=np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    out = Translator(ident).translate_file(tmp_path / "deep.png", tmp_path / "o" / "deep.png")
    with Image.open(out) as im:
        assert im.mode.startswith("I")  # 16-bit kept end to end
        np.testing.assert_array_equal(np.asarray(im).astype(np.uint16), deep)


def test_size_rounding_restores_original_size(tmp_path):
    m4 = translate_model(tmp_path / "m4.onnx", multiple=4, kernel=1, seed=3)
    m1 = translate_model(tmp_path / "m1.onnx", multiple=1, kernel=1, seed=3)  # same weights
    img = _rgb(37, 53)
    with pytest.raises(Exception):  # noqa: B017 - the raw graph rejects a 37x53 input
        conv_reference(np.zeros((1, 3, 37, 53), np.float32), m4)
    out = Translator(m4).translate_array(img)
    assert out.shape == (37, 53, 3)
    np.testing.assert_allclose(out, _reference(m1, img), atol=1e-5)  # pointwise: padding invisible
    resized = Translator(m4, options=TranslateOptions(resize="resize")).translate_array(img)
    assert resized.shape == (37, 53, 3)


def test_fixed_size_model_is_resized(tmp_path):
    fixed = translate_model(tmp_path / "f.onnx", static_hw=32, identity=True)
    out = Translator(fixed).translate_array(_rgb(20, 45))
    assert out.shape == (20, 45, 3)


def _folder(tmp_path: Path, n: int, size=(24, 32)) -> list[FileJob]:
    jobs = []
    for k in range(n):
        src = tmp_path / "in" / f"{k:02d}.png"
        src.parent.mkdir(exist_ok=True)
        Image.fromarray(_rgb(*size, seed=k)).save(src)
        jobs.append(FileJob(src, tmp_path / "out" / f"{k:02d}.png"))
    return jobs


def test_progress_counts_and_batching(tmp_path):
    path = translate_model(tmp_path / "m.onnx", multiple=4, kernel=3)
    jobs = _folder(tmp_path, 5)
    seen = []
    report = Translator(path, options=TranslateOptions(batch_size=3)).translate_files(jobs, progress=seen.append)
    assert report.ok and len(report.written) == 5 and report.total == 5
    dones = [p.done for p in seen]
    assert dones == sorted(dones) and seen[-1].phase == "done" and seen[-1].done == seen[-1].total == 5
    assert sum(1 for p in seen if p.phase == "save") == 5
    for job in jobs:  # batched results equal single-image results
        single = Translator(path).translate_array(np.asarray(Image.open(job.src)))
        np.testing.assert_allclose(np.asarray(Image.open(job.dst)) / 255.0, single, atol=1 / 255 + 1e-6)


def test_folder_failures_and_overwrite(tmp_path):
    path = translate_model(tmp_path / "m.onnx")
    jobs = _folder(tmp_path, 3)
    bad = tmp_path / "in" / "bad.png"
    bad.write_text("not an image")
    jobs.insert(1, FileJob(bad, tmp_path / "out" / "bad.png"))
    t = Translator(path)
    report = t.translate_files(jobs)
    assert len(report.written) == 3 and [str(s) for s, _ in report.failed] == [str(bad)]
    assert "bad.png" in report.failed[0][1]
    before = jobs[0].dst.read_bytes()
    again = t.translate_files(jobs[:1])
    assert not again.ok and "already exists" in again.failed[0][1]
    assert jobs[0].dst.read_bytes() == before
    assert t.translate_files(jobs[:1], overwrite=True).ok
    with pytest.raises(GantransError, match="input"):
        t.translate_file(jobs[0].src, jobs[0].src, overwrite=True)


def test_cancel_mid_folder(tmp_path):
    path = translate_model(tmp_path / "m.onnx", kernel=3)
    jobs = _folder(tmp_path, 8)
    token = CancelToken()

    def progress(p):
        if p.phase == "save" and p.done >= 2:
            token.cancel()

    with pytest.raises(Cancelled):
        Translator(path).translate_files(jobs, cancel=token, progress=progress)
    written = sorted((tmp_path / "out").iterdir())
    assert 2 <= len(written) < 8
    assert not [p for p in written if p.name.startswith(".") or p.suffix == ".tmp"]
    for p in written:
        with Image.open(p) as im:
            im.load()  # complete files only
    assert token.cancelled


def test_cancel_terminates_a_model_run(tmp_path):
    t = Translator(translate_model(tmp_path / "m.onnx", kernel=3))
    token = CancelToken()
    x = np.zeros((1, 3, 16, 16), np.float32)
    assert t._run(x, token).shape == (1, 3, 16, 16)
    token.cancel()  # sets RunOptions.terminate on runs that follow or are in flight
    with pytest.raises(Cancelled):
        t._run(x, token)
    fired = []
    token.on_cancel(lambda: fired.append(1))
    assert fired == [1]


def test_memory_bound_tiles_or_refuses(tmp_path):
    ok = translate_model(tmp_path / "ok.onnx", kernel=1, multiple=4)
    img = _rgb(120, 100)
    t = Translator(ok, options=TranslateOptions(memory_limit=64 * 64 * 2048))
    assert count_file_tiles(t, 120, 100) > 1
    np.testing.assert_allclose(t.translate_array(img), Translator(ok).translate_array(img), atol=1e-5)
    disc = translate_model(tmp_path / "disc.onnx", kernel=1, tiling="discouraged")
    with pytest.raises(ConfigError, match="--tile"):
        Translator(disc, options=TranslateOptions(memory_limit=64 * 64 * 2048)).translate_array(img)
    Image.fromarray(img).save(tmp_path / "big.png")
    report = Translator(disc, options=TranslateOptions(memory_limit=64 * 64 * 2048)).translate_files(
        [FileJob(tmp_path / "big.png", tmp_path / "out.png")])
    assert report.failed[0][1].startswith(f"{tmp_path / 'big.png'}: a 100x120 image needs")
    forced = Translator(disc, options=TranslateOptions(tile=48, memory_limit=64 * 64 * 2048))
    assert forced.translate_array(img).shape == (120, 100, 3)
    # the tile it advises keeps within the limit it quoted, and a tile that does not is refused
    import re

    from gantrans.inference import memory

    advised = int(re.search(r"pass --tile (\d+) to tile it", report.failed[0][1]).group(1))
    assert 0 < memory.estimate_bytes(advised, advised, 1, forced.contract) <= 64 * 64 * 2048 < \
        memory.estimate_bytes(advised + 8, advised + 8, 1, forced.contract)
    too_big = Translator(disc, options=TranslateOptions(tile=512, memory_limit=64 * 64 * 2048))
    assert count_file_tiles(too_big, 120, 100) > 1  # lowered to the advised tile, and said
    assert too_big.translate_array(img).shape == (120, 100, 3)
    assert len(too_big.notes) == 1 and re.fullmatch(
        rf"--tile 512 is lowered to {advised}: a 100x120 tile needs about .*, over the limit of .* \(--max-memory\)",
        too_big.notes[0])
    # the model's own advice: tile above its tile size when tiling is fine
    big = translate_model(tmp_path / "big.onnx", kernel=1, tile_size=64)
    assert count_file_tiles(Translator(big), 120, 100) > 1
    assert count_file_tiles(Translator(disc), 120, 100) == 1


def test_generator_vanilla_and_conditional(tmp_path):
    van = Generator(generator_model(tmp_path / "v.onnx"))
    a, b = van.generate(4, seed=7), van.generate(4, seed=7)
    assert a.shape == (4, 8, 8, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, van.generate(4, seed=8))
    with pytest.raises(ConfigError, match="not class-conditional"):
        van.generate(2, labels=1)

    cond = Generator(generator_model(tmp_path / "c.onnx", class_names=["cat", "dog", "owl"]))
    assert cond.conditional and cond.class_id("dog") == 1 and cond.class_id("2") == 2
    with pytest.raises(ConfigError, match="cat, dog, owl"):
        cond.class_id("fish")
    cats, dogs = cond.generate(3, seed=1, labels=0), cond.generate(3, seed=1, labels=1)
    assert not np.array_equal(cats, dogs)
    mixed = cond.generate(3, seed=1)  # every class in turn
    np.testing.assert_array_equal(mixed[0], cats[0])
    np.testing.assert_array_equal(mixed[1], dogs[1])

    walk = van.interpolate(3, 4, steps=5)
    assert walk.shape[0] == 5
    np.testing.assert_array_equal(walk[0], van.generate(1, seed=3)[0])
    np.testing.assert_array_equal(walk[-1], van.generate(1, seed=4)[0])
    grid = make_grid(list(walk), nrow=5, padding=2)
    assert grid.shape == (2 + 8 + 2, 5 * 10 + 2, 3)


def test_wrong_task_errors(tmp_path):
    with pytest.raises(ModelError, match="gantrans generate"):
        Translator(generator_model(tmp_path / "g.onnx"))
    with pytest.raises(ModelError, match="gantrans translate"):
        Generator(translate_model(tmp_path / "t.onnx"))


def test_available_providers_are_onnxruntimes_local_ones(monkeypatch):
    assert session_mod.available_providers() == [p for p in ort.get_available_providers()
                                                 if p != "AzureExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["AzureExecutionProvider", "CPUExecutionProvider"])
    assert session_mod.available_providers() == ["CPUExecutionProvider"]  # a remote endpoint runs no model file
    with pytest.raises(ConfigError, match="execution provider 'azure' is not available"):
        session_mod.resolve_providers(["azure"])


def test_a_damaged_onnx_file_says_what_to_do(tmp_path):
    from gantrans.errors import ModelError
    from gantrans.metadata import read_metadata_props

    bad = tmp_path / "readme.onnx"
    bad.write_text("# notes, not a model\n" * 4)
    with pytest.raises(ModelError) as err:
        read_metadata_props(bad)
    assert str(err.value).startswith(f"{bad}: not an ONNX model (unexpected wire type")
    assert str(err.value).endswith("damaged, cut short, or another kind of file); export or copy it again, or "
                                   "choose another file")


def test_declared_inputs_and_outputs_are_read_as_onnx_runtime_reads_them(tmp_path):
    """``read_graph_io`` reads what a session's get_inputs/get_outputs say, without a session: dynamic
    and static dimensions, element types, weights listed as graph inputs (IR 3) left out."""
    from onnx import TensorProto, helper, numpy_helper

    from gantrans.metadata import read_graph_io

    paths = [translate_model(tmp_path / "t.onnx", kernel=3), generator_model(tmp_path / "g.onnx",
                                                                                class_names=["a", "b"])]
    w = numpy_helper.from_array(np.ones((2, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["tokens_f", "w"], ["y"]), helper.make_node("Cast", ["tokens"], ["tokens_f"],
                                                                                 to=TensorProto.FLOAT)],
        "old", [helper.make_tensor_value_info("tokens", TensorProto.INT64, [5, 2]),
                helper.make_tensor_value_info("w", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 3])], [w])
    graph.node.reverse()  # Cast first
    old = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)])
    old.ir_version = 3
    paths.append(tmp_path / "old.onnx")
    onnx.save(old, str(paths[-1]))
    for path in paths:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        want = ([(i.name, tuple(i.shape), i.type) for i in sess.get_inputs()],
                [(o.name, tuple(o.shape), o.type) for o in sess.get_outputs()])
        assert read_graph_io(path) == want, path.name
    assert read_graph_io(paths[-1])[0] == [("tokens", (5, 2), "tensor(int64)")]  # the weight is no input


def test_a_model_without_metadata_is_probed_from_the_file_alone(tmp_path):
    from onnx import TensorProto, helper

    from gantrans.inference.model import probe_file

    c = probe_file(translate_model(tmp_path / "t.onnx", metadata=False, static_hw=16))
    assert (c.task, c.in_channels, c.fixed_size) == ("translate", 3, 16)
    c = probe_file(generator_model(tmp_path / "g.onnx", metadata=False, class_names=["a", "b"], latent=6))
    assert (c.task, c.latent_size, c.input_names) == ("generate-conditional", 6, ["z", "label"])
    assert load_model(tmp_path / "g.onnx").contract == c  # the same answer as a session gives

    graph = helper.make_graph([helper.make_node("Identity", ["v"], ["y"])], "vec",
                              [helper.make_tensor_value_info("v", TensorProto.FLOAT, ["N", 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])])
    vec = tmp_path / "vec.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(vec))
    with pytest.raises(ModelError, match=r"vec.onnx: no 4-D image output \(outputs: y\['N', 10\]\); not an image"):
        probe_file(vec)


def test_grid_columns_keep_one_class_a_column_and_stay_near_square():
    from gantrans.inference import grid_columns

    assert grid_columns(16) == 4 and grid_columns(10) == 4 and grid_columns(1) == 1
    assert grid_columns(16, 3) == 3 and grid_columns(6, 2) == 4
    assert grid_columns(256, 6) == 18  # not a strip of 6 columns and 43 rows
    assert all(grid_columns(n, k) % k == 0 for n in (1, 5, 64, 1000) for k in (1, 3, 10))
