"""The model-agnostic trainer on a tiny in-process recipe: steps, precision, logs, samples, NaN."""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pytest
import torch
import trainer_fixtures as fx

from gantrans.errors import ConfigError
from gantrans.recipe import get_recipe
from gantrans.runs import RunDir
from gantrans.training import Engine, NonFiniteLoss, ResumableBatchSampler, TrainConfig, Trainer
from gantrans.training.checkpoint import load_checkpoint, recipe_from_checkpoint
from gantrans.training.devices import autocast, pick_device, pick_precision
from gantrans.training.engine import build_networks
from gantrans.training.rng import capture_rng, restore_rng
from gantrans.training.schedules import make_scheduler


def tiny_config(tmp_path, **kw) -> TrainConfig:
    base = dict(recipe="tinygan", data="mem:16", runs_dir=str(tmp_path), name="run", crop_size=32, batch_size=4,
                workers=0, device="cpu", precision="fp32", log_every=1, tensorboard=False, samples=2)
    base.update(kw)
    return TrainConfig.from_dict(base)


def metrics(run_dir) -> list[dict]:
    return list(RunDir(run_dir).metrics()[0])


# -- pieces --------------------------------------------------------------------------------
def test_sampler_shards_cover_the_epoch_and_resume_mid_epoch():
    shards = [list(ResumableBatchSampler(10, 2, seed=3, rank=r, world_size=2)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 3
    flat = [i for s in shards for b in s for i in b]
    assert set(flat) == set(range(10)) and len(flat) == 10
    s = ResumableBatchSampler(10, 3, seed=3)
    full = list(s)
    s.set_epoch(0, start=2)
    assert list(s) == full[2:]
    s.set_epoch(1)
    assert list(s) != full  # a new permutation per epoch
    assert sorted(i for b in s for i in b) == list(range(10))


def test_linear_policy_matches_the_reference():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(opt, "linear", epochs=4, n_epochs=2, n_epochs_decay=2, lr_decay_iters=1)
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([1.0, 1.0, 2 / 3, 1 / 3])


def test_rng_state_round_trips_through_weights_only_load(tmp_path):
    state = capture_rng()
    torch.save(state, tmp_path / "rng.pt")
    first = (random.random(), np.random.rand(), torch.rand(()).item())
    restore_rng(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert (random.random(), np.random.rand(), torch.rand(()).item()) == first


def test_device_and_precision_choice():
    cpu = pick_device("cpu")
    assert pick_device("auto").type in ("cuda", "mps", "cpu")
    assert pick_precision("fp32", cpu) == "fp32"
    assert pick_precision("auto", cpu) in ("bf16", "fp32")
    with pytest.raises(ConfigError, match="fp16"):
        pick_precision("fp16", cpu)
    with pytest.raises(ConfigError, match="expected"):
        pick_device("tpu")


def test_cpu_bf16_autocast_runs_the_networks_in_bf16(tiny):
    cls = get_recipe("tinygan")
    recipe = cls({}, fx.MemoryDataset(4, 32, 0, True, True).spec)
    engine = Engine(recipe, build_networks(recipe, 0), torch.device("cpu"), "bf16")
    seen = []
    engine.nets["G"].body[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    batch = torch.utils.data.default_collate([fx.MemoryDataset(4, 32, 0, True, True)[i] for i in range(2)])
    before = [p.detach().clone() for p in engine.nets["G"].parameters()]
    result = engine.step(batch, 0)
    assert seen and seen[0] == torch.bfloat16
    assert set(result.terms) == {"G_gan", "G_l1", "D_real", "D_fake"}
    assert all(np.isfinite(v) for v in result.terms.values())
    assert all(p.dtype == torch.float32 for p in engine.nets["G"].parameters())  # master weights stay fp32
    assert any(not torch.equal(a, b) for a, b in zip(before, engine.nets["G"].parameters()))
    with autocast(torch.device("cpu"), "fp32"):
        assert not torch.is_autocast_enabled("cpu")


def test_phase_freezes_the_other_networks(tiny):
    cls = get_recipe("tinygan")
    spec = fx.MemoryDataset(4, 32, 0, True, True).spec
    recipe = cls({}, spec)
    engine = Engine(recipe, build_networks(recipe, 0), torch.device("cpu"), "fp32")
    d_grads = []
    original = recipe._g_loss

    def spy(batch, cache):
        d_grads.append([p.requires_grad for p in engine.nets["D"].parameters()])
        return original(batch, cache)

    engine.phases[0].loss = spy
    batch = torch.utils.data.default_collate([fx.MemoryDataset(4, 32, 0, True, True)[i] for i in range(2)])
    engine.step(batch, 0)
    assert d_grads == [[False] * len(d_grads[0])]
    assert all(p.requires_grad for p in engine.nets["D"].parameters())  # D phase ran after


# -- whole runs ----------------------------------------------------------------------------
def test_run_writes_config_metrics_samples_and_checkpoints(tiny, tmp_path):
    result = Trainer(tiny_config(tmp_path, epochs=2, keep_epochs=1, tensorboard=True),
                     open_dataset=fx.open_memory).run()
    run = tmp_path / "run"
    assert (result.step, result.epoch) == (8, 2)
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["recipe"] == "tinygan" and cfg["model"]["width"] == 4 and cfg["resolved"]["precision"] == "fp32"
    assert cfg["resolved"]["started_in"] == os.getcwd()  # what a relative data path is relative to
    rows = metrics(run)
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert {"G_gan", "G_l1", "D_real", "D_fake", "lr/G", "lr/D", "images_per_s"} <= set(rows[0])
    assert [p.name for p in RunDir(run).samples()] == ["epoch_0001.png", "epoch_0002.png"]
    side = json.loads((run / "samples" / "epoch_0002.json").read_text())
    assert side["rows"] == ["real A", "fake B", "real B"] and side["columns"] == 2
    assert RunDir(run).sample_labels("epoch_0002.png") == side["rows"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch_0002.json", "epoch_0002.pt",
                                                                      "latest.json", "latest.pt"]
    infos = RunDir(run).checkpoints()  # the pruned epoch_0001 took its summary along
    assert [(c.name, c.step, c.epoch) for c in infos] == [("epoch_0002.pt", 8, 2), ("latest.pt", 8, 2)]
    assert infos[1].losses == {k: rows[-1][k] for k in ("G_gan", "G_l1", "D_real", "D_fake")}
    status = RunDir(run).status()
    assert (status.state, status.step, status.total_steps, status.epoch, status.total_epochs) == \
        ("finished", 8, 8, 2, 2)
    assert status.last_checkpoint["file"] == "latest.pt" and status.last_checkpoint["step"] == 8
    assert list((run / "tensorboard").iterdir())
    ckpt = load_checkpoint(run)
    for key in ("format", "format_version", "gantrans_version", "created", "run_name", "recipe", "model_config",
                "data", "network_specs", "config", "networks", "optimizers", "schedulers", "scaler",
                "recipe_state", "rng", "epoch", "step", "epoch_step"):
        assert key in ckpt, key
    assert ckpt["recipe"]["plugin"] == fx.PLUGIN_NAME and ckpt["network_specs"]["G"]["name"] == "tiny_g"
    assert (ckpt["epoch"], ckpt["step"], ckpt["epoch_step"]) == (2, 8, 0)
    recipe = recipe_from_checkpoint(ckpt)
    assert torch.equal(recipe.nets["G"].body[0].weight, ckpt["networks"]["G"]["body.0.weight"])
    assert len(recipe.pool.images) == 0  # recipe_from_checkpoint rebuilds weights only


def test_nonfinite_loss_stops_and_keeps_the_last_checkpoint(tiny, tmp_path):
    with pytest.raises(NonFiniteLoss, match=r"step 3: loss term 'G_gan' is nan") as err:
        Trainer(tiny_config(tmp_path, epochs=1, checkpoint_every=1, model={"nan_at": 3}),
                open_dataset=fx.open_memory).run()
    run = tmp_path / "run"
    assert str(err.value) == (f"step 3: loss term 'G_gan' is nan; stopped; the last checkpoint is intact: gantrans "
                              f"train --resume {run} --skip-nonfinite goes on skipping such batches, or train again "
                              f"with a lower rate: gantrans train --config {run / 'config.json'} --name NEW_NAME "
                              f"-o lr=LOWER_RATE")
    ckpt = load_checkpoint(run)
    assert ckpt["step"] == 2
    assert all(torch.isfinite(t).all() for t in ckpt["networks"]["G"].values() if t.is_floating_point())


def test_nonfinite_loss_before_any_checkpoint_does_not_claim_one(tiny, tmp_path):
    with pytest.raises(NonFiniteLoss) as err:
        Trainer(tiny_config(tmp_path, epochs=1, model={"nan_at": 2}), open_dataset=fx.open_memory).run()
    assert "intact" not in str(err.value)
    assert "no checkpoint was written yet; train again with a lower rate: gantrans train --config" in str(err.value)


def test_skip_nonfinite_skips_the_batch_and_counts_it(tiny, tmp_path):
    result = Trainer(tiny_config(tmp_path, epochs=1, skip_nonfinite=True, model={"nan_at": 3}),
                     open_dataset=fx.open_memory).run()
    rows = metrics(tmp_path / "run")
    assert result.skipped == 1 and result.step == 4
    assert [r["nonfinite_skipped"] for r in rows] == [0, 0, 1, 1]
    assert "G_gan" not in rows[2] and "G_gan" in rows[3]
    ckpt = load_checkpoint(tmp_path / "run")
    assert all(torch.isfinite(t).all() for t in ckpt["networks"]["G"].values() if t.is_floating_point())


def test_d_every_runs_a_phase_on_every_kth_step(tiny, tmp_path):
    Trainer(tiny_config(tmp_path, max_steps=4, model={"d_every": 2}), open_dataset=fx.open_memory).run()
    rows = metrics(tmp_path / "run")
    assert ["D_real" in r for r in rows] == [True, False, True, False]


def test_existing_run_dir_is_never_reused(tiny, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="already exists"):
        Trainer(tiny_config(tmp_path, max_steps=1), open_dataset=fx.open_memory).run()
    assert (tmp_path / "run" / "keep.txt").read_text() == "mine"


def test_fp16_grad_scaler_path_on_cpu(tiny):
    """The CUDA fp16 path (autocast + GradScaler) has a CPU twin: same code, CPU scaler."""
    cls = get_recipe("tinygan")
    ds = fx.MemoryDataset(4, 32, 0, True, True)
    recipe = cls({}, ds.spec)
    engine = Engine(recipe, build_networks(recipe, 0), torch.device("cpu"), "fp16")
    assert engine.scaler is not None
    batch = torch.utils.data.default_collate([ds[i] for i in range(2)])
    before = engine.nets["D"].body[0].weight.detach().clone()
    for step in range(2):
        result = engine.step(batch, step)
    assert all(np.isfinite(v) for v in result.terms.values())
    assert not torch.equal(before, engine.nets["D"].body[0].weight)
    assert engine.scaler.state_dict()["scale"] > 0


def test_compile_keeps_penalised_discriminators_eager(tiny, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda net: compiled.append(net) or net)
    cls = get_recipe("tinygan")
    spec = fx.MemoryDataset(4, 32, 0, True, True).spec
    for loss, expected in (("lsgan", {"G", "D"}), ("wgan-gp", {"G"})):
        compiled.clear()
        recipe = cls({"loss": loss}, spec)
        engine = Engine(recipe, build_networks(recipe, 0), torch.device("cpu"), "fp32", compile=True)
        assert {k for k, n in engine.nets.items() if any(n is c for c in compiled)} == expected, loss


def _all_finite(ckpt) -> bool:
    tensors = [t for net in ckpt["networks"].values() for t in net.values()]
    tensors += [t for opt in ckpt["optimizers"].values() for st in opt["state"].values() for t in st.values()
                if isinstance(t, torch.Tensor)]
    return all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())


def _engine_state(engine) -> list[torch.Tensor]:
    out = [t.detach().clone() for net in engine.nets.values() for t in (*net.parameters(), *net.buffers())]
    out += [t.clone() for opt in engine.optimizers.values() for st in opt.state.values() for t in st.values()]
    return out


def test_a_skipped_batch_changes_no_parameter_buffer_or_moment(tiny, tmp_path):
    # D's loss is NaN in the batch's second phase, after G has already stepped on it.
    cfg = tiny_config(tmp_path, skip_nonfinite=True, model={"d_nan_at": 2})
    trainer = Trainer(cfg, open_dataset=fx.open_memory)
    trainer._setup()
    engine = trainer.engine
    batch = {k: v for k, v in trainer.train_ds[0].items() if isinstance(v, torch.Tensor)}
    batch = {k: v.unsqueeze(0).repeat(2, 1, 1, 1) for k, v in batch.items()}
    assert not engine.step(batch, 0).skipped
    before = _engine_state(engine)
    result = engine.step(batch, 1)
    assert result.skipped and engine.skipped == 1 and result.terms == {}
    after = _engine_state(engine)
    assert len(before) == len(after) and all(torch.equal(a, b) for a, b in zip(before, after))
    assert not engine.step(batch, 2).skipped  # and training goes on from there
    assert not all(torch.equal(a, b) for a, b in zip(before, _engine_state(engine)))


@pytest.mark.parametrize("skip", [False, True])
def test_no_checkpoint_is_ever_written_with_nonfinite_tensors(tiny, tmp_path, skip):
    # At G's 3rd call a running statistic overflows while every loss stays finite.
    cfg = tiny_config(tmp_path, epochs=2, checkpoint_every=1, skip_nonfinite=skip, model={"inf_buffer_at": 3})
    if skip:
        result = Trainer(cfg, open_dataset=fx.open_memory).run()
        assert result.skipped == 1 and result.step == 8
    else:
        # Without skipping, the checkpoint's own check stops the run (no per-step pass over the weights).
        with pytest.raises(NonFiniteLoss, match=r"step 3: refusing to checkpoint: state of 'network G' is not finite"):
            Trainer(cfg, open_dataset=fx.open_memory).run()
    for file in sorted((tmp_path / "run" / "checkpoints").glob("*.pt")):
        assert _all_finite(load_checkpoint(file)), file.name
    if not skip:  # the stopped run's last checkpoint resumes
        assert load_checkpoint(tmp_path / "run")["step"] == 2
        from gantrans.training import resume
        resumed = resume(tmp_path / "run", {"max_steps": 4, "skip_nonfinite": True}, open_dataset=fx.open_memory)
        assert (resumed.step, resumed.skipped) == (4, 1)
        assert _all_finite(load_checkpoint(tmp_path / "run"))


def test_a_huge_learning_rate_with_skip_nonfinite_never_checkpoints_nonfinite_state(tiny, tmp_path):
    cfg = tiny_config(tmp_path, epochs=2, checkpoint_every=1, skip_nonfinite=True, model={"lr": 1e10})
    result = Trainer(cfg, open_dataset=fx.open_memory).run()
    assert result.step == 8
    for file in sorted((tmp_path / "run" / "checkpoints").glob("*.pt")):
        assert _all_finite(load_checkpoint(file)), file.name


def test_a_full_disk_while_checkpointing_keeps_the_last_checkpoint(tiny, tmp_path, monkeypatch):
    from diskfull import full_disk_open

    from gantrans import fileio
    from gantrans.errors import DiskFullError

    trainer = Trainer(tiny_config(tmp_path, max_steps=4, checkpoint_every=1), open_dataset=fx.open_memory)
    # The 2nd checkpoint meets a full disk part-way (torch itself reports "unexpected pos ...").
    monkeypatch.setattr(fileio, "open", full_disk_open(".latest.pt.", room=2000, after=1), raising=False)
    with pytest.raises(DiskFullError) as e:
        trainer.run()
    monkeypatch.undo()
    folder = tmp_path / "run" / "checkpoints"
    assert str(e.value) == (f"no space left on device while writing {folder / 'latest.pt'}; the last checkpoint "
                            f"is intact; free some space, then continue with 'gantrans train --resume "
                            f"{tmp_path / 'run'}'")
    assert sorted(p.name for p in folder.iterdir()) == ["latest.json", "latest.pt"]  # no partial file
    assert load_checkpoint(tmp_path / "run")["step"] == 1
