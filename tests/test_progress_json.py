"""``--progress json`` on every long command, each stream validated against docs/progress-json.schema.json:
successes, failures and cancels (train and export streams are in test_jobs.py)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from stream_check import check_stream

from gantrans.jobs import Job
from gantrans.runs import RunDir

sys.path.insert(0, str(Path(__file__).parent))
from onnx_models import generator_model, translate_model  # noqa: E402


def run_job(args: list[str], cwd: Path, env: dict | None = None, **check) -> tuple[int, list[dict], Job]:
    job = Job(args, cwd=cwd, env=env).start()
    code = job.wait(timeout=300)
    assert not job.stray_lines, job.stray_lines  # nothing but events on stdout
    data = check_stream(job.received, code, **check)
    return code, data, job


def kinds(data: list[dict]) -> list[str]:
    return [d["event"] for d in data]


def _img(path: Path, size: int = 24, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def test_translate_stream_with_a_bad_file(tmp_path):
    model = translate_model(tmp_path / "m.onnx", kernel=3)
    for k in range(3):
        _img(tmp_path / "in" / f"{k}.png", seed=k)
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    code, data, _ = run_job(["translate", str(model), str(tmp_path / "in"), "-o", str(tmp_path / "out")], tmp_path,
                            command="translate")
    assert code == 1
    assert (data[0]["total"], data[0]["unit"]) == (4, "image")
    assert [d["done"] for d in data if d["event"] == "progress"][-1] == 4
    [warning] = [d["text"] for d in data if d["event"] == "warning"]
    assert "broken.png" in warning
    result = next(d for d in data if d["event"] == "result")
    assert sorted(Path(f).name for f in result["files"]) == ["0.png", "1.png", "2.png"]
    assert (result["figures"]["written"], result["figures"]["failed"]) == (3, 1)
    [failed] = result["failed"]
    assert Path(failed["file"]).name == "broken.png" and "broken.png" in failed["error"]
    assert kinds(data).index("warning") < kinds(data).index("result")  # the failure first, then what counts it
    assert kinds(data)[-2:] == ["error", "done"] and "1 file(s) failed" in data[-2]["message"]
    assert any(d["event"] == "message" and "3 written to" in d["text"] for d in data)


def test_a_message_before_the_totals_still_says_what_is_counted(tmp_path):
    model = translate_model(tmp_path / "m.onnx", kernel=3)
    _img(tmp_path / "in" / "a.png")
    _img(tmp_path / "in" / "sub" / "b.png", seed=1)  # "1 sub-folder(s) not entered" comes before the totals
    code, data, _ = run_job(["translate", str(model), str(tmp_path / "in"), "-o", str(tmp_path / "out")], tmp_path,
                            command="translate")
    assert code == 0 and data[0]["total"] is None and data[1]["event"] == "message"
    first = next(d for d in data if d["event"] == "progress")
    assert (first["total"], first["unit"]) == (1, "image")


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_translate_cancel_stops_after_the_current_image(tmp_path, sig, code):
    model = translate_model(tmp_path / "m.onnx", kernel=3)
    n = 300
    for k in range(n):
        _img(tmp_path / "in" / f"{k:03d}.png", size=96, seed=k)
    job = Job(["translate", str(model), str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--workers", "1",
               "--threads", "1"], cwd=tmp_path).start()
    for ev in job.events():
        if ev.event == "progress" and ev.data["done"] >= 2:
            job.process.send_signal(sig)
            break
    assert job.wait(timeout=120) == code
    data = check_stream(job.received, code, command="translate")
    result = next(d for d in data if d["event"] == "result")
    assert result["figures"]["cancelled"] is True and 2 <= result["figures"]["written"] < n
    written = sorted((tmp_path / "out").glob("*.png"))
    assert sorted(str(p) for p in written) == sorted(result["files"])
    for path in written:  # every file written whole
        with Image.open(path) as im:
            im.load()
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_generate_stream_and_a_failing_generate(tmp_path):
    gen = generator_model(tmp_path / "c.onnx", class_names=["cat", "dog"], size=8)
    code, data, _ = run_job(["generate", str(gen), "-n", "5", "--seed", "1", "--batch", "2", "-o",
                             str(tmp_path / "g")], tmp_path, command="generate")
    assert code == 0 and (data[0]["total"], data[0]["unit"]) == (5, "image")
    assert [d["done"] for d in data if d["event"] == "progress"][-1] == 5
    result = next(d for d in data if d["event"] == "result")
    assert len(result["files"]) == 5 and all(Path(f).is_file() for f in result["files"])
    code, data, _ = run_job(["generate", str(gen), "-n", "2", "--class", "fish"], tmp_path, command="generate")
    assert code == 1 and "cat, dog" in data[-2]["message"]


def test_data_make_stream_and_failure(tmp_path):
    code, data, _ = run_job(["data", "make", "smileys", str(tmp_path / "d")], tmp_path, command="data make")
    assert code == 0
    result = next(d for d in data if d["event"] == "result")
    assert result["files"] == [str(tmp_path / "d")] and result["figures"]["images"] == 256
    code, data, _ = run_job(["data", "make", "nosuch", str(tmp_path / "e")], tmp_path, command="data make")
    assert code == 1 and kinds(data) == ["start", "error", "done"] and "nosuch" in data[1]["message"]


def test_bench_streams(tmp_path):
    code, data, _ = run_job(["bench", "train", "vanilla", "--crop", "32", "--steps", "2", "--warmup", "1",
                             "--device", "cpu", "--precision", "fp32", "--threads", "1", "-o", "ngf=4",
                             "-o", "ndf=4", "--json"], tmp_path, command="bench train")
    assert code == 0 and (data[0]["total"], data[0]["unit"]) == (3, "step")
    assert [d["done"] for d in data if d["event"] == "progress"][-1] == 3
    result = next(d for d in data if d["event"] == "result")
    assert result["figures"]["steps"] == 2 and result["figures"]["median_s_per_it"] > 0
    model = translate_model(tmp_path / "m.onnx", kernel=3)
    code, data, _ = run_job(["bench", "infer", str(model), "--size", "32", "--runs", "2", "--warmup", "1"],
                            tmp_path, command="bench infer")
    assert code == 0 and data[0]["unit"] == "backend"
    result = next(d for d in data if d["event"] == "result")
    assert result["figures"]["results"][0]["backend"] == "onnxruntime-fp32"


def test_import_stream_writes_a_run_with_status(reference_dir, tmp_path):
    name = "G_resnet_6blocks_ngf8_instance"
    code, data, _ = run_job(["import", str(reference_dir / f"{name}.pth"), "--runs-dir", str(tmp_path / "runs")],
                            tmp_path, command="import")
    assert code == 0
    run = tmp_path / "runs" / name
    result = next(d for d in data if d["event"] == "result")
    assert result["files"][0] == str(run) and result["run"] == str(run)
    status = RunDir(run).status()
    assert (status.state, status.step, status.recipe, status.last_checkpoint["file"]) == \
        ("finished", 0, "cyclegan", "latest.pt")
    assert [(c.name, c.step) for c in RunDir(run).checkpoints()] == [("latest.pt", 0)]


def test_failing_export_plugins_and_usage_streams(tmp_path):
    code, data, _ = run_job(["export", str(tmp_path / "nothing")], tmp_path, command="export")
    assert code == 1 and kinds(data) == ["start", "error", "done"] and "nothing" in data[1]["message"]
    code, data, _ = run_job(["plugins", "uninstall", "no-such-plugin-xyz"], tmp_path, command="plugins uninstall")
    assert code == 1 and "no-such-plugin-xyz" in data[-2]["message"]
    code, data, job = run_job(["plugins", "install", str(tmp_path / "missing-plugin"), "--pip-arg=--no-index"],
                              tmp_path, command="plugins install")
    assert code == 1 and "pip failed" in data[-2]["message"]
    assert (data[0]["total"], data[0]["unit"]) == (1, "package")
    assert any("missing-plugin" in d["text"] for d in data if d["event"] == "message")  # pip's words, as events
    code, data, _ = run_job(["translate", "m.onnx", "x.png", "--bogus-flag"], tmp_path, command="translate")
    assert code == 2 and "unrecognized arguments: --bogus-flag" in data[-2]["message"]


def test_a_missing_extra_is_an_error_event_naming_what_to_install(tmp_path, torch_hidden_from_children):
    """A translate-only install: the GUI's New training form starts 'gantrans train', and the
    stream must say why it stopped, not only its exit code."""
    code, data, _ = run_job(["train", "cyclegan", "--data", "shapes", "--name", "t"], tmp_path,
                            command="train")
    assert code == 1 and kinds(data)[-2:] == ["error", "done"]
    assert data[-2]["message"] == "'gantrans train' needs torch, which is not installed: pip install 'gantrans[train]'"


def test_runs_list_and_show(tmp_path, capsys):
    from gantrans import runs as R
    from gantrans.cli.main import main

    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    R.write_config(run, {"recipe": "cyclegan", "data": "shapes"})
    writer = R.StatusWriter(run)
    writer.update(force=True, state="running", step=5, total_steps=10, epoch=1, total_epochs=2, recipe="cyclegan",
                  data="shapes", eta_s=65.0)
    latest = R.latest_checkpoint(run)
    latest.parent.mkdir()
    latest.write_bytes(b"x")
    R.write_checkpoint_summary(latest, step=5, epoch=1, losses={"G": 0.5})
    (tmp_path / "e.onnx").write_bytes(b"x")
    R.record_export(run, tmp_path / "e.onnx", head="A2B", direction="A2B", parity=1e-6)
    (tmp_path / "gone.onnx").write_bytes(b"x")
    R.record_export(run, tmp_path / "gone.onnx", head="B2A", int8=True, psnr=35.5)
    (tmp_path / "gone.onnx").unlink()

    assert main(["runs", "list", "--runs-dir", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "r1" in out and "running" in out and "5/10" in out and "1:05" in out
    assert main(["runs", "list", "--runs-dir", str(tmp_path / "runs"), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in listed["runs"]] == ["r1"] and listed["runs"][0]["status"]["step"] == 5
    assert main(["runs", "show", "r1", "--runs-dir", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "latest.pt" in out and "step 5, epoch 1" in out and "[MISSING]" in out and "PSNR 35.50" in out
    assert main(["runs", "show", str(run), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"]["state"] == "running" and shown["config"]["recipe"] == "cyclegan"
    assert [e["missing"] for e in shown["exports"]] == [False, True]
    assert shown["checkpoints"][0]["losses"] == {"G": 0.5}
    assert main(["runs", "show", "nope", "--runs-dir", str(tmp_path / "runs")]) == 1
    assert "nope: no such run" in capsys.readouterr().err


def test_a_failing_json_command_still_prints_a_json_document(tmp_path, monkeypatch, capsys):
    from gantrans.cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(["runs", "list", "--json"]) == 0  # before the first training: no runs, as the text says
    assert json.loads(capsys.readouterr().out) == {"runs_dir": "runs", "runs": []}
    for argv in (["runs", "show", "nope", "--json"], ["plugins", "show", "nope", "--json"],
                 ["data", "info", "not-here", "--json"], ["info", str(_img(tmp_path / "x.png")), "--json"]):
        assert main(argv) == 1, argv
        out, err = capsys.readouterr()
        document = json.loads(out)
        assert document["exit_code"] == 1 and document["error"] in err, argv
    assert main(["runs", "show", "nope"]) == 1 and capsys.readouterr().out == ""  # text mode: stdout stays empty


@pytest.mark.slow
def test_plugins_install_and_uninstall_streams(tmp_path):
    """A real install and uninstall in a throw-away venv that sees this interpreter's packages."""
    import shutil
    import site
    import subprocess

    from stream_check import parse_lines

    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GANTRANS_"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), *args], capture_output=True, text=True, env=env, timeout=300)

    purelib = Path(run("-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    (purelib / "_gantrans_test_parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    assert run("-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-e",
               str(root)).returncode == 0
    src = tmp_path / "example_plugin"
    shutil.copytree(Path(__file__).parent / "example_plugin", src)
    proc = run("-m", "gantrans", "plugins", "install", str(src), "--pip-arg=--no-build-isolation",
               "--pip-arg=--no-index", "--pip-arg=--no-deps", "-v", "--progress", "json")  # deps: all here
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = check_stream(parse_lines(proc.stdout), 0, "plugins install")
    texts = [d["text"] for d in data if d["event"] == "message"]
    assert any("Successfully installed gantrans-onesided" in t for t in texts)  # pip's own words, with -v
    result = next(d for d in data if d["event"] == "result")
    assert [p["name"] for p in result["figures"]["new_plugins"]] == ["onesided"]
    proc = run("-m", "gantrans", "plugins", "uninstall", "onesided", "--progress", "json")
    data = check_stream(parse_lines(proc.stdout), 0, "plugins uninstall")
    assert next(d for d in data if d["event"] == "result")["figures"]["removed"] == ["gantrans-onesided"]


def test_json_mode_keeps_stdout_clean_and_turns_gantrans_warnings_into_events():
    import subprocess
    import textwrap

    from stream_check import parse_lines

    code = textwrap.dedent("""
        import os, subprocess, sys, warnings
        from gantrans import console, events
        from gantrans.data.formats import DataWarning
        rep = events.enable_json("demo")
        print("stray print")                                   # goes to stderr
        os.write(1, b"raw fd write\\n")                        # so does fd 1 itself
        subprocess.run([sys.executable, "-c", "print('child output')"])
        warnings.warn("a.png: not an image; skipped", DataWarning)
        warnings.warn("some library noise", DeprecationWarning)
        console.message("two\\nlines")
        rep.done(0)
        events.disable_json()
        print("after")                                          # stdout is back
    """)
    proc = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    *events_, after = proc.stdout.splitlines()
    data = check_stream(parse_lines("\n".join(events_)), 0, "demo")
    assert after == "after"
    assert [(d["event"], d.get("text")) for d in data[1:-1]] == [
        ("warning", "a.png: not an image; skipped"), ("message", "two lines")]
    for text in ("stray print", "raw fd write", "child output", "some library noise"):
        assert text in proc.stderr


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_any_long_command_cancels_with_done(tmp_path, sig, code):
    """Outside training and translate (which stop between items), a signal still ends the stream with done."""
    model = translate_model(tmp_path / "m.onnx", kernel=3)
    job = Job(["bench", "infer", str(model), "--size", "64", "--runs", "1000000", "--warmup", "0"],
              cwd=tmp_path).start()
    for ev in job.events():
        if ev.event == "start":
            job.process.send_signal(sig)
            break
    assert job.wait(timeout=60) == code
    data = check_stream(job.received, code, command="bench infer")
    assert "result" not in kinds(data)


def test_sigint_cancels_even_when_the_parent_ignores_it(tmp_path):
    """A GUI or script started in the background ('&' in a shell) ignores SIGINT, and its
    children inherit that; the machine-driven CLI must still take SIGINT as the cancel."""
    import subprocess

    from gantrans.jobs import command_argv

    model = translate_model(tmp_path / "m.onnx", kernel=3)
    argv = command_argv(["bench", "infer", str(model), "--size", "64", "--runs", "100000", "--warmup", "0"])
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # noqa: PLW1509
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if json.loads(line).get("event") == "start":
            proc.send_signal(signal.SIGINT)
            break
    lines += proc.stdout.readlines()
    assert proc.wait(timeout=60) == 130
    assert json.loads(lines[-1])["event"] == "done"


def test_a_tiled_image_reports_its_tiles(tmp_path, monkeypatch, capfd):
    """A program driving a long tiled translation sees it move, not one image at 0 of 1 for minutes."""
    from gantrans import events
    from gantrans.cli.main import main

    monkeypatch.setattr(events.JsonReporter.__init__, "__defaults__", (None, 0.0))  # every event, not ~5/s
    model = translate_model(tmp_path / "m.onnx", kernel=3)
    _img(tmp_path / "big.png", size=96)
    assert main(["translate", str(model), str(tmp_path / "big.png"), "-o", str(tmp_path / "out"), "--tile", "32",
                 "--tile-overlap", "8", "--progress", "json"]) == 0
    data = check_stream([json.loads(line) for line in capfd.readouterr().out.splitlines()], 0, command="translate")
    tiles = [(d["tiles_done"], d["tiles_total"]) for d in data if "tiles_done" in d]
    assert tiles and tiles[-1][0] == tiles[-1][1] > 1 and [t for t, _ in tiles] == sorted(t for t, _ in tiles)


@pytest.mark.skipif(sys.platform == "win32", reason="file names there are always Unicode")
def test_events_naming_a_file_whose_name_is_not_utf8_are_kept_and_give_the_name_back(tmp_path):
    """Such an event failed to encode and was dropped as if the reader had gone: no ``result``."""
    model = os.fsdecode(os.fsencode(tmp_path) + b"/mod\xe9le.onnx")  # ORT's constructor refused such a path
    translate_model(Path(model), kernel=3)
    folder = tmp_path / "in"
    folder.mkdir()
    good, bad = os.fsencode(folder) + b"/caf\xe9.png", os.fsencode(folder) + b"/bad\xe9.png"
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(os.fsdecode(good))
    with open(bad, "wb") as fh:
        fh.write(b"not an image")
    code, data, _ = run_job(["translate", str(model), str(folder), "-o", str(tmp_path / "out")], tmp_path,
                            command="translate")
    assert code == 1
    result = next(d for d in data if d["event"] == "result")
    assert [os.fsencode(Path(f).name) for f in result["files"]] == [b"caf\xe9.png"]  # the bytes, exactly
    assert [os.fsencode(Path(f["file"]).name) for f in result["failed"]] == [b"bad\xe9.png"]


def test_json_mode_with_stdout_closed_still_does_the_work(tmp_path):
    import subprocess

    model = translate_model(tmp_path / "m.onnx", kernel=3)
    image = _img(tmp_path / "a.png")
    proc = subprocess.run([sys.executable, "-m", "gantrans", "translate", str(model), str(image), "-o",
                           str(tmp_path / "out"), "--progress", "json"], preexec_fn=lambda: os.close(1),
                          stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "a.png").is_file() and "Traceback" not in proc.stderr


def test_a_cancel_after_done_keeps_the_exit_code_done_announced(tmp_path):
    """The interpreter takes a moment to exit after ``done``; a SIGTERM then made it 143 after a
    stream that said 0."""
    model = translate_model(tmp_path / "m.onnx", kernel=3)
    job = Job(["translate", str(model), str(_img(tmp_path / "a.png")), "-o", str(tmp_path / "out")],
              cwd=tmp_path).start()
    for event in job.events():
        if event.event == "done":
            break
    # cancels all through the exit, interpreter teardown included (where a Python handler no
    # longer runs and a signal that is not ignored kills the process)
    while job.process.poll() is None:
        job.process.send_signal(signal.SIGTERM)
        time.sleep(0.0005)
    assert job.wait(timeout=60) == job.exit_code == 0
