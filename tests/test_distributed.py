"""Data-parallel training: two CPU processes under torchrun (gloo) stay bitwise in step."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import trainer_fixtures as fx

from gantrans.errors import ConfigError
from gantrans.runs import RunDir
from gantrans.training.checkpoint import load_checkpoint

FIXTURES = Path(__file__).with_name("trainer_fixtures.py")


def test_two_processes_hold_identical_weights_after_training(tiny, tmp_path):
    dump = tmp_path / "dump"
    dump.mkdir()
    env = {**os.environ, "TRAINER_TEST_DUMP": str(dump), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(FIXTURES.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = fx.base_args(tmp_path, "ddp", "--max-steps", "3", "--batch-size", "2", "--checkpoint-every", "2")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(FIXTURES), *args], env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 processes" in proc.stderr
    init = [torch.load(dump / f"init{r}.pt", weights_only=True) for r in (0, 1)]
    final = [torch.load(dump / f"final{r}.pt", weights_only=True) for r in (0, 1)]
    for key in ("G", "D"):
        for name, tensor in final[0][key].items():
            assert torch.equal(tensor, final[1][key][name]), f"{key}.{name} differs between ranks"
            assert torch.equal(init[0][key][name], init[1][key][name])
        changed = [n for n, t in final[0][key].items() if t.is_floating_point() and not torch.equal(t, init[0][key][n])]
        assert changed, f"{key} did not train"
    # Rank 0 alone wrote one run: a metrics row per step and a checkpoint equal to its weights.
    assert [r["step"] for r in RunDir(tmp_path / "ddp").metrics()[0]] == [1, 2, 3]
    ckpt = load_checkpoint(tmp_path / "ddp")
    assert ckpt["step"] == 3 and ckpt["config"]["name"] == "ddp"
    assert all(torch.equal(t, final[0]["G"][n]) for n, t in ckpt["networks"]["G"].items())
    # Its steps count per process: it says how to resume it, and one process may not
    run = tmp_path / "ddp"
    assert ckpt["world_size"] == 2
    assert f"continue with: torchrun --nproc-per-node 2 -m gantrans train --resume {run}" in proc.stderr
    before = {f: f.read_bytes() for f in run.rglob("*") if f.is_file()}
    with pytest.raises(ConfigError) as err:
        fx.train(["--resume", str(run), "--max-steps", "5"])
    assert (f"the run was trained by 2 processes and this is one process; its steps count per process, so resume "
            f"it as it was trained: torchrun --nproc-per-node 2 -m gantrans train --resume {run}") in str(err.value)
    assert {f: f.read_bytes() for f in run.rglob("*") if f.is_file()} == before


def test_a_process_of_the_job_going_away_is_said_with_the_resume_not_as_an_internal_error(tiny, tmp_path,
                                                                                          monkeypatch):
    """What a surviving rank sees when another is killed: gloo's 'Connection closed by peer'."""
    from gantrans.training import TrainConfig, Trainer
    from gantrans.training import distributed as D
    from gantrans.training.trainer import PeerLost

    Trainer(TrainConfig.from_dict({"recipe": "tinygan", "data": "mem:16", "runs_dir": str(tmp_path), "name": "r",
                                   "crop_size": 32, "batch_size": 4, "workers": 0, "device": "cpu",
                                   "max_steps": 2, "tensorboard": False, "samples": 0}),
            open_dataset=fx.open_memory).run()
    trainer = Trainer(TrainConfig.from_dict({"recipe": "tinygan", "data": "mem:16", "runs_dir": str(tmp_path),
                                             "name": "r", "crop_size": 32, "workers": 0, "max_steps": 4}),
                      open_dataset=fx.open_memory, checkpoint={"_path": "x"}, run_dir=tmp_path / "r")

    def dies(self):
        self.dist = D.DistContext(rank=1, world_size=2, local_world_size=2)
        raise RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer "
                           "[127.0.0.1]:29500\nmore")

    monkeypatch.setattr(Trainer, "_run", dies)
    with pytest.raises(PeerLost) as err:
        trainer.run()
    assert str(err.value) == (f"another process of this 2-process run stopped (its own output says why; here: "
                              f"[../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer "
                              f"[127.0.0.1]:29500); the last checkpoint is intact: torchrun --nproc-per-node 2 -m "
                              f"gantrans train --resume {tmp_path / 'r'}")
    assert not D.is_peer_loss(RuntimeError("shapes do not match"))
