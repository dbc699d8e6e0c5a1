"""Exact resume, Ctrl+C and kill -9: a checkpoint is never torn and resuming loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import trainer_fixtures as fx

from gantrans import runs as R
from gantrans.runs import RunDir
from gantrans.training import TrainConfig, Trainer, resume
from gantrans.training.checkpoint import load_checkpoint

TERMS = ("G_gan", "G_l1", "D_real", "D_fake", "lr/G", "lr/D")
FIXTURES = Path(__file__).with_name("trainer_fixtures.py")


def config(tmp_path, name, **kw) -> TrainConfig:
    base = dict(recipe="tinygan", data="mem:16", runs_dir=str(tmp_path), name=name, crop_size=32, batch_size=4,
                workers=0, device="cpu", precision="fp32", log_every=1, tensorboard=False, samples=2,
                deterministic=True, epochs=3, n_epochs=1, n_epochs_decay=2)
    base.update(kw)
    return TrainConfig.from_dict(base)


def losses(run_dir) -> dict[int, tuple]:
    return {r["step"]: tuple(r.get(k) for k in TERMS) for r in RunDir(run_dir).metrics()[0]}


@pytest.mark.parametrize("stop_at", [3, 8])  # mid-epoch, and exactly at an epoch end
def test_resumed_run_logs_the_same_losses_as_an_uninterrupted_one(tiny, tmp_path, stop_at):
    Trainer(config(tmp_path, "full", max_steps=10), open_dataset=fx.open_memory).run()
    Trainer(config(tmp_path, "split", max_steps=stop_at), open_dataset=fx.open_memory).run()
    result = resume(tmp_path / "split", {"max_steps": 10}, open_dataset=fx.open_memory)
    assert result.step == 10
    full, split = losses(tmp_path / "full"), losses(tmp_path / "split")
    assert sorted(split) == list(range(1, 11))
    assert split == full  # every term of every step, exactly (lr changes at epoch ends too)
    assert full[10][4] < full[1][4]  # the linear decay did kick in


def _start(tmp_path, name, *extra):
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = fx.base_args(tmp_path, name, "--epochs", "100000", "--checkpoint-every", "1", *extra)
    return subprocess.Popen([sys.executable, str(FIXTURES), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True, start_new_session=True)


def _wait_for_steps(proc, run_dir: Path, steps: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"training exited early ({proc.returncode}): {proc.stderr.read()}")
        rows = list(RunDir(run_dir).metrics()[0]) if (run_dir / "config.json").is_file() else []
        if (run_dir / "checkpoints" / "latest.pt").is_file() and len(rows) >= steps:
            return
        time.sleep(0.05)
    proc.kill()
    pytest.fail("training made no progress")


def test_sigint_saves_a_checkpoint_and_exits_130(tiny, tmp_path):
    proc = _start(tmp_path, "int", "--workers", "1",  # a loader worker must not break the clean stop
                  "--sample-every-steps", "1")
    run = tmp_path / "int"
    _wait_for_steps(proc, run, 3)
    os.killpg(proc.pid, signal.SIGINT)  # like Ctrl+C in a terminal: the loader worker gets it too
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and "--resume" in err and "Traceback" not in err
    ckpt = load_checkpoint(run)
    logged = max(r["step"] for r in RunDir(run).metrics()[0])
    assert ckpt["step"] == logged >= 3  # the checkpoint holds every logged step
    # the grid due at the step it stopped on is drawn: the resume starts after that step
    assert R.step_sample_grid(run, ckpt["step"]).is_file()
    result = resume(run, {"max_steps": ckpt["step"] + 2, "epochs": 100}, open_dataset=fx.open_memory)
    assert result.step == ckpt["step"] + 2


@pytest.mark.parametrize("presses,saved", [(2, True), (3, False)])
def test_a_second_ctrl_c_during_the_checkpoint_is_let_pass_and_a_third_stops_at_once(tiny, tmp_path, monkeypatch,
                                                                                     presses, saved):
    """A double press (or a Stop clicked twice) landed in the checkpoint's write, broke it
    ('internal error: RuntimeError: [enforce fail at inline_container.cc]') and lost the run's work."""
    from gantrans.training.checkpoint import LATEST, atomic_save

    def step_then_press(self, *args):
        real_report(self, *args)
        if self.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # the first press: stop after this step

    def presses_while_writing(state, path):
        if Path(path).name == LATEST:
            for _ in range(presses - 1):
                os.kill(os.getpid(), signal.SIGINT)  # handled here, in the middle of the write
        return real_save(state, path)

    real_report, real_save = Trainer._report, atomic_save
    monkeypatch.setattr(Trainer, "_report", step_then_press)
    monkeypatch.setattr("gantrans.training.trainer.atomic_save", presses_while_writing)
    code = None
    try:
        code = fx.train(fx.base_args(tmp_path, "twice", "--max-steps", "50", "--checkpoint-every", "0"))
    except KeyboardInterrupt:
        code = "KeyboardInterrupt"
    run = tmp_path / "twice"
    if saved:
        assert code == 130 and load_checkpoint(run)["step"] == 3
        assert RunDir(run).status().state == "interrupted"
    else:  # stopped at once: the checkpoint it was writing is not there
        assert code == "KeyboardInterrupt" and not R.has_checkpoint(run)


def test_kill_9_loses_at_most_the_steps_since_the_last_checkpoint(tiny, tmp_path):
    proc = _start(tmp_path, "kill")
    run = tmp_path / "kill"
    _wait_for_steps(proc, run, 6)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    ckpt = load_checkpoint(run)  # never torn
    logged = max(r["step"] for r in RunDir(run).metrics()[0])
    assert logged - 1 <= ckpt["step"] <= logged
    result = resume(run, {"max_steps": ckpt["step"] + 2, "epochs": 100}, open_dataset=fx.open_memory)
    assert result.step == ckpt["step"] + 2
    assert max(r["step"] for r in RunDir(run).metrics()[0]) == ckpt["step"] + 2
    steps = [r["step"] for r in RunDir(run).metrics()[0]]
    assert steps == sorted(set(steps))  # rows beyond the checkpoint were dropped, then redone once


def test_a_run_killed_before_its_first_checkpoint_resumes_from_step_0(tiny, tmp_path, capsys):
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = fx.base_args(tmp_path, "early", "--data", "mem:100000", "--epochs", "1", "--checkpoint-every", "0")
    proc = subprocess.Popen([sys.executable, str(FIXTURES), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True, start_new_session=True)
    run = tmp_path / "early"
    deadline = time.monotonic() + 90
    while not (run / "metrics.jsonl").is_file() or not (run / "metrics.jsonl").read_text():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert not list(run.glob("checkpoints/*.pt"))
    from gantrans.cli import train_cmd
    from gantrans.cli.main import build_parser

    parsed = build_parser().parse_args(["train", "--resume", str(run), "--max-steps", "3"])
    assert train_cmd.run(parsed, open_dataset=fx.open_memory) == 0
    assert "has no checkpoint yet; starting it again from step 0 with its saved config" in capsys.readouterr().err
    assert [r["step"] for r in RunDir(run).metrics()[0]] == [1, 2, 3]  # the killed run's rows are gone
    ckpt = load_checkpoint(run)
    assert ckpt["step"] == 3 and ckpt["config"]["data"] == "mem:100000" and ckpt["config"]["name"] == "early"


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_corrupt_latest_falls_back_to_the_newest_readable_checkpoint(tiny, tmp_path, capsys, damage):
    Trainer(config(tmp_path, "run", epochs=3, keep_epochs=3), open_dataset=fx.open_memory).run()
    folder = tmp_path / "run" / "checkpoints"
    latest = folder / "latest.pt"
    data = latest.read_bytes()
    latest.write_bytes(data[: len(data) // 3] if damage == "truncate" else b"garbage\n")
    (folder / "epoch_0003.pt").write_bytes(b"\x00" * 100)  # the newest kept one is bad too
    damaged = latest.read_bytes()
    capsys.readouterr()
    # Nothing to do yet: the corrupt file is left exactly as it was, nothing is written.
    resume(tmp_path / "run", {"max_steps": 8}, open_dataset=fx.open_memory)
    err = capsys.readouterr().err
    assert f"{latest}: not a gantrans checkpoint (truncated or corrupt); resuming from " \
           f"{folder / 'epoch_0002.pt'} (step 8) instead" in err
    assert f"{folder / 'epoch_0003.pt'}: not a gantrans checkpoint (truncated or corrupt)" in err
    assert "weights_only" not in err and "Weights only" not in err
    assert latest.read_bytes() == damaged
    result = resume(tmp_path / "run", {"max_steps": 10}, open_dataset=fx.open_memory)
    assert result.step == 10 and load_checkpoint(tmp_path / "run")["step"] == 10  # latest written anew
    assert [r["step"] for r in RunDir(tmp_path / "run").metrics()[0]] == list(range(1, 11))

    # with nothing readable left, the error says the way on
    from gantrans.errors import CheckpointError

    for kept in folder.glob("epoch_*.pt"):
        kept.write_bytes(b"\x00" * 100)
    latest.write_bytes(b"garbage\n")
    with pytest.raises(CheckpointError) as err:
        resume(tmp_path / "run", {"max_steps": 12}, open_dataset=fx.open_memory)
    assert str(err.value).endswith(f"the run keeps no other readable checkpoint; to train it again from step 0 as a "
                                   f"new run: gantrans train --config {tmp_path / 'run' / 'config.json'} --name NEW_NAME")


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused_everywhere(tiny, tmp_path):
    import torch

    from gantrans.errors import CheckpointError
    from gantrans.export import import_reference

    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    Trainer(config(tmp_path, "run", max_steps=2), open_dataset=fx.open_memory).run()
    torch.save({"format": "gantrans-checkpoint", "x": _Exploit(marker)}, run / "checkpoints" / "latest.pt")
    for attempt in (lambda: load_checkpoint(run), lambda: resume(run, {}, open_dataset=fx.open_memory),
                    lambda: import_reference(run / "checkpoints" / "latest.pt", runs_dir=tmp_path / "imp")):
        with pytest.raises(CheckpointError, match=r"asks to import Python objects \(.*system\), which could run "
                                                  r"code; refused") as e:
            attempt()
        assert "weights_only" not in str(e.value)
    assert not marker.exists()


def test_sigterm_saves_a_checkpoint_and_exits_143(tiny, tmp_path):
    proc = _start(tmp_path, "term", "--workers", "1")  # the worker must not die of the group's SIGTERM
    run = tmp_path / "term"
    _wait_for_steps(proc, run, 3)
    os.killpg(proc.pid, signal.SIGTERM)  # as a service manager stops a job: the whole group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted at step" in err and "Traceback" not in err
    assert load_checkpoint(run)["step"] == max(r["step"] for r in RunDir(run).metrics()[0]) >= 3


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_loader_workers_die_with_a_killed_trainer(tiny, tmp_path):
    proc = _start(tmp_path, "orphans", "--workers", "2", "--data", "mem:100000")  # one long epoch: the same workers
    _wait_for_steps(proc, tmp_path / "orphans", 2)
    workers = _children(proc.pid)
    assert len(workers) >= 2
    deadline = time.monotonic() + 2.0  # torch's own watchdog would take 5 s or more
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)  # not communicate(): the workers hold the pipes open while they live
    while any(_state(w) != "Z" for w in workers):
        assert time.monotonic() < deadline, f"loader workers {workers} outlived the trainer"
        time.sleep(0.05)
    proc.communicate(timeout=30)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


class Killed(Exception):
    """Stands for a kill -9 at one moment of a save."""


@pytest.mark.parametrize("moment", ["after the last step's checkpoint, before its epoch end",
                                    "between the kept epoch copy and latest.pt"])
def test_a_run_killed_at_its_last_epoch_end_ends_that_epoch_on_resume(tiny, tmp_path, monkeypatch, moment):
    """Resuming must not call such a run finished one epoch short (no kept copy, no last
    scheduler step, "nothing to do"), nor lose the epoch's kept checkpoint."""
    import shutil

    from gantrans.training import trainer as T

    kw = dict(epochs=2, n_epochs=1, n_epochs_decay=1, checkpoint_every=4)  # 4 steps an epoch
    Trainer(config(tmp_path, "full", **kw), open_dataset=fx.open_memory).run()
    if moment.startswith("after"):
        real = T.Trainer._end_epoch

        def end_epoch(self, steps_per_epoch):
            if self.epoch == 1:
                raise Killed
            real(self, steps_per_epoch)

        monkeypatch.setattr(T.Trainer, "_end_epoch", end_epoch)
    else:
        real_copy = shutil.copyfileobj

        def copy(src, dst):  # the one copy a save makes, between its two files
            if "epoch_0002" in src.name or "epoch_0002" in str(getattr(dst, "name", "")):
                raise Killed
            real_copy(src, dst)

        monkeypatch.setattr(T.shutil, "copyfileobj", copy)
    with pytest.raises(Killed):
        Trainer(config(tmp_path, "killed", **kw), open_dataset=fx.open_memory).run()
    monkeypatch.undo()
    result = resume(tmp_path / "killed", {}, open_dataset=fx.open_memory)
    assert (result.step, result.epoch) == (8, 2)
    for name in ("epoch_0001.pt", "epoch_0002.pt", "latest.pt"):
        full = load_checkpoint(tmp_path / "full" / "checkpoints" / name)
        killed = load_checkpoint(tmp_path / "killed" / "checkpoints" / name)
        assert (killed["step"], killed["epoch"], killed["schedulers"]) == (full["step"], full["epoch"], full["schedulers"])
        for key, state in full["networks"].items():
            assert all(torch.equal(v, killed["networks"][key][k]) for k, v in state.items()), (name, key)
    assert (tmp_path / "killed" / "samples" / "epoch_0002.png").is_file()


def test_a_resume_with_nothing_to_do_or_refused_leaves_the_run_as_it_was(tiny, tmp_path, capsys):
    """Neither may rewrite the run's record: its config (the precision it trained in), its log's
    resume marks, its status."""
    from gantrans.errors import ConfigError

    Trainer(config(tmp_path, "done", max_steps=4), open_dataset=fx.open_memory).run()
    run = tmp_path / "done"
    files = ("config.json", "metrics.jsonl", "status.json")
    before = {name: (run / name).read_bytes() for name in files}
    result = resume(run, {"max_steps": 4, "log_every": 2}, open_dataset=fx.open_memory)
    assert result.step == 4 and "nothing to do: 4 steps done" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="a run cannot be shortened"):
        resume(run, {"max_steps": 2}, open_dataset=fx.open_memory)
    assert {name: (run / name).read_bytes() for name in files} == before
    resume(run, {"max_steps": 5}, open_dataset=fx.open_memory)  # one that trains does record itself
    assert RunDir(run).status().resumes and (run / "config.json").read_bytes() != before["config.json"]


def test_a_run_whose_checkpoints_are_gone_is_not_silently_trained_from_zero(tiny, tmp_path, capsys):
    """It says so, and how to train it again as a new run from its config.json (which --config takes)."""
    import shutil

    from gantrans.errors import CheckpointError
    from gantrans.training.config import load_config_file

    Trainer(config(tmp_path, "lost", max_steps=4, checkpoint_every=2), open_dataset=fx.open_memory).run()
    shutil.rmtree(tmp_path / "lost" / "checkpoints")
    with pytest.raises(CheckpointError) as err:
        resume(tmp_path / "lost", {}, open_dataset=fx.open_memory)
    assert (f"lost: its checkpoints are gone (it wrote one at step 4; checkpoints/ holds none), so there is "
            f"nothing to resume from; to train it again from step 0 as a new run: gantrans train --config "
            f"{tmp_path / 'lost' / 'config.json'} --name NEW_NAME") in str(err.value)
    assert not (tmp_path / "lost" / "checkpoints").exists()  # nothing started
    # the advice works: --config reads a run's config.json through load_config_file (in-process here,
    # as the fixtures' recipe and data live in this process)
    again = TrainConfig.from_dict({**load_config_file(tmp_path / "lost" / "config.json"), "name": "again"})
    assert Trainer(again, open_dataset=fx.open_memory).run().step == 4


def test_a_data_set_that_changed_since_the_checkpoint_is_said_at_resume(tiny, tmp_path, capsys):
    Trainer(config(tmp_path, "grown", max_steps=3), open_dataset=fx.open_memory).run()
    resume(tmp_path / "grown", {"max_steps": 4}, open_dataset=fx.open_memory)
    assert "since the checkpoint" not in capsys.readouterr().err  # the same data: nothing to say

    def fewer(data, **kw):  # 4 of the 16 images deleted meanwhile
        return fx.open_memory("mem:12", **kw)

    resume(tmp_path / "grown", {"max_steps": 5}, open_dataset=fewer)
    err = capsys.readouterr().err
    assert ("mem:16: the data set has 12 items where the run had 16 since the checkpoint; the resumed run goes on "
            "with the data as it is now") in " ".join(err.split())


def test_a_hand_edited_config_json_is_said_not_silently_overwritten(tiny, tmp_path, capsys):
    import json

    Trainer(config(tmp_path, "edited", max_steps=3), open_dataset=fx.open_memory).run()
    resume(tmp_path / "edited", {"max_steps": 4}, open_dataset=fx.open_memory)
    assert "was edited" not in capsys.readouterr().err  # the trainer's own file matches its checkpoint
    file = tmp_path / "edited" / "config.json"
    data = json.loads(file.read_text())
    data["seed"] = 99
    lr = data["model"]["lr"]
    data["model"]["lr"] = 0.5
    file.write_text(json.dumps(data))
    resume(tmp_path / "edited", {"max_steps": 5}, open_dataset=fx.open_memory)
    err = " ".join(capsys.readouterr().err.split())
    assert (f"{file} was edited: resuming with the checkpoint's settings, seed 0 (the file says 99), -o lr={lr!r} "
            f"(the file says 0.5)") in err
    resume(tmp_path / "edited", {"max_steps": 6}, open_dataset=fx.open_memory)
    assert "was edited" not in capsys.readouterr().err  # rewritten by the resume that trained


def test_a_one_process_run_is_not_resumed_by_several(tiny, tmp_path, monkeypatch):
    """Refused before any process group is set up, with the command that resumes it."""
    from gantrans.errors import ConfigError

    Trainer(config(tmp_path, "single", max_steps=2), open_dataset=fx.open_memory).run()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ConfigError, match=r"the run was trained by one process and this is 2 processes; its steps "
                                          r"count per process, so resume it as it was trained: gantrans train "
                                          r"--resume \S*single$"):
        resume(tmp_path / "single", {"max_steps": 4}, open_dataset=fx.open_memory)


def test_an_empty_folder_in_the_runs_folder_is_not_sent_round_in_circles(tiny, tmp_path):
    """'already exists ... --resume' then 'no checkpoint yet; train it further with --resume' led nowhere."""
    from gantrans.errors import CheckpointError, ConfigError

    (tmp_path / "stray").mkdir()
    with pytest.raises(ConfigError, match=r"stray already exists and is not a gantrans run; choose another --name, "
                                          r"or remove that folder"):
        Trainer(config(tmp_path, "stray", max_steps=1), open_dataset=fx.open_memory).run()
    with pytest.raises(CheckpointError, match=r"stray: not a gantrans run \(no config.json, no checkpoint\)"):
        resume(tmp_path / "stray", {}, open_dataset=fx.open_memory)
    assert not any((tmp_path / "stray").iterdir())
