"""The CLI guides a newcomer: what to run instead, what a data folder should look like, where a
run's output is, how long a schedule lasts, and errors that name what would fit."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import trainer_fixtures as fx
from PIL import Image

from gantrans.cli import train_cmd
from gantrans.cli.main import build_parser, main
from gantrans.errors import ConfigError, DataError
from gantrans.runs import RunDir
from gantrans.training.config import TrainConfig
from gantrans.training.logger import RunLogger

train = fx.train


def _png(path: Path, colour=(200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)
    return path


# -- files that are not ONNX models -------------------------------------------------------------------

def test_translate_and_info_say_what_a_checkpoint_is_and_what_to_run(tmp_path, capsys):
    reference = tmp_path / "latest_net_G_A.pth"
    torch.save({"model.1.weight": torch.zeros(1)}, reference)
    ours = tmp_path / "mine.pt"
    torch.save({"format": "gantrans-checkpoint", "step": 3}, ours)
    run = tmp_path / "runs" / "shapes"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    _png(tmp_path / "in" / "a.png")
    for command in (["info"], ["translate"]):
        extra = [str(tmp_path / "in")] if command == ["translate"] else []
        assert main([*command, str(reference), *extra]) == 1
        err = capsys.readouterr().err
        assert f"gantrans import {reference}" in err and "protobuf" not in err.lower() and err.count("\n") == 1
        assert main([*command, str(ours), *extra]) == 1
        assert f"a gantrans training checkpoint, not an .onnx model; export it first with 'gantrans export {ours}'" \
            in capsys.readouterr().err
        assert main([*command, str(run), *extra]) == 1
        assert f"a training run folder, not an .onnx model; export it first with 'gantrans export {run}'" \
            in capsys.readouterr().err
    (run / "checkpoints" / "latest.pt").write_bytes(b"not even a zip")
    assert main(["info", str(run / "checkpoints" / "latest.pt")]) == 1
    assert f"gantrans export {run}'" in capsys.readouterr().err
    # an image where the model goes: the arguments were swapped
    assert main(["info", str(tmp_path / "in" / "a.png")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'in' / 'a.png'}: an image, not an .onnx model; the model comes first" in err
    assert "protobuf" not in err.lower()


def test_info_prints_provenance_readably_and_explains_tiling(tmp_path, capsys):
    from onnx_models import translate_model

    model = translate_model(tmp_path / "m.onnx", tiling="discouraged")
    import onnx

    proto = onnx.load(model)
    for prop in proto.metadata_props:
        if prop.key.startswith("gantrans"):
            data = json.loads(prop.value)
            data["provenance"] = {"recipe": "cyclegan", "plugin": "cyclegan", "plugin_version": "0.1.0",
                                  "run_name": "horses", "epoch": 7, "step": 700,
                                  "network_key": "G_A", "network": {"name": "resnet_9blocks", "options": {"ngf": 64},
                                                                  "resolved_options": {"ngf": 32, "dropout": False},
                                                                  "plugin": "networks"},
                                  "opset": 20, "exporter": "dynamo", "parity_max_abs_diff": 2.5e-6}
            prop.value = json.dumps(data)
    onnx.save(proto, model)
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "tiling:     discouraged" in out and "seams" in out and "--tile N" in out
    assert "provenance:\n  recipe     cyclegan (plugin cyclegan 0.1.0)" in out
    assert "  trained    run horses, epoch 7, step 700" in out
    assert "  network    G_A = resnet_9blocks (dropout false, ngf 64, plugin networks)" in out  # all it was built with
    assert "max |ONNX Runtime - PyTorch| = 2.50e-06" in out
    assert '{"' not in out  # no raw JSON for people
    assert main(["info", str(model), "--json"]) == 0
    raw = json.loads(capsys.readouterr().out)
    assert raw["provenance"]["run_name"] == "horses" and raw["provenance"]["network"]["options"] == {"ngf": 64}


# -- data layouts -------------------------------------------------------------------------------------

def test_wrong_data_layouts_sketch_the_expected_tree(tmp_path, fresh_plugins):
    from gantrans.data import detect_format

    flat = tmp_path / "flat"
    _png(flat / "a.png")
    two = tmp_path / "hz"
    _png(two / "horses" / "a.png")
    _png(two / "zebras" / "b.png")
    empty = tmp_path / "empty"
    empty.mkdir()
    for root in (flat, two, empty):
        with pytest.raises(DataError) as err:
            detect_format(root, ["unpaired", "paired"])
        text = str(err.value)
        assert "unpaired (CycleGAN) or paired (pix2pix) data is needed" in text
        assert "trainA/" in text and "trainB/" in text and "A/train/0001.png" in text
    with pytest.raises(DataError, match="rename them trainA/ and trainB/"):
        detect_format(two, ["unpaired", "paired"])
    with pytest.raises(DataError) as err:
        detect_format(flat, ["labelled"])
    assert "looks like single data ('folder' layout)" in str(err.value) and "cat/" in str(err.value)
    with pytest.raises(DataError) as err:
        detect_format(two, ["paired"])
    assert "A/train/0001.png" in str(err.value) and "trainA/  one domain" not in str(err.value)


# -- sizes -------------------------------------------------------------------------------------------

def test_size_errors_name_the_networks_that_fit_and_the_nearest_crops(fresh_plugins):
    from gantrans.recipe import DataSpec, get_recipe

    spec = DataSpec("paired", {"A": 3, "B": 3}, 64)
    with pytest.raises(ConfigError) as err:
        get_recipe("pix2pix")({"generator": "unet_256"}, spec).build_networks()
    text = str(err.value)
    assert "network 'unet_256' needs images of at least 256 px" in text
    assert "Nearest crop sizes that fit: 256" in text and "unet_64" in text and "--generator NAME" in text
    spec = DataSpec("unpaired", {"A": 3, "B": 3}, 70)
    with pytest.raises(ConfigError, match=r"'resnet_9blocks' .* Nearest crop sizes that fit: 68, 72 .*no registered generator fits 70 px"):
        get_recipe("cyclegan")({"ngf": 4, "ndf": 4}, spec).build_networks()


# -- the command line ----------------------------------------------------------------------------------

def test_debug_works_after_the_subcommand(capsys):
    assert main(["plugins", "uninstall", "networks", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
    assert main(["plugins", "uninstall", "networks"]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_unknown_recipe_is_a_usage_error_before_torch_loads():
    code = ("import sys\nfrom gantrans.cli.main import main\n"
            "rc = main(['train', 'cyclegn', '--data', 'nowhere'])\n"
            "print('torch' in sys.modules)\nsys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stdout.strip() == "False"
    assert "unknown recipe 'cyclegn'; did you mean 'cyclegan'?" in out.stderr and out.stderr.count("\n") == 1


def test_generation_recipes_default_to_the_papers_batch_size(fresh_plugins):
    for recipe in ("vanilla", "cgan"):
        cfg = train_cmd.config_from_args(build_parser().parse_args(["train", recipe, "--data", "x"]))
        assert cfg.batch_size == 128 and cfg.sample_every_steps == 50
        cfg = train_cmd.config_from_args(build_parser().parse_args(["train", recipe, "--data", "x",
                                                                    "--batch-size", "16"]))
        assert cfg.batch_size == 16
    cfg = train_cmd.config_from_args(build_parser().parse_args(["train", "cyclegan", "--data", "x"]))
    assert cfg.batch_size == 1 and cfg.sample_every_steps == 0


# -- learning-rate schedule and extending a run ----------------------------------------------------------

def test_the_schedule_split_follows_the_requested_length():
    assert TrainConfig().schedule_split() == (100, 100)
    assert TrainConfig(epochs=5).schedule_split() == (3, 2)
    assert TrainConfig(epochs=5).schedule_split(length=2) == (1, 1)
    assert TrainConfig(epochs=10, n_epochs=8).schedule_split() == (8, 2)
    assert TrainConfig(n_epochs=3, n_epochs_decay=1).total_epochs == 4


def test_rate_decays_within_a_short_run_and_resume_extends_it(tiny, tmp_path, capsys):
    # 16 items, batch 4: 4 steps per epoch; 4 epochs -> 2 at the full rate, 2 decaying.
    assert train(fx.base_args(tmp_path, "lr", "--epochs", "4")) == 0
    rows = RunDir(tmp_path / "lr").metrics()[0]
    rates = [r["lr/G"] for r in rows]
    base = rates[0]
    assert rates[3] == base and rates[4] == base and rates[8] < base and rates[-1] < base * 0.5
    assert sorted(set(rates), reverse=True) == list(dict.fromkeys(rates))  # never rises
    capsys.readouterr()
    assert train(["--resume", str(tmp_path / "lr")]) == 0
    err = capsys.readouterr().err
    assert f"nothing to do: 16 steps done, the run asks for 16; to train longer: gantrans train --resume " \
           f"{tmp_path / 'lr'} --epochs N (N > 4)" in err
    # a shorter length is refused, and the run's status is left as it was
    before = (tmp_path / "lr" / "status.json").read_bytes()
    with pytest.raises(ConfigError, match="the run has done 16 steps and --max-steps asks for 5; a run cannot be "
                                          "shortened"):
        train(["--resume", str(tmp_path / "lr"), "--max-steps", "5"])
    assert (tmp_path / "lr" / "status.json").read_bytes() == before
    assert train(["--resume", str(tmp_path / "lr"), "--epochs", "8"]) == 0
    rows = RunDir(tmp_path / "lr").metrics()[0]
    assert rows[-1]["step"] == 32
    # the extended run follows the 8-epoch schedule from its first new step: 4 full + 4 decaying
    assert rows[16]["lr/G"] == pytest.approx(base * (1 - 1 / 5))
    # --max-steps alone shortens the schedule too (2 epochs of 4 steps)
    assert train(fx.base_args(tmp_path, "ms", "--max-steps", "8")) == 0
    assert RunDir(tmp_path / "ms").metrics()[0][-1]["lr/G"] == pytest.approx(base * 0.5)


# -- what training says and writes ------------------------------------------------------------------------

def test_epochs_shorter_than_the_step_grid_interval_end_without_a_grid_or_a_checkpoint(tiny, tmp_path, capsys,
                                                                                        monkeypatch):
    """A set smaller than the batch (vanilla's 128 on 60 images) makes one-step epochs: a grid at
    each was a grid per step (300 files in a 150-step run), and a kept checkpoint at each two
    ~75 MB writes per step; the step grids and the step checkpoints asked for carry on."""
    from gantrans.training.trainer import Trainer

    saves = []
    real = Trainer.save_checkpoint
    monkeypatch.setattr(Trainer, "save_checkpoint", lambda self, epoch_file=False: (
        saves.append((self.step, epoch_file)), real(self, epoch_file))[1])
    args = fx.base_args(tmp_path, "short", "--max-steps", "8", "--sample-every-steps", "4", "--checkpoint-every", "3")
    args[args.index("--batch-size") + 1] = "16"  # the 16 items in one batch: epochs of one step
    assert train(args) == 0
    err = capsys.readouterr().err
    assert "sample grids: " in err and "(every 4 steps; not each epoch: an epoch is 1 step(s))" in err
    assert (f"  checkpoints:  {tmp_path / 'short' / 'checkpoints'} (every 3 steps, at the end; not each epoch: "
            f"an epoch is 1 step(s))") in err
    assert sorted(p.name for p in (tmp_path / "short" / "samples").glob("*.png")) == \
        ["step_0000004.png", "step_0000008.png"]
    assert saves == [(3, False), (6, False), (8, False)]
    assert not list((tmp_path / "short" / "checkpoints").glob("epoch_*"))
    assert train(["--resume", str(tmp_path / "short"), "--max-steps", "10"]) == 0  # and it resumes from there
    assert RunDir(tmp_path / "short").metrics()[0][-1]["step"] == 10


def test_start_says_where_to_look_and_openmp_only_when_verbose(tiny, tmp_path, capsys):
    pytest.importorskip("tensorboard")
    args = [a for a in fx.base_args(tmp_path, "look", "--max-steps", "4", "--sample-every-steps", "2")
            if a != "--no-tensorboard"]
    assert train(args) == 0
    err = capsys.readouterr().err
    run = tmp_path / "look"
    assert "training 'tinygan' on cpu" in err and "batch 4, 200 epochs of 4 steps, stopping at step 4" in err
    assert f"  run folder:   {run}" in err
    assert f"  sample grids: {run / 'samples'} (every 1 epoch(s), every 2 steps)" in err
    assert f"  TensorBoard:  tensorboard --logdir {run / 'tensorboard'}" in err
    assert (f"  checkpoints:  {run / 'checkpoints'} (every 500 steps, at each epoch's end, the last 5 kept and at "
            f"the end)") in err
    assert f"continue with: gantrans train --resume {run}" in err
    assert "OpenMP" not in err
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == ["epoch_0001.png", "step_0000002.png"]
    # in the order they were drawn: the step-2 grid before the epoch end at step 4
    assert [p.name for p in RunDir(run).samples()] == ["step_0000002.png", "epoch_0001.png"]

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()
    assert "samples" in tags["images"] and len(events.Images("samples")) == 2
    assert "time" not in tags["scalars"] and "epoch_step" not in tags["scalars"]
    assert "lr/G" in tags["scalars"]

    assert train(fx.base_args(tmp_path, "verbose", "--max-steps", "1") + ["--verbose"]) == 0
    assert "OpenMP wait" in capsys.readouterr().err


def test_the_progress_bar_shows_the_epoch_and_fits_100_columns(tmp_path):
    stream = io.StringIO()
    log = RunLogger(tmp_path, tensorboard=False, total_steps=120, stream=stream, ncols=100)
    terms = {f"{k}_{d}": 1.23456 for k in ("G", "cycle", "idt", "D_real", "D_fake") for d in "AB"}
    for _ in range(44):
        log.progress(1, terms, epoch=2, epochs=3)
    time.sleep(0.15)  # past tqdm's refresh interval: the next update is drawn
    log.progress(1, terms, epoch=2, epochs=3)
    log.close()
    screens = [s for line in stream.getvalue().split("\n") for s in line.split("\r") if s.strip()]
    text = [s.replace("\x1b[A", "") for s in screens]
    assert all(len(s) <= 100 for s in text)
    bars = [s for s in text if s.startswith("epoch 2/3")]
    assert bars and "45/120" in bars[-1] and bars[-1].count("#") + bars[-1].count("█") >= 10
    assert any("G_A 1.23" in s and "..." in s for s in text)  # the losses, cut to the width


def test_batch_larger_than_the_data_says_so(tiny, tmp_path, capsys):
    args = fx.base_args(tmp_path, "big", "--max-steps", "1")
    args[args.index("--batch-size") + 1] = "128"
    assert train(args) == 0
    assert "batch 16 (the data set has 16 images; 128 asked)" in capsys.readouterr().err


def test_demo_report_and_checkpoint_hints_import_no_torch():
    code = ("import sys\nimport gantrans.demo_report, gantrans.inference.not_onnx\n"
            "print('torch' in sys.modules)")
    env = {**os.environ}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_a_made_up_run_name_that_is_taken_gets_a_number(tmp_path):
    from gantrans.training.trainer import _claim_run_dir

    (tmp_path / "cyclegan-20261202-210046").mkdir()
    assert _claim_run_dir(tmp_path, "cyclegan-20261202-210046") == "cyclegan-20261202-210046-2"
    assert _claim_run_dir(tmp_path, "cyclegan-20261202-210046") == "cyclegan-20261202-210046-3"
    assert _claim_run_dir(tmp_path / "new", "x") == "x" and (tmp_path / "new" / "x").is_dir()


def test_printed_commands_quote_a_run_folder_with_spaces(tiny, tmp_path, capsys):
    runs = tmp_path / "my runs"
    assert train(fx.base_args(runs, "run 1", "--max-steps", "1")) == 0
    err = capsys.readouterr().err
    assert f"continue with: gantrans train --resume '{runs / 'run 1'}'" in err
