"""``gantrans.jobs`` driving real ``gantrans train`` / ``export`` child processes, while a reader tails the
run directory through ``gantrans.runs`` (as the GUI does), at 32 px for a few steps."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from stream_check import check_stream

from gantrans.jobs import Job, JobEvent, command_argv, parse_event
from gantrans.runs import RunDir

FIXTURES = Path(__file__).resolve().parent / "trainer_fixtures.py"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Built-in data written once for the module; status.json rewritten at least every 0.1 s."""
    return {**os.environ, "GANTRANS_DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "GANTRANS_STATUS_INTERVAL": "0.1", "OMP_NUM_THREADS": "1"}


def train_args(tmp_path: Path, name: str, *extra: str) -> list[str]:
    return ["train", "vanilla", "--data", "smileys", "--runs-dir", str(tmp_path / "runs"), "--name", name,
            "--crop-size", "32", "--max-items", "8", "--batch-size", "4", "--workers", "0", "--device", "cpu",
            "--precision", "fp32", "--samples", "2", "--no-tensorboard", "--log-every", "1", "--threads", "1",
            *extra]


def drain_in_background(job: Job) -> threading.Thread:
    thread = threading.Thread(target=lambda: list(job.events()), daemon=True)
    thread.start()
    return thread


def wait_for(predicate, timeout: float = 120.0, job: Job | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if job is not None and job.process.poll() is not None:
            pytest.fail(f"job ended early ({job.process.returncode}): {list(job.stderr_lines)[-20:]}")
        time.sleep(0.03)
    pytest.fail("timed out")


def test_command_argv_and_parse_event():
    argv = command_argv(["translate", "m.onnx", "a.png"])
    assert argv[:3] == [sys.executable, "-m", "gantrans"] and argv[3:] == ["translate", "m.onnx", "a.png",
                                                                          "--progress", "json"]
    assert command_argv(["x", "--", "-odd"])[3:] == ["x", "--progress", "json", "--", "-odd"]
    ev = parse_event('{"v": 1, "event": "progress", "done": 3, "total": 10}\n')
    assert ev == JobEvent("progress", {"v": 1, "event": "progress", "done": 3, "total": 10})
    assert ev.get("done") == 3 and parse_event(b'{"v": 1, "event": "done", "exit_code": 0}').event == "done"
    for junk in ("", "hello", "[1, 2]", '{"event": "x"}', '{"v": 1}', "{torn"):
        assert parse_event(junk) is None


def test_a_reader_tails_a_live_training_then_lists_its_exports(tmp_path, env):
    run = tmp_path / "runs" / "live"
    job = Job(train_args(tmp_path, "live", "--max-steps", "30"), cwd=tmp_path, env=env).start()
    events = drain_in_background(job)
    states, steps, rows, offsets, offset = [], [], [], [], 0
    while job.process.poll() is None or events.is_alive():
        if (run / "status.json").is_file():
            reader = RunDir(run)
            status = reader.status()
            states.append(status.state)
            steps.append(status.step)
            new, offset = reader.metrics(offset)
            rows += new
            offsets.append(offset)
        time.sleep(0.02)
    assert job.wait() == 0, list(job.stderr_lines)[-20:]
    reader = RunDir(run)
    status = reader.status()
    new, offset = reader.metrics(offset)
    rows += new
    assert "running" in states and status.state == "finished"
    first_finished = states.index("finished") if "finished" in states else len(states)
    assert set(states[:first_finished]) <= {"starting", "running"} and set(states[first_finished:]) <= {"finished"}
    assert steps == sorted(steps) and status.step == 30 and len(set(steps)) > 3  # seen growing, live
    assert offsets == sorted(offsets) and [r["step"] for r in rows] == list(range(1, 31))
    assert (status.total_steps, status.recipe, status.data, status.device, status.precision) == \
        (30, "vanilla", "smileys", "cpu", "fp32")
    assert status.pid == job.process.pid and status.images_per_s > 0 and status.eta_s == 0
    assert status.last_checkpoint["file"] == "latest.pt" and status.last_checkpoint["step"] == 30
    ckpts = reader.checkpoints()
    assert ckpts[-1].name == "latest.pt" and ckpts[-1].step == 30 and set(ckpts[-1].losses) == \
        {"D_real", "D_fake", "G_adv"}
    assert not job.stray_lines
    data = check_stream(job.received, 0, "train")
    progress = [d for d in data if d["event"] == "progress"]
    assert progress[-1]["done"] == 30 and progress[-1]["total"] == 30 and progress[-1]["losses"]
    result = next(d for d in data if d["event"] == "result")
    assert result["figures"]["steps"] == 30 and str(run) in result["files"]

    out = tmp_path / "exports"
    export = Job(["export", str(run), "--out", str(out), "--opset", "17"], cwd=tmp_path, env=env)
    export.start()
    assert export.wait() == 0, list(export.stderr_lines)[-20:]
    data = check_stream(export.received, 0, "export")
    assert data[0]["total"] == 1 and data[0]["unit"] == "file" and not export.stray_lines
    result = next(d for d in data if d["event"] == "result")
    assert result["files"] == [str(out / "live_G.onnx")]
    assert 0 <= result["figures"]["parity_max_abs_diff"][str(out / "live_G.onnx")] < 1e-4
    records = RunDir(run).exports()
    assert [(r.path, r.head, r.int8, r.missing, r.step) for r in records] == \
        [((out / "live_G.onnx").resolve(), "G", False, False, 30)]
    assert records[0].parity == result["figures"]["parity_max_abs_diff"][str(out / "live_G.onnx")]
    (out / "live_G.onnx").unlink()
    assert RunDir(run).exports()[0].missing


def test_kill_9_during_training_reads_interrupted(tmp_path, env):
    run = tmp_path / "runs" / "killed"
    job = Job(train_args(tmp_path, "killed", "--max-steps", "100000"), cwd=tmp_path, env=env).start()
    drain_in_background(job)
    wait_for(lambda: (run / "status.json").is_file() and RunDir(run).status().step >= 3, job=job)
    assert RunDir(run).status().state == "running"
    job.process.kill()
    job.wait()
    status = RunDir(run).status()
    assert (status.state, status.recorded_state) == ("interrupted", "running")
    assert status.step >= 3 and status.eta_s is None and "killed" in status.reason
    assert job.exit_code is None  # no done event: the process could not say anything


def test_cancel_saves_a_checkpoint_and_reports_done_130(tmp_path, env):
    run = tmp_path / "runs" / "cancelled"
    job = Job(train_args(tmp_path, "cancelled", "--max-steps", "100000", "--checkpoint-every", "100000"),
              cwd=tmp_path, env=env).start()
    for ev in job.events():
        if ev.event == "progress" and ev.data["done"] >= 3:
            job.cancel()
            break
    assert job.wait() == 130
    data = check_stream(job.received, 130, "train")
    assert any("interrupted at step" in d.get("text", "") for d in data if d["event"] == "message")
    result = next(d for d in data if d["event"] == "result")
    assert result["figures"]["interrupted"] is True and result["files"][1].endswith("latest.pt")
    status = RunDir(run).status()
    assert (result["figures"]["epochs"], result["figures"]["skipped_batches"]) == (status.epoch, 0)
    latest = RunDir(run).checkpoints()[-1]
    assert status.state == "interrupted" and "--resume" in status.reason
    assert latest.name == "latest.pt" and latest.step == status.step == status.last_checkpoint["step"] >= 3
    rows, _ = RunDir(run).metrics()
    assert rows[-1]["step"] == status.step

    # resuming appends: what a viewer read stays valid, and the status counts the resume
    _, offset = RunDir(run).metrics()
    job = Job(["train", "--resume", str(run), "--max-steps", str(status.step + 2)], cwd=tmp_path, env=env)
    job.start()
    assert job.wait() == 0, list(job.stderr_lines)[-20:]
    new, _ = RunDir(run).metrics(offset)
    assert [r["step"] for r in new] == [status.step + 1, status.step + 2]
    resumed = RunDir(run).status()
    assert resumed.state == "finished" and resumed.resumes[-1]["step"] == status.step
    assert check_stream(job.received, 0, "train")[0]["initial"] == status.step


def test_failing_runs_report_error_and_done(tmp_path, env):
    job = Job(train_args(tmp_path, "nodata")[:2] + ["--data", str(tmp_path / "missing")], cwd=tmp_path, env=env)
    job.start()
    assert job.wait() == 1
    data = check_stream(job.received, 1, "train")
    assert [d["event"] for d in data][-2:] == ["error", "done"] and "missing" in data[-2]["message"]
    job = Job(["train", "vanilla", "--epochs", "x"], cwd=tmp_path, env=env).start()
    assert job.wait() == 2
    data = check_stream(job.received, 2)
    assert "invalid int value" in data[-2]["message"]


def test_a_non_finite_stop_reads_stopped_nonfinite(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = ["tinygan", "--data", "mem:16", "--runs-dir", str(tmp_path), "--name", "nan", "--crop-size", "32",
            "--batch-size", "4", "--workers", "0", "--device", "cpu", "--precision", "fp32", "--log-every", "1",
            "--no-tensorboard", "--samples", "2", "--max-steps", "8", "-o", "nan_at=3", "--progress", "json"]
    proc = subprocess.run([sys.executable, str(FIXTURES), *args], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    data = check_stream([parse_event(line) for line in proc.stdout.splitlines()], 1, "train")
    assert "is nan; stopped" in data[-2]["message"]
    status = RunDir(tmp_path / "nan").status()
    assert status.state == "stopped-nonfinite" and status.step == 2 and status.reason == data[-2]["message"]

