"""``gantrans.runs``: the run directory's readers and writers, torch-free, on hand-made run folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from gantrans import runs as R
from gantrans.errors import CheckpointError
from gantrans.runs import RunDir, list_runs


def make_run(tmp_path, name="r", **config):
    run = tmp_path / name
    run.mkdir(parents=True)
    R.write_config(run, {"recipe": "tinygan", "data": "mem:16", **config})
    return run


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_importing_runs_and_jobs_loads_no_torch_and_no_qt():
    code = ("import sys\nimport gantrans.runs, gantrans.jobs, gantrans.events, gantrans.console\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'numpy', 'onnx')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_metrics_are_tailed_by_offset_and_a_torn_line_is_not_consumed(tmp_path):
    run = RunDir(make_run(tmp_path))
    assert run.metrics() == ([], 0)
    file = run.path / R.METRICS_FILE
    writer = R.MetricsWriter(run.path)
    writer.log({"step": 1, "G": 0.5})
    writer.log({"step": 2, "G": float("nan")})
    rows, offset = run.metrics()
    assert [r["step"] for r in rows] == [1, 2] and rows[1]["G"] == "nan"
    assert offset == file.stat().st_size
    assert run.metrics(offset) == ([], offset)
    with file.open("a") as fh:  # a writer caught mid-line
        fh.write('{"step": 3, "G"')
    assert run.metrics(offset) == ([], offset)
    with file.open("a") as fh:
        fh.write(': 0.25}\n')
    rows, offset2 = run.metrics(offset)
    assert rows == [{"step": 3, "G": 0.25}] and offset2 == file.stat().st_size
    first, at = run.metrics(0, max_bytes=len('{"step": 1, "G": 0.5}\n') + 5)  # a bounded catch-up read
    assert [r["step"] for r in first] == [1]
    rest, end = run.metrics(at)
    assert [r["step"] for r in rest] == [2, 3] and end == offset2
    offset, steps = 0, []
    for _ in range(4):  # a bound shorter than a row still reads one row a call: no reader stuck at 0
        rows, offset = run.metrics(offset, max_bytes=5)
        steps += [r["step"] for r in rows]
    assert steps == [1, 2, 3] and offset == offset2
    writer.close()


def test_a_resume_appends_so_a_viewer_offset_stays_valid(tmp_path):
    run = RunDir(make_run(tmp_path))
    writer = R.MetricsWriter(run.path)
    for step in range(1, 6):
        writer.log({"step": step, "G": float(step)})
    writer.close()
    with (run.path / R.METRICS_FILE).open("a") as fh:
        fh.write('{"step": 6, "G"')  # killed mid-write
    seen, offset = run.metrics()
    size_before = (run.path / R.METRICS_FILE).stat().st_size
    R.mark_resume(run.path, 3)  # the checkpoint was at step 3
    writer = R.MetricsWriter(run.path)
    for step in range(4, 8):
        writer.log({"step": step, "G": step * 10.0})
    writer.close()
    assert (run.path / R.METRICS_FILE).stat().st_size > size_before  # only ever grows
    new, _ = run.metrics(offset)
    assert [r["step"] for r in seen] == [1, 2, 3, 4, 5]
    assert [r["step"] for r in new] == [4, 5, 6, 7]  # redone steps replace what the viewer holds
    by_step = {r["step"]: r for r in seen + new}
    assert [by_step[s]["G"] for s in range(1, 8)] == [1.0, 2.0, 3.0, 40.0, 50.0, 60.0, 70.0]
    full, _ = run.metrics()  # one read from the start: each step once, in order
    assert [(r["step"], r["G"]) for r in full] == [(s, by_step[s]["G"]) for s in range(1, 8)]


def test_status_of_a_live_run_whose_process_is_gone_reads_interrupted(tmp_path):
    run = RunDir(make_run(tmp_path))
    writer = R.StatusWriter(run.path, interval=60)
    writer.update(force=True, state="running", step=7, total_steps=20, eta_s=3.0)
    status = run.status()
    assert (status.state, status.step, status.total_steps, status.pid) == ("running", 7, 20, os.getpid())
    writer.update(step=8)  # within the interval: not written
    assert run.status().step == 7
    writer.update(step=9, force=True)
    assert run.status().step == 9
    data = json.loads((run.path / R.STATUS_FILE).read_text())
    data["pid"] = dead_pid()
    (run.path / R.STATUS_FILE).write_text(json.dumps(data))
    status = run.status()
    assert status.state == "interrupted" and status.recorded_state == "running" and status.eta_s is None
    assert "ended without saying so" in status.reason
    assert status.as_dict()["state"] == "interrupted"
    data["pid"], data["pid_started"] = os.getpid(), (R.process_start_time(os.getpid()) or 0) + 1
    (run.path / R.STATUS_FILE).write_text(json.dumps(data))
    if R.process_start_time(os.getpid()) is not None:  # a reused pid is not the training process
        assert run.status().state == "interrupted"
    writer.finish("failed", reason="boom")
    data = json.loads((run.path / R.STATUS_FILE).read_text())
    data["pid"] = dead_pid()
    (run.path / R.STATUS_FILE).write_text(json.dumps(data))
    assert (run.status().state, run.status().reason) == ("failed", "boom")  # final states stay
    with pytest.raises(ValueError):
        writer.finish("exploded")


def test_status_without_a_status_file_and_a_garbled_one(tmp_path):
    run = RunDir(make_run(tmp_path))
    assert run.status().state == "interrupted"  # no checkpoint either
    ckpt = R.latest_checkpoint(run.path)
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"weights")
    R.write_checkpoint_summary(ckpt, step=12, epoch=3, losses={"G": 0.5})
    status = run.status()
    assert (status.state, status.step, status.epoch, status.recipe) == ("finished", 12, 3, "tinygan")
    (run.path / R.STATUS_FILE).write_text("{not json")
    assert run.status().state == "finished"
    (run.path / R.STATUS_FILE).write_text(json.dumps({"state": "weird"}))
    assert run.status().state == "failed" and "weird" in run.status().reason


def test_checkpoint_summaries_list_without_torch(tmp_path):
    run = RunDir(make_run(tmp_path))
    folder = R.checkpoints_dir(run.path)
    folder.mkdir()
    for epoch in (1, 2):
        (folder / R.epoch_checkpoint_name(epoch)).write_bytes(b"x")
    latest = R.latest_checkpoint(run.path)
    latest.write_bytes(b"x")
    R.write_checkpoint_summary(latest, step=20, epoch=2, losses={"G_gan": 0.25, "D": 1})
    R.copy_checkpoint_summary(latest, folder / R.epoch_checkpoint_name(2))
    infos = run.checkpoints()
    assert [c.name for c in infos] == ["epoch_0001.pt", "epoch_0002.pt", "latest.pt"]
    assert infos[0].step is None and infos[0].losses == {}  # no summary: still listed
    assert (infos[1].step, infos[1].epoch, infos[2].losses) == (20, 2, {"G_gan": 0.25, "D": 1.0})
    assert json.loads((folder / "epoch_0002.json").read_text())["file"] == "epoch_0002.pt"
    assert infos[2].time and infos[2].as_dict()["name"] == "latest.pt"
    R.remove_checkpoint(folder / "epoch_0002.pt")
    assert not (folder / "epoch_0002.json").exists()
    assert [c.name for c in run.checkpoints()] == ["epoch_0001.pt", "latest.pt"]


def test_exports_are_listed_and_moved_or_deleted_files_are_marked(tmp_path):
    project = tmp_path / "project"
    run = RunDir(make_run(project / "runs", "r"))
    out = project / "exports"
    out.mkdir()
    for name in ("r_A2B.onnx", "r_A2B.int8.onnx", "r_B2A.onnx"):
        (out / name).write_bytes(b"onnx")
    R.record_export(run.path, out / "r_A2B.onnx", head="A2B", direction="A2B", parity=1e-6, task="translate")
    R.record_export(run.path, out / "r_A2B.int8.onnx", head="A2B", direction="A2B", int8=True, psnr=41.5)
    R.record_export(run.path, out / "r_B2A.onnx", head="B2A", direction="B2A", parity=2e-6)
    R.record_export(run.path, out / "r_B2A.onnx", head="B2A", direction="B2A", parity=3e-6)  # re-export
    records = run.exports()
    assert [(r.path.name, r.int8, r.missing) for r in records] == [
        ("r_A2B.onnx", False, False), ("r_A2B.int8.onnx", True, False), ("r_B2A.onnx", False, False)]
    assert records[1].psnr == 41.5 and records[2].parity == 3e-6 and records[0].time
    (out / "r_B2A.onnx").unlink()  # the user deleted one
    assert [r.missing for r in run.exports()] == [False, False, True]
    moved = tmp_path / "moved"
    os.rename(project, moved)  # the whole project folder moved: found through the relative path
    records = RunDir(moved / "runs" / "r").exports()
    assert [r.missing for r in records] == [False, False, True]
    assert records[0].path == (moved / "exports" / "r_A2B.onnx").resolve()
    (moved / "runs" / "r" / R.EXPORTS_FILE).write_text("[garbage")
    assert RunDir(moved / "runs" / "r").exports() == []


def test_list_runs_newest_first_and_not_a_run(tmp_path):
    a = make_run(tmp_path, "a")
    time.sleep(0.02)
    b = make_run(tmp_path, "b")
    os.utime(a / R.CONFIG_FILE, (time.time() - 100, time.time() - 100))
    (tmp_path / "junk").mkdir()
    assert [r.name for r in list_runs(tmp_path)] == ["b", "a"]
    assert list_runs(tmp_path / "nope") == []
    with pytest.raises(CheckpointError, match="not a gantrans run directory"):
        RunDir(tmp_path / "junk")
    assert R.run_dir_of(b / "checkpoints" / "latest.pt") == b
    assert R.run_dir_of(tmp_path / "junk" / "checkpoints" / "latest.pt") is None


def test_runs_py_is_the_only_module_that_names_the_run_files():
    from pathlib import Path

    import gantrans

    names = ('"config.json"', '"metrics.jsonl"', '"status.json"', '"exports.json"', '"latest.pt"',
             '"checkpoints"', '"epoch_{')
    root = Path(gantrans.__file__).parent
    offenders = [f"{p.relative_to(root)}: {n}" for p in root.rglob("*.py") if p.name != "runs.py"
                 for n in names if n in p.read_text(encoding="utf-8")]
    assert not offenders, offenders


def test_a_run_still_training_elsewhere_cannot_be_resumed(tmp_path):
    from gantrans.errors import ConfigError

    run = make_run(tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        R.StatusWriter(run).update(force=True, state="running", step=4)
        data = json.loads((run / R.STATUS_FILE).read_text())
        data["pid"], data["pid_started"] = other.pid, R.process_start_time(other.pid)
        (run / R.STATUS_FILE).write_text(json.dumps(data))
        with pytest.raises(ConfigError, match=f"being trained right now \\(process {other.pid}\\)"):
            R.mark_resume(run, 2)
        assert not (run / R.METRICS_FILE).exists()  # nothing written
    finally:
        other.kill()
        other.wait()
    R.mark_resume(run, 2)  # gone now: the resume goes ahead
    assert RunDir(run).status().state == "interrupted"


def test_concurrent_export_records_are_all_kept(tmp_path):
    run = make_run(tmp_path)
    code = ("import sys\nfrom gantrans import runs as R\n"
            "for k in range(15):\n"
            "    R.record_export(sys.argv[1], f'{sys.argv[2]}_{k}.onnx', head=sys.argv[2])\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(run), str(tmp_path / name)]) for name in "ab"]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert len(RunDir(run).exports()) == 30
    assert not list(run.glob(".*.lock"))


def _grid(run, name, sidecar):
    (run / "samples").mkdir(exist_ok=True)
    (run / "samples" / name).write_bytes(b"png")
    if sidecar is not None:
        (run / "samples" / name).with_suffix(".json").write_text(json.dumps(sidecar))


def test_sample_grids_are_listed_in_the_order_training_drew_them(tmp_path):
    run = make_run(tmp_path)
    _grid(run, "epoch_0001.png", {"rows": ["A", "fake B"], "step": 10})
    _grid(run, "epoch_0002.png", {"rows": ["A", "fake B"], "step": 20})
    _grid(run, "step_0000005.png", {"rows": ["A"], "step": 5})
    _grid(run, "step_0000015.png", None)  # a step grid's name says its step
    view = RunDir(run)
    assert [p.name for p in view.samples()] == ["step_0000005.png", "epoch_0001.png", "step_0000015.png",
                                                "epoch_0002.png"]
    assert view.sample_labels("epoch_0002.png") == ["A", "fake B"]
    assert view.sample_labels("step_0000015.png") == []
    # a sidecar rewritten is read again, not served from the cache
    _grid(run, "epoch_0002.png", {"rows": ["B"], "step": 20})
    os.utime(run / "samples" / "epoch_0002.json", ns=(1, 1))
    assert view.sample_labels("epoch_0002.png") == ["B"]


def test_sample_grids_without_recorded_steps_keep_name_order(tmp_path):
    run = make_run(tmp_path)
    _grid(run, "epoch_0001.png", {"rows": ["A"]})  # written before sidecars recorded steps
    _grid(run, "step_0000002.png", {"rows": ["A"]})
    _grid(run, "epoch_0002.png", "not a dict")
    assert [p.name for p in RunDir(run).samples()] == ["epoch_0001.png", "epoch_0002.png", "step_0000002.png"]
    assert RunDir(run).sample_labels("epoch_0002.png") == []


@pytest.mark.parametrize(("fields", "text"), [
    ({"state": "finished", "epoch": 0, "epoch_step": 50, "total_epochs": 1}, "1/1"),  # --max-steps mid-epoch
    ({"state": "finished", "epoch": 5, "epoch_step": 0, "total_epochs": 5}, "5/5"),
    ({"state": "interrupted", "epoch": 2, "epoch_step": 0, "total_epochs": 5}, "2/5"),  # at an epoch's end
    ({"state": "interrupted", "epoch": 2, "epoch_step": 3, "total_epochs": 5}, "3/5"),
    ({"state": "running", "epoch": 2, "epoch_step": 0, "total_epochs": 5}, "3/5"),  # the next one under way
    ({"state": "starting", "epoch": 0, "total_epochs": None}, "1"),
])
def test_the_epoch_shown_is_the_one_under_way_or_the_last_finished(fields, text):
    assert R.RunStatus.from_dict(fields).epoch_text() == text


def test_a_warning_before_the_totals_keeps_the_commands_unit_and_fields():
    """A data set warning before training starts: ``start`` names the command's unit, and the run
    folder and first step arrive with the totals in the next ``progress`` (docs/progress-json.md)."""
    import io

    from gantrans.events import JsonReporter

    out = io.StringIO()
    reporter = JsonReporter(out)
    reporter.expect("train", "step")
    reporter.warning("skipping u/trainA/bad.png: not an image")
    reporter.start("train", total=5, unit="step", run="runs/x", initial=0)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["start", "warning", "progress"]
    assert (events[0]["command"], events[0]["unit"], events[0]["total"]) == ("train", "step", None)
    assert (events[2]["total"], events[2]["run"], events[2]["initial"], events[2]["done"]) == (5, "runs/x", 0, 0)


def test_a_relative_data_path_is_found_from_wherever_the_run_is_read(tmp_path, monkeypatch):
    """``gantrans train --runs-dir demo/runs --data demo/data/d`` run in PROJECT: the GUI (or any
    command) working elsewhere still finds the data, from the recorded start folder or, for runs
    that predate it, from the recorded runs_dir."""
    project = tmp_path / "project"
    (project / "demo" / "data" / "d").mkdir(parents=True)
    run = project / "demo" / "runs" / "r"
    run.mkdir(parents=True)
    (run / R.CONFIG_FILE).write_text(json.dumps({"recipe": "cyclegan", "data": "demo/data/d",
                                                 "runs_dir": "demo/runs"}))
    monkeypatch.chdir(tmp_path)
    assert R.data_path(run, "demo/data/d") == project / "demo" / "data" / "d"
    assert R.usable_data(run, "demo/data/d") == str((project / "demo" / "data" / "d").resolve())
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "demo" / "data" / "d").mkdir(parents=True)  # a same-named folder where it was started
    (run / R.CONFIG_FILE).write_text(json.dumps({"recipe": "cyclegan", "data": "demo/data/d", "runs_dir": "/x",
                                                 "resolved": {"started_in": str(elsewhere)}}))
    assert R.data_path(run, "demo/data/d") == elsewhere / "demo" / "data" / "d"


def test_runs_list_tells_a_missing_folder_from_an_empty_one(tmp_path, monkeypatch, capsys):
    from gantrans.cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(["runs", "list"]) == 0 and "no runs yet: there is no runs/ folder here" in capsys.readouterr().out
    assert main(["runs", "list", "--runs-dir", "nothere"]) == 1
    assert "nothere: no such folder; pass the folder your runs are in" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["runs", "list", "--runs-dir", "empty"]) == 0 and "no runs in empty" in capsys.readouterr().out
