"""``gantrans translate | generate | info | bench infer`` end to end (in-process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gantrans.cli.main import main

sys.path.insert(0, str(Path(__file__).parent))
from onnx_models import generator_model, translate_model  # noqa: E402


def _img(path: Path, h: int = 20, w: int = 28, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = translate_model(tmp_path / "m.onnx", kernel=3)
    _img(tmp_path / "photos" / "a.png")
    _img(tmp_path / "photos" / "b.jpg", 33, 17, seed=1)
    _img(tmp_path / "photos" / "sub" / "c.png", seed=2)
    _img(tmp_path / "photos" / "sub" / "deep" / "d.webp", seed=3)
    (tmp_path / "photos" / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (tmp_path / "photos" / "notes.txt").write_text("ignored: not an image extension")
    return tmp_path, model


def test_translate_folder_tree_with_a_bad_file(tree, capsys):
    root, model = tree
    code = main(["translate", str(model), "photos", "-r", "-o", "out", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 1
    written = sorted(str(p.relative_to(root / "out")) for p in (root / "out").rglob("*") if p.is_file())
    assert written == ["a.png", "b.jpg", "sub/c.png", "sub/deep/d.webp"]
    assert "broken.png" in err and "1 file(s) failed" in err
    assert "4 written" in out
    with Image.open(root / "out" / "b.jpg") as im:
        assert im.size == (17, 33)


def test_translate_skip_existing_continues_an_unfinished_run(tree, capsys):
    root, model = tree
    assert main(["translate", str(model), "photos", "-o", "out", "--no-progress"]) == 0  # a.png, b.jpg
    (root / "out" / "b.jpg").unlink()  # as if cancelled after a.png
    before = (root / "out" / "a.png").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["translate", str(model), "photos", "-o", "out", "--no-progress"]) == 1  # a.png exists
    err = capsys.readouterr().err
    assert "a.png: already exists; pass --skip-existing to translate only the images without an output" in err
    assert not (root / "out" / "b.jpg").exists()  # refused before any work
    assert main(["translate", str(model), "photos", "-o", "out", "--no-progress", "--skip-existing"]) == 0
    out = capsys.readouterr().out
    assert "skipping 1 input(s) whose output exists" in out and "1 written" in out and "1 skipped" in out
    assert (root / "out" / "b.jpg").is_file() and (root / "out" / "a.png").stat().st_mtime_ns == before
    assert main(["translate", str(model), "photos", "-o", "out", "--skip-existing", "--overwrite"]) == 1
    assert "ask for opposite things" in capsys.readouterr().err


def test_translate_into_the_input_folder_with_a_suffix_can_be_run_again(tree, capsys):
    """Earlier outputs (a_w.png) are this command's results, not inputs: the printed
    --skip-existing advice continues the run instead of refusing it."""
    root, model = tree
    args = ["translate", str(model), "photos", "-o", "photos", "--suffix", "_w", "--no-progress"]
    assert main(args) == 0
    (root / "photos" / "b_w.jpg").unlink()  # as if cancelled after a.png
    capsys.readouterr()
    assert main([*args, "--skip-existing"]) == 0
    out = capsys.readouterr().out
    assert "leaving out 1 file(s) this command wrote before" in out and "1 written" in out and "1 skipped" in out
    assert sorted(p.name for p in (root / "photos").iterdir() if p.is_file() and "_w" in p.name) == \
        ["a_w.png", "b_w.jpg"]  # no a_w_w.png


def test_a_suffix_with_a_folder_in_it_is_refused(tree, capsys):
    root, model = tree
    for suffix in ("/../../escaped", "/sub", ".."):
        assert main(["translate", str(model), "photos", "-o", "out", f"--suffix={suffix}"]) == 1
        assert "may not hold '/' or '..'" in capsys.readouterr().err
    assert not (root / "escaped.png").exists() and not (root / "out").exists()


def test_translate_without_recursion_default_outdir_and_glob(tree, capsys):
    root, model = tree
    assert main(["translate", str(model), "photos", "--no-progress", "--format", "png", "--suffix", "_x"]) == 0
    assert sorted(p.name for p in (root / "translated").iterdir()) == ["a_x.png", "b_x.png"]
    assert main(["translate", str(model), "photos/sub/*.png", "-o", "g", "--no-progress"]) == 1  # broken.png
    assert (root / "g" / "c.png").is_file()


def test_overwrite_semantics(tree, capsys):
    root, model = tree
    args = ["translate", str(model), "photos/a.png", "-o", "out", "--no-progress"]
    assert main(args) == 0
    target = root / "out" / "a.png"
    target.write_bytes(b"sentinel")
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err
    assert target.read_bytes() == b"sentinel"
    assert main(args + ["--overwrite"]) == 0
    with Image.open(target) as im:
        assert im.size == (28, 20)


def test_never_overwrites_an_input(tree, capsys):
    root, model = tree
    before = (root / "photos" / "a.png").read_bytes()
    code = main(["translate", str(model), "photos", "-o", "photos", "--overwrite", "--no-progress"])
    assert code == 1
    assert "overwrite the input" in capsys.readouterr().err
    assert (root / "photos" / "a.png").read_bytes() == before
    (root / "translated").mkdir()
    _img(root / "translated" / "x.png")
    assert main(["translate", str(model), "translated", "--no-progress"]) == 1
    assert "pass -o" in capsys.readouterr().err


def test_int8_flag_and_bad_model(tree, capsys):
    root, model = tree
    assert main(["translate", str(model), "photos/a.png", "--int8", "--no-progress"]) == 1
    assert "m.int8.onnx" in capsys.readouterr().err
    (root / "junk.onnx").write_text("junk")
    assert main(["translate", "junk.onnx", "photos/a.png", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "junk.onnx" in err and len(err.strip().splitlines()) == 1


def test_generate_classes_grid_interpolate(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    gen = generator_model(tmp_path / "c.onnx", class_names=["cat", "dog"], size=8)
    assert main(["generate", str(gen), "-n", "6", "--seed", "1", "--grid", "-o", "grid.png"]) == 0
    from gantrans.inference.generate import COLUMN_HEADER

    with Image.open(tmp_path / "grid.png") as im:
        # each column one class (cat, dog, cat, dog), named above it as the training grids name rows
        assert im.size == (4 * 10 + 2, COLUMN_HEADER + 2 * 10 + 2)
        head = np.asarray(im.convert("L"))[:COLUMN_HEADER]
        assert all(head[:, 2 + 10 * j:10 * (j + 1)].max() > 128 for j in range(4))
    assert main(["generate", str(gen), "-n", "3", "--seed", "1", "--class", "dog", "-o", "dogs"]) == 0
    files = sorted(p.name for p in (tmp_path / "dogs").iterdir())
    assert len(files) == 3 and all(f.endswith("_dog.png") for f in files)
    assert main(["generate", str(gen), "--interpolate", "1", "2", "--steps", "4", "-o", "walk"]) == 0
    assert len(list((tmp_path / "walk").iterdir())) == 4
    assert main(["generate", str(gen), "-n", "2", "--class", "fish"]) == 1
    assert "cat, dog" in capsys.readouterr().err
    assert main(["generate", str(gen), "-n", "6", "--seed", "1", "--grid", "-o", "grid.png"]) == 1  # exists
    err = capsys.readouterr().err
    assert "grid.png: already exists; pass --overwrite to replace it" in err
    # refused before any image is made: the progress never started counting
    ran = []
    import gantrans.inference as inference

    monkeypatch.setattr(inference.Generator, "generate", lambda *a, **k: ran.append(1) or [])
    assert main(["generate", str(gen), "-n", "6", "--grid", "-o", "grid.png"]) == 1 and ran == []
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert main(["generate", str(gen), "-n", "0"]) == 2
    assert "-n: must be at least 1, got 0" in capsys.readouterr().err
    van = generator_model(tmp_path / "v.onnx")
    assert main(["generate", str(van), "-n", "4", "--seed", "3", "--grid", "-o", "v.png"]) == 0
    with Image.open(tmp_path / "v.png") as im:
        assert im.size == (2 * 10 + 2, 2 * 10 + 2)  # no classes, no names


def test_generate_refuses_bad_counts_and_taken_names_before_writing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    gen = generator_model(tmp_path / "c.onnx", class_names=["cat", "dog"], size=8)
    for bad, says in ((["--seed", "-1"], "--seed: must be at least 0, got -1"),
                      (["--interpolate", "1", "-5"], "--interpolate: must be at least 0, got -5"),
                      (["--batch", "0"], "--batch: must be at least 1, got 0"),
                      (["--grid", "--nrow", "-2"], "--nrow: must be at least 1, got -2"),
                      (["--interpolate", "1", "2", "--steps", "1"], "--steps: must be at least 2, got 1")):
        assert main(["generate", str(gen), "-n", "4", *bad]) == 2, bad
        assert says in capsys.readouterr().err
    assert main(["generate", str(gen), "-n", "5", "--seed", "7", "-o", "ref"]) == 0
    (tmp_path / "part").mkdir()
    taken = sorted((tmp_path / "ref").iterdir())[3]
    (tmp_path / "part" / taken.name).write_bytes(taken.read_bytes())
    assert main(["generate", str(gen), "-n", "5", "--seed", "7", "-o", "part"]) == 1
    assert f"{Path('part') / taken.name}: already exists; pass --overwrite" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "part").iterdir()] == [taken.name]  # nothing else was written
    assert main(["generate", str(gen), "-n", "5", "--seed", "7", "-o", "part", "--overwrite"]) == 0
    assert sorted(p.name for p in (tmp_path / "part").iterdir()) == sorted(p.name for p in (tmp_path / "ref").iterdir())


def test_translate_refuses_impossible_counts_as_usage_errors(tree, capsys):
    root, model = tree
    for bad, says in ((["--threads", "0"], "--threads: must be at least 1, got 0"),
                      (["--quality", "500"], "--quality: must be at most 100, got 500"),
                      (["--workers", "-1"], "--workers: must be at least 0, got -1"),
                      (["--tile-overlap", "-1"], "--tile-overlap: must be at least 0, got -1"),
                      (["--tile", "-1"], "--tile: must be at least 0, got -1"),
                      (["--batch", "0"], "--batch: must be at least 1, got 0")):
        assert main(["translate", str(model), "photos", "-o", "out", *bad]) == 2
        assert says in capsys.readouterr().err, bad
    assert not (root / "out").exists()


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivered in-process")
def test_generate_stopped_while_writing_says_so_and_skip_existing_finishes_the_set(tmp_path, monkeypatch, capsys):
    import gantrans.images as images

    monkeypatch.chdir(tmp_path)
    gen = generator_model(tmp_path / "c.onnx", class_names=["cat", "dog"], size=8)
    assert main(["generate", str(gen), "-n", "6", "--seed", "3", "-o", "whole"]) == 0
    real, calls = images.save_image, []

    def save_then_ctrl_c(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(images, "save_image", save_then_ctrl_c)
    assert main(["generate", str(gen), "-n", "6", "-o", "part"]) == 130  # a random seed: the message names it
    out = capsys.readouterr().out
    seed = int(next(p.name for p in (tmp_path / "part").iterdir()).split("_")[0].removeprefix("seed"))
    assert f"interrupted: 2 of 6 images are in part; the same command with --seed {seed} --skip-existing" in out
    monkeypatch.setattr(images, "save_image", real)
    capsys.readouterr()
    assert main(["generate", str(gen), "-n", "6", "--seed", "3", "-o", "part2"]) == 0
    files = sorted((tmp_path / "part2").iterdir())
    for k in (0, 1, 4):
        files[k].unlink()
    assert main(["generate", str(gen), "-n", "6", "--seed", "3", "-o", "part2", "--skip-existing"]) == 0
    assert "skipping 3 image(s) already in part2" in capsys.readouterr().out
    whole = {p.name: p.read_bytes() for p in (tmp_path / "whole").iterdir()}
    assert {p.name: p.read_bytes() for p in (tmp_path / "part2").iterdir()} == whole  # the same images


def test_generate_interpolation_of_a_conditional_model_names_the_class_it_walks(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    gen = generator_model(tmp_path / "c.onnx", class_names=["cat", "dog"], size=8)
    assert main(["generate", str(gen), "--interpolate", "1", "2", "--steps", "3", "-o", "walk"]) == 0
    assert "interpolating in class 'cat'; choose another with --class" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "walk").iterdir()) == [f"interp_1_2_000{k}_cat.png" for k in range(3)]


def test_info_json_and_text(tmp_path, capsys):
    model = translate_model(tmp_path / "m.onnx", multiple=4)
    assert main(["info", str(model), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["task"] == "translate" and info["size_multiple"] == 4 and info["has_gantrans_metadata"]
    assert info["inputs"][0]["name"] == "image" and info["inputs"][0]["shape"] == ["N", 3, "H", "W"]
    assert "CPUExecutionProvider" in info["providers_available"]
    assert info["providers_used"][0] in info["providers_available"]
    plain = translate_model(tmp_path / "plain.onnx", metadata=False)
    assert main(["info", str(plain)]) == 0
    out = capsys.readouterr().out
    assert "none (probed" in out and "CPUExecutionProvider" in out
    gen = generator_model(tmp_path / "g.onnx", class_names=["cat", "dog"], size=8)
    assert main(["info", str(gen)]) == 0
    out = capsys.readouterr().out
    assert "None" not in out and "direction:" not in out and "channels:   out 3" in out
    assert "classes:    cat, dog" in out


def test_bench_infer_smoke(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = translate_model(tmp_path / "m.onnx", kernel=3)
    assert main(["bench", "infer", str(model), "--size", "32", "--runs", "2", "--warmup", "1",
                 "--int8", "auto", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = {r["backend"]: r for r in result["results"]}
    assert set(rows) == {"onnxruntime-fp32", "onnxruntime-int8"}
    expected = 2 * 3 * 9 * 3 * 32 * 32 / 1e9  # one 3x3 conv, 3 -> 3 channels
    assert result["gflops_per_batch"] == pytest.approx(expected)
    for r in rows.values():
        assert r["median_ms"] > 0 and r["images_per_s"] > 0 and r["gflops_per_s"] > 0
    assert "speedup_vs_fp32" in rows["onnxruntime-int8"] and "psnr_vs_fp32_db" in rows["onnxruntime-int8"]
    assert main(["bench", "infer", str(model), "--size", "32", "--runs", "1", "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    assert "onnxruntime-fp32" in out and "img/s" in out and "GFLOP/s" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no scratch files left behind


def test_metadata_less_model_overrides(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    plain = translate_model(tmp_path / "plain.onnx", metadata=False, identity=True)
    src = _img(tmp_path / "a.png")
    for flag in ("--value-range=0,1", "--value-range=-1,1", "--value-range=unit"):
        assert main(["translate", str(plain), str(src), "-o", "o", "--overwrite", flag, "--no-progress"]) == 0
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o" / "a.png")),
                                      np.asarray(Image.open(src)))  # identity either way
    assert main(["translate", str(plain), str(src), "-o", "o", "--value-range=1,0", "--overwrite"]) == 1
    assert "increasing" in capsys.readouterr().err


def test_explicit_providers(tmp_path, capsys):
    model = translate_model(tmp_path / "m.onnx")
    assert main(["info", str(model), "--providers", "cpu", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["providers_requested"] == ["CPUExecutionProvider"]
    assert main(["info", str(model), "--providers", "nosuch"]) == 1
    assert "not available" in capsys.readouterr().err


def test_conv_transpose_flops(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from gantrans.cli.bench_infer import conv_flops

    w = numpy_helper.from_array(np.zeros((4, 2, 3, 3), np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], pads=[1, 1, 0, 0])
    m = helper.make_model(helper.make_graph([node], "g", [x], [y], [w]),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 9
    onnx.save(m, str(tmp_path / "t.onnx"))
    flops = conv_flops(tmp_path / "t.onnx", {"x": np.zeros((2, 4, 8, 8), np.float32)})
    assert flops == 2 * 4 * 9 * 2 * (2 * 8 * 8)  # per input pixel, not per output pixel


def test_cli_commands_stay_torch_free(tmp_path):
    model = translate_model(tmp_path / "m.onnx", multiple=4)
    gen = generator_model(tmp_path / "g.onnx")
    _img(tmp_path / "in" / "a.png")
    code = textwrap.dedent(f"""
        import sys
        from gantrans.cli.main import main
        assert main(["translate", {str(model)!r}, {str(tmp_path / "in")!r}, "-o", {str(tmp_path / "out")!r},
                     "--no-progress"]) == 0
        assert main(["generate", {str(gen)!r}, "-n", "2", "-o", {str(tmp_path / "gen")!r}]) == 0
        assert main(["info", {str(model)!r}]) == 0
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        assert not loaded, loaded[:5]
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "out" / "a.png").is_file()


def test_generate_class_names_from_the_model_are_data_not_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gen = generator_model(tmp_path / "c.onnx", class_names=["../../escaped", "/abs/x"], size=8)
    (tmp_path / "w" / "v").mkdir(parents=True)
    assert main(["generate", str(gen), "-n", "2", "--seed", "1", "-o", "w/v/out"]) == 0
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png"))
    assert len(files) == 2 and all(f.startswith("w/v/out/seed1_") for f in files), files


def test_bench_infer_times_backends_in_turns():
    """fp32, int8 and PyTorch take turns, one run each per round, so drift moves them all."""
    from gantrans.cli.bench_infer import time_interleaved

    calls: list[str] = []
    fns = [lambda name=name: calls.append(name) or name for name in ("fp32", "int8", "torch")]
    results = time_interleaved(fns, runs=3, warmup=1)
    assert calls == ["fp32", "int8", "torch"] * 4
    assert [out for _, out in results] == ["fp32", "int8", "torch"]
    assert all(seconds >= 0 for seconds, _ in results)


def test_a_file_where_the_output_folder_goes_is_refused_before_any_work(tree, capsys):
    root, model = tree
    (root / "taken").write_text("a file the user keeps")
    for out in ("taken", "taken/sub"):
        assert main(["translate", str(model), "photos", "-o", out, "--no-progress"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("gantrans: error: taken: is a file, not a folder"), err
    gen = generator_model(root / "g.onnx")
    assert main(["generate", str(gen), "-n", "2", "-o", "taken/more"]) == 1
    assert "taken: is a file, not a folder (it is in the way of taken/more); choose another -o" in capsys.readouterr().err
    assert (root / "taken").read_text() == "a file the user keeps"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no folder can be made")
def test_an_output_folder_that_cannot_be_made_is_one_line_before_any_work(tree, capsys):
    root, model = tree
    assert main(["translate", str(model), "photos", "-o", "/proc/gantrans-no-such/out", "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["gantrans: error: /proc/gantrans-no-such/out: cannot create it (no such file or directory); "
                   "choose another -o OUTDIR"], err


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_links_and_folders_left_out_are_said_and_a_linked_file_keeps_its_own_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = translate_model(tmp_path / "m.onnx")
    _img(tmp_path / "in" / "rgb.png")
    (tmp_path / "in" / "a_link_to_rgb.png").symlink_to("rgb.png")  # sorts first
    (tmp_path / "in" / "dangling.png").symlink_to("/nonexistent/x.png")
    _img(tmp_path / "in" / "deeper" / "d.png")
    assert main(["translate", str(model), "in", "-o", "out", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["rgb.png"]  # once, under its own name
    assert f"{Path('in') / 'a_link_to_rgb.png'}: the same file as {Path('in') / 'rgb.png'}; translated once" in out
    assert "dangling.png: skipped, a broken symbolic link (to /nonexistent/x.png)" in out
    assert "in: 1 sub-folder(s) not entered (deeper/); pass -r to translate them too" in out
    (tmp_path / "in" / "linked").symlink_to("deeper")
    assert main(["translate", str(model), "in", "-r", "-o", "out2", "--no-progress"]) == 0
    assert "not entered: linked folder(s) linked/" in capsys.readouterr().out
    assert sorted(str(p.relative_to(tmp_path / "out2")) for p in (tmp_path / "out2").rglob("*.png")) == \
        ["deeper/d.png", "rgb.png"]
    # a pattern reaches the linked folder's files too: under their own path, not the link's
    assert main(["translate", str(model), "in/**/*.png", "-r", "-o", "out3", "--no-progress"]) == 0
    assert f"{Path('in') / 'linked' / 'd.png'}: the same file as {Path('in') / 'deeper' / 'd.png'}" in \
        capsys.readouterr().out
    assert sorted(str(p.relative_to(tmp_path / "out3")) for p in (tmp_path / "out3").rglob("*.png")) == \
        ["deeper/d.png", "rgb.png"]


def test_a_fixed_size_model_says_it_resizes_and_info_says_what_is_assumed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = translate_model(tmp_path / "fixed.onnx", metadata=False, static_hw=16)
    _img(tmp_path / "odd.png", 31, 45)
    assert main(["translate", str(model), "odd.png", "-o", "out", "--no-progress"]) == 0
    assert "fixed.onnx takes 16x16 px images only: each image of another size is resized" in capsys.readouterr().out
    with Image.open(tmp_path / "out" / "odd.png") as im:
        assert im.size == (45, 31)
    assert main(["info", str(model)]) == 0
    assert "(assumed: the file carries no gantrans metadata" in capsys.readouterr().out


def test_an_animated_gif_says_only_its_first_frame_is_translated(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = translate_model(tmp_path / "m.onnx")
    frames = [Image.new("RGB", (12, 10), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert main(["translate", str(model), "anim.gif", "-o", "out", "--no-progress"]) == 0
    assert "anim.gif: 2 frames; only the first is translated" in capsys.readouterr().out


def test_translate_with_a_generation_model_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    """Not first told how its images would be resized: it takes none."""
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    gen = generator_model(tmp_path / "c.onnx", class_names=["cat", "dog"], size=8)
    Image.new("RGB", (20, 12)).save(tmp_path / "x.png")
    assert main(["translate", str(gen), "x.png", "-o", "out"]) == 1
    out, err = capsys.readouterr()
    assert "a 'generate-conditional' model cannot translate images; use 'gantrans generate'" in err
    assert "takes" not in out + err and len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_overrides_that_contradict_a_models_metadata_are_refused(tmp_path, monkeypatch, capsys):
    """--value-range / --size-multiple describe models without metadata: against a model's own
    record they would give wrong colours (or sizes) without a word."""
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    model = translate_model(tmp_path / "m.onnx", multiple=4)
    Image.new("RGB", (16, 12)).save(tmp_path / "x.png")
    assert main(["translate", str(model), "x.png", "-o", "a", "--value-range", "0,1"]) == 1
    assert "the model's metadata says its values range -1..1; --value-range is for models without gantrans " \
           "metadata, leave it out" in capsys.readouterr().err
    assert main(["translate", str(model), "x.png", "-o", "b", "--size-multiple", "3"]) == 1
    assert "its sides must be multiples of 4; --size-multiple is for models" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert main(["translate", str(model), "x.png", "-o", "c", "--value-range=-1,1", "--size-multiple", "2"]) == 0


def test_nonsense_tiles_are_refused_not_silently_changed(tmp_path, monkeypatch, capsys):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    model = translate_model(tmp_path / "m.onnx", min_size=8)
    Image.new("RGB", (40, 30)).save(tmp_path / "x.png")
    assert main(["translate", str(model), "x.png", "-o", "a", "--tile", "3"]) == 1
    assert "--tile 3: this model's smallest input is 8 px" in capsys.readouterr().err
    assert main(["translate", str(model), "x.png", "-o", "a", "--tile", "16", "--tile-overlap", "16"]) == 1
    assert "--tile-overlap 16 must be smaller than the tile (16 px)" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    assert main(["translate", str(model), "x.png", "-o", "a", "--tile", "16", "--tile-overlap", "4"]) == 0
    capsys.readouterr()
    # a tile off the model's size rule is raised to it, and said; so is an image under its minimum
    strided = translate_model(tmp_path / "s.onnx", min_size=8, multiple=4)
    Image.new("RGB", (5, 3)).save(tmp_path / "tiny.png")
    assert main(["translate", str(strided), "x.png", "tiny.png", "-o", "b", "--tile", "18"]) == 0
    said = capsys.readouterr()
    err = said.out + said.err
    assert "note: --tile 18 is used as 20: this model takes sides that are multiples of 4" in err
    assert "tiny.png: 5x3, below this model's 8 px minimum; it was padded to 8x8, so most of what the model saw " \
           "was padding" in err
    assert "x.png: 40x30" not in err  # an image over the minimum is not noted


def test_a_model_without_metadata_that_needs_a_multiple_is_found_out_by_running_it(tmp_path, monkeypatch, capsys):
    """A third-party export of a strided network: its size rule is probed (odd sides fail), so odd
    images are padded to it instead of refused with advice about re-exporting."""
    monkeypatch.chdir(tmp_path)
    model = translate_model(tmp_path / "plain.onnx", metadata=False, multiple=4)
    _img(tmp_path / "odd.png", 31, 45)
    assert main(["translate", str(model), "odd.png", "-o", "out", "--no-progress"]) == 0, capsys.readouterr().err
    with Image.open(tmp_path / "out" / "odd.png") as im:
        assert im.size == (45, 31)
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    assert "size:       multiple of 4, min 4" in capsys.readouterr().out


def test_a_model_without_metadata_that_needs_a_few_pixels_at_its_bottleneck_gets_them(tmp_path, monkeypatch, capfd):
    """A CycleGAN generator exported by someone else: reflection padding after its 4x down-sampling
    needs 2 px there, so 8 px in, not the multiple's 4 (a 1x1 image padded to 4x4 failed inside
    ONNX Runtime, which printed its own log line too)."""
    torch = pytest.importorskip("torch")
    from gantrans_plugins.networks.resnet import ResnetGenerator

    monkeypatch.chdir(tmp_path)
    net = ResnetGenerator(3, 3, ngf=4, n_blocks=1).eval()
    model = tmp_path / "bottleneck.onnx"
    torch.onnx.export(net, torch.zeros(1, 3, 16, 16), model, input_names=["x"], output_names=["y"], dynamo=False,
                      dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n", 2: "h", 3: "w"}})
    assert main(["info", str(model)]) == 0
    assert "size:       multiple of 4, min 8" in capfd.readouterr().out
    _img(tmp_path / "one.png", 1, 1)
    assert main(["translate", str(model), "one.png", "-o", "out", "--no-progress"]) == 0
    said = capfd.readouterr()  # the file descriptors: ONNX Runtime logs from C++
    assert "onnxruntime" not in said.err and "1x1, below this model's 8 px minimum" in said.out + said.err
    with Image.open(tmp_path / "out" / "one.png") as im:
        assert im.size == (1, 1)


def test_a_folder_where_an_output_would_go_is_said_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = translate_model(tmp_path / "m.onnx")
    _img(tmp_path / "a.png")
    (tmp_path / "out" / "a.png").mkdir(parents=True)
    for extra in ([], ["--overwrite"]):
        assert main(["translate", str(model), "a.png", "-o", "out", *extra]) == 1
        assert f"{Path('out') / 'a.png'}: a folder stands where the output image of a.png would go" in \
            capsys.readouterr().err
