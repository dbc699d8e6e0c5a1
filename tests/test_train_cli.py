"""``gantrans train`` and ``gantrans bench train`` from the command line, and end to end with the
built-in recipes on a built-in data set at 32 px."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import trainer_fixtures as fx

from gantrans.cli import train_cmd
from gantrans.cli.main import build_parser, main
from gantrans.errors import ConfigError
from gantrans.recipe import get_recipe
from gantrans.runs import RunDir
from gantrans.training.checkpoint import load_checkpoint, recipe_from_checkpoint

train = fx.train


def test_building_the_parsers_imports_no_torch():
    code = ("import argparse, sys\n"
            "from gantrans.cli import train_cmd, bench_cmd\n"
            "p = argparse.ArgumentParser(); s = p.add_subparsers()\n"
            "train_cmd.add_parsers(s); bench_cmd.add_parsers(s)\n"
            "p.parse_args(['train', 'cyclegan', '--data', 'x', '-o', 'ngf=8'])\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_flags_override_a_toml_config_and_options_parse_as_json(tmp_path):
    file = tmp_path / "run.toml"
    file.write_text('recipe = "cyclegan"\ndata = "shapes"\nbatch-size = 2\nepochs = 7\n'
                    '[model]\nngf = 16\nlambda_A = 5.0\n')
    args = build_parser().parse_args(["train", "--config", str(file), "--epochs", "3", "--loss", "hinge",
                                      "-o", "ngf=8", "-o", "direction=BtoA", "-o", "dropout=true", "--no-flip"])
    cfg = train_cmd.config_from_args(args)
    assert (cfg.recipe, cfg.data, cfg.batch_size, cfg.epochs, cfg.flip) == ("cyclegan", "shapes", 2, 3, False)
    assert cfg.model == {"ngf": 8, "lambda_A": 5.0, "loss": "hinge", "direction": "BtoA", "dropout": True}
    assert cfg.resolved_load_size == 286 and cfg.total_epochs == 3
    (tmp_path / "bad.json").write_text(json.dumps({"recipe": "x", "data": "y", "batchsize": 2}))
    with pytest.raises(ConfigError, match="bad.json: unknown setting 'batchsize'"):
        train_cmd.config_from_args(build_parser().parse_args(["train", "--config", str(tmp_path / "bad.json")]))
    with pytest.raises(ConfigError, match="--data is required"):
        train_cmd.config_from_args(build_parser().parse_args(["train", "cyclegan"]))


def test_train_then_resume_with_no_other_flags(tiny, tmp_path, capsys):
    assert train(fx.base_args(tmp_path, "cli", "--max-steps", "2", "-o", "width=3", "--seed", "5")) == 0
    err = capsys.readouterr().err
    assert "training 'tinygan' on cpu" in err and "precision fp32" in err
    run = tmp_path / "cli"
    assert json.loads((run / "config.json").read_text())["model"]["width"] == 3
    assert train(["--resume", str(run), "--max-steps", "5"]) == 0
    assert [r["step"] for r in RunDir(run).metrics()[0]] == [1, 2, 3, 4, 5]
    ckpt = load_checkpoint(run)
    assert ckpt["config"]["seed"] == 5 and ckpt["model_config"]["width"] == 3 and ckpt["step"] == 5
    with pytest.raises(ConfigError, match="cannot change"):
        train(["--resume", str(run), "-o", "width=8"])
    with pytest.raises(ConfigError, match="batch_size cannot change"):
        train(["--resume", str(run), "--batch-size", "8"])
    with pytest.raises(ConfigError, match="already exists"):
        train(fx.base_args(tmp_path, "cli", "--max-steps", "1"))
    # said before the data is read: not its warnings, nor its errors first
    args = fx.base_args(tmp_path, "cli", "--max-steps", "1")
    args[args.index("--data") + 1] = str(tmp_path / "no such data")
    with pytest.raises(ConfigError, match="cli already exists; choose another --name"):
        train(args)


def test_resume_with_more_epochs_lengthens_a_run_capped_by_max_steps(tiny, tmp_path, capsys):
    """README: 'gantrans train --resume runs/h2z --epochs 40' trains a finished run longer, also one
    that --max-steps stopped (its cap made the new length a no-op before)."""
    assert train(fx.base_args(tmp_path, "cap", "--max-steps", "2", "--epochs", "1")) == 0  # 4 steps per epoch
    capsys.readouterr()
    assert train(["--resume", str(tmp_path / "cap"), "--epochs", "2"]) == 0
    err = capsys.readouterr().err
    assert "the run was capped at --max-steps 2; the --epochs given now sets its length instead" in err
    assert load_checkpoint(tmp_path / "cap")["step"] == 8


def test_bf16_on_cpu_through_the_cli(tiny, tmp_path):
    assert train(fx.base_args(tmp_path, "bf", "--max-steps", "2") + ["--precision", "bf16"]) == 0
    cfg = json.loads((tmp_path / "bf" / "config.json").read_text())
    assert cfg["precision"] == "bf16" and cfg["resolved"]["precision"] == "bf16"
    rows = list(RunDir(tmp_path / "bf").metrics()[0])
    assert len(rows) == 2 and all(torch.isfinite(torch.tensor(r["G_l1"])) for r in rows)


def test_unknown_recipe_option_is_one_line(tiny, tmp_path):
    with pytest.raises(ConfigError, match="recipe 'tinygan' has no option"):
        train(fx.base_args(tmp_path, "x", "-o", "nosuch=1"))
    assert not (tmp_path / "x").exists()


def test_bench_train_prints_the_figures(tiny, capsys):
    code = main(["bench", "train", "tinygan", "--crop", "32", "--batch", "2", "--steps", "2", "--warmup", "1",
                 "--device", "cpu", "--precision", "fp32", "-o", "width=2", "--json"])
    assert code == 0
    r = json.loads(capsys.readouterr().out)
    assert r["precision"] == "fp32" and r["batch"] == 2 and r["steps"] == 2 and r["crop"] == 32
    assert r["median_s_per_it"] > 0 and r["images_per_s"] == pytest.approx(2 / r["median_s_per_it"])
    assert r["peak_memory_bytes"] > 10 * 2**20 and r["peak_memory_kind"] == "peak RSS"
    assert r["flops_per_step"] > 0
    assert r["achieved_flops_per_s"] == pytest.approx(r["flops_per_step"] / r["median_s_per_it"])


def test_bench_counts_the_flops_of_a_step():
    """The count is the convolutions' own arithmetic: forward once, backward twice (input and weight
    gradients) for a discriminator step on a single conv layer — also where the step would compute
    it by Winograd's fewer products (float32 on the CPU), which the count leaves switched on after."""
    from gantrans.training import winograd
    from gantrans.training.bench import count_step_flops

    class OneConv:
        def __init__(self):
            self.net = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False)
            self.nets = self.run_nets = {"D": self.net}
            self.winograd = True
            self.convolved_by = []

        def step(self, data, step):
            with winograd.fast_convolutions(winograd.Workspace() if self.winograd else None):
                y = self.net(data.requires_grad_())
            self.convolved_by.append(y.grad_fn.name())
            y.sum().backward()

    engine = OneConv()
    x = torch.rand(1, 256, 16, 16)
    forward = 2 * (16 * 16) * 256 * 256 * 9  # 2 FLOPs per multiply-add, per output element and tap
    assert count_step_flops(engine, x, 0) == 3 * forward
    assert engine.convolved_by == ["ConvolutionBackward0"] and engine.winograd
    engine.step(x, 1)
    assert engine.convolved_by[-1] == "_WinogradBackward"
    engine.run_nets = {"D": torch.nn.Identity()}  # what torch.compile leaves: kernels the counter cannot see
    assert count_step_flops(engine, x, 0) is None


# -- the real recipes ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Built-in data sets are written once and shared by the end-to-end tests."""
    return tmp_path_factory.mktemp("gantrans-data")


@pytest.mark.slow
@pytest.mark.parametrize("recipe,extra", [
    ("cyclegan", ["-o", "ngf=4", "-o", "ndf=4", "--generator", "resnet_6blocks", "-o", "pool_size=2"]),
    ("pix2pix", ["-o", "ngf=4", "-o", "ndf=4", "--generator", "unet_32"]),
])
def test_builtin_recipe_end_to_end(tmp_path, data_dir, recipe, extra):
    # A fresh interpreter, as a user runs it: train, then resume to a second epoch.
    argv = ["train", recipe, "--data", "shapes", "--runs-dir", str(tmp_path / "runs"), "--name", "e2e",
            "--crop-size", "32", "--load-size", "36", "--max-items", "4", "--batch-size", "2", "--epochs", "1",
            "--workers", "0", "--device", "cpu", "--precision", "fp32", "--samples", "2", "--no-tensorboard",
            "--log-every", "1", *extra]
    run = tmp_path / "runs" / "e2e"
    code = ("import sys, torch; torch.set_num_threads(1)\n"
            "from gantrans.cli.main import main\n"
            f"assert main({argv!r}) == 0\n"
            f"assert main(['train', '--resume', {str(run)!r}, '--epochs', '2']) == 0\n")
    env = {**os.environ, "GANTRANS_DATA_DIR": str(data_dir)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(RunDir(run).metrics()[0])
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(isinstance(v, float) for r in rows for k, v in r.items() if k.startswith(("G", "D")))
    assert [p.name for p in RunDir(run).samples()] == ["epoch_0001.png", "epoch_0002.png"]
    ckpt = load_checkpoint(run)
    assert ckpt["recipe"]["name"] == recipe and ckpt["epoch"] == 2
    assert recipe_from_checkpoint(ckpt).export_heads()


def test_each_unusable_training_file_is_named_once_even_with_warnings_ignored(tmp_path):
    """Through the real CLI: header-bad files at the scan, a truncated one when it is decoded."""
    import numpy as np
    from PIL import Image

    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    for domain in ("trainA", "trainB"):
        (data / domain).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(data / domain / f"{i}.png")
    (data / "trainA" / "empty.png").write_bytes(b"")
    (data / "trainB" / "junk.png").write_text("not an image")
    whole = (data / "trainA" / "0.png").read_bytes()
    (data / "trainA" / "cut.png").write_bytes(whole[: len(whole) // 2])  # a good header, truncated data
    argv = fx.base_args(tmp_path, "w", "--data", str(data), "--max-steps", "4", "--samples", "2")
    code = ("import sys, torch; torch.set_num_threads(1)\n"
            f"sys.path.insert(0, {str(Path(fx.__file__).parent)!r})\n"
            "import trainer_fixtures as fx; fx.install()\n"
            "from gantrans.cli.main import main\n"
            f"sys.exit(main(['train', *{argv!r}]))\n")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stderr.splitlines()
    for name in ("empty.png", "junk.png", "cut.png"):
        named = [line for line in lines if name in line]
        assert len(named) == 1, (name, proc.stderr)
        assert named[0].startswith("gantrans: warning: skipping ") and str(data) in named[0]
    summary = [line for line in lines if "unusable file(s) skipped" in line]
    assert summary == [f"gantrans: warning: 2 unusable file(s) skipped in {data}; training on 5 items"]
    assert "scan_images" not in proc.stderr and "DataWarning" not in proc.stderr


def test_bad_options_are_usage_errors_answered_before_torch_loads():
    code = ("import sys\n"
            "from gantrans.cli.main import main\n"
            "codes = [main(['train', 'cyclegan', '--data', 'x', '-o', o]) for o in sys.argv[1:]]\n"
            "print(codes, 'torch' in sys.modules)")
    opts = ["ngf", "=3", "lr=Infinity", "lr=NaN", "lr=1e999", "lr=0", "lr=-1", "lr=fast", "ngf=-Infinity"]
    out = subprocess.run([sys.executable, "-c", code, *opts], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == f"{[2] * len(opts)} False", out.stderr
    err = out.stderr
    assert "-o 'ngf': expected KEY=VALUE" in err and "-o lr=Infinity: Infinity is not a finite number" in err
    assert "-o lr=0: a learning rate must be a finite number > 0" in err
    assert "Traceback" not in err


def test_nonfinite_or_nonpositive_rates_are_refused_from_config_files_too(tiny, tmp_path):
    from gantrans.recipe import DataSpec

    spec = DataSpec("paired", {"A": 3, "B": 3}, 32)
    for lr in (float("inf"), float("nan"), 0.0, -1e-4):
        with pytest.raises(ConfigError, match=r"option 'lr' must lie in \(0, inf\)"):
            get_recipe("pix2pix")({"lr": lr, "ngf": 4, "ndf": 4}, spec)
    # A recipe of any family: the trainer checks what the recipe asks the optimiser for.
    with pytest.raises(ConfigError, match=r"optimizer 'G' has learning rate inf; it must be a finite number > 0"):
        train(fx.base_args(tmp_path, "inf", "--max-steps", "1", "--config", _toml(tmp_path)))


def _toml(tmp_path) -> str:
    file = tmp_path / "c.toml"
    file.write_text("[model]\nlr = inf\n")
    return str(file)


def test_a_batch_larger_than_the_data_set_is_said(tiny, tmp_path, capsys):
    assert train(fx.base_args(tmp_path, "big", "--data", "mem:3", "--batch-size", "16", "--max-steps", "2")) == 0
    err = capsys.readouterr().err
    assert "gantrans: warning: the batch size (16) is larger than the data set (3 items); every step trains on a " \
           "batch of 3" in err


def test_a_run_name_from_a_config_file_cannot_leave_the_runs_folder(tiny, tmp_path):
    runs = tmp_path / "a" / "runs"
    (tmp_path / "c.json").write_text(json.dumps({"name": "../../escaped"}))
    with pytest.raises(ConfigError, match=r"run name '../../escaped': use one plain folder name"):
        train([a for a in fx.base_args(runs, "x", "--max-steps", "1") if a not in ("--name", "x")]
              + ["--config", str(tmp_path / "c.json")])
    assert not (tmp_path / "escaped").exists() and not runs.exists()


@pytest.mark.parametrize("named", [True, False])
def test_a_runs_folder_that_cannot_be_written_is_one_line(tiny, tmp_path, monkeypatch, named):
    """Root is not stopped by permissions, so the refusal is the OS's EPERM (what an immutable or
    read-only folder gives), raised for anything made under ``ro``."""
    import errno
    from pathlib import Path

    ro = tmp_path / "ro"
    ro.mkdir()
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if ro in self.parents:
            raise PermissionError(errno.EPERM, "Operation not permitted", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    args = fx.base_args(ro, "x", "--max-steps", "1")
    if not named:
        args = [a for a in args if a not in ("--name", "x")]
    with pytest.raises(ConfigError) as info:
        train(args)
    assert str(info.value) == f"{ro}: cannot write here (operation not permitted); choose another folder; " \
                              f"no run was started"


def test_a_run_with_a_relative_data_folder_resumes_and_exports_from_anywhere(tmp_path, monkeypatch, capsys):
    """The data folder was given relative to where training started; resume and int8 calibration
    find it from another folder (the README: a resumed run needs no other flag)."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    assert main(["data", "make", "shapes", "u", "--form", "unpaired"]) == 0
    for side in ("testA", "testB"):  # one test image a side: calibration must use the train split
        for extra in sorted((project / "u" / side).iterdir())[1:]:
            extra.unlink()
    common = ["--crop-size", "32", "--workers", "0", "--no-tensorboard", "--samples", "0", "-o", "ngf=4", "-o", "ndf=4"]
    assert main(["train", "cyclegan", "--data", "u", "--name", "rel", "--max-steps", "1", *common]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    run = project / "runs" / "rel"
    assert main(["train", "--resume", str(run), "--max-steps", "2"]) == 0, capsys.readouterr().err
    assert RunDir(run).status().step == 2
    assert main(["export", str(run), "--int8", "--out", str(tmp_path / "ex"), "--heads", "A2B"]) == 0, \
        capsys.readouterr().err
    assert (tmp_path / "ex" / "rel_A2B.int8.onnx").is_file()



def test_a_run_whose_data_folder_moved_resumes_with_data_pointing_at_the_new_place(tmp_path, monkeypatch, capsys):
    """The folder renamed: the resume says so and how to go on; --data NEW is taken when it holds the
    run's images (and then remembered), refused when it holds others, and nothing is written then."""
    import shutil

    from PIL import Image

    monkeypatch.chdir(tmp_path)
    assert main(["data", "make", "shapes", "u", "--form", "unpaired"]) == 0
    common = ["--crop-size", "32", "--workers", "0", "--no-tensorboard", "--samples", "0", "-o", "ngf=4", "-o", "ndf=4"]
    assert main(["train", "cyclegan", "--data", "u", "--name", "mv", "--max-steps", "1", *common]) == 0
    run = tmp_path / "runs" / "mv"
    shutil.copytree(tmp_path / "u", tmp_path / "other")
    next((tmp_path / "other" / "trainA").glob("*.png")).unlink()
    (tmp_path / "u").rename(tmp_path / "renamed")
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--max-steps", "2"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert (f"its data folder {tmp_path / 'u'} is gone (moved or renamed?); put it back, or give the same images "
            f"in their new place: gantrans train --resume {run} --data NEW_FOLDER") in err
    before = {f: f.read_bytes() for f in run.rglob("*") if f.is_file()}
    assert main(["train", "--resume", str(run), "--max-steps", "2", "--data", "other"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert (f"--data {tmp_path / 'other'}: not the images the run was trained on: images were replaced (the same "
            f"count, other files); resume without --data") in err
    assert {f: f.read_bytes() for f in run.rglob("*") if f.is_file()} == before
    assert main(["train", "--resume", str(run), "--max-steps", "2", "--data", "renamed"]) == 0, capsys.readouterr().err
    assert RunDir(run).status().step == 2
    assert json.loads((run / "config.json").read_text())["data"] == str(tmp_path / "renamed")  # remembered
    # other pictures under the same names (sets are often numbered 0001.png ...): refused too
    fake = tmp_path / "fake"
    shutil.copytree(tmp_path / "renamed", fake)
    for f in (fake / "trainB").glob("*.png"):
        Image.new("RGB", (64, 64), "red").save(f)
    assert main(["train", "--resume", str(run), "--max-steps", "3", "--data", "fake"]) == 1
    assert ("not the images the run was trained on: images were edited or replaced (the same file names, other "
            "file sizes)") in " ".join(capsys.readouterr().err.split())

def test_preprocess_none_with_images_of_two_sizes_is_one_line_before_any_run_folder(tmp_path, monkeypatch, capsys):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    assert main(["data", "make", "shapes", "u", "--form", "unpaired"]) == 0
    odd = sorted((tmp_path / "u" / "trainB").glob("*.png"))[3]
    Image.open(odd).resize((40, 40)).save(odd)
    capsys.readouterr()
    assert main(["train", "cyclegan", "--data", "u", "--name", "n", "--crop-size", "32", "--workers", "0",
                 "--no-tensorboard", "--preprocess", "none", "--max-steps", "1", "-o", "ngf=4", "-o", "ndf=4"]) == 1
    err = capsys.readouterr().err
    assert f"is 64x64 and {Path('u') / 'trainB' / odd.name} is 40x40" in err and "--preprocess resize_and_crop" in err
    assert "internal error" not in err and not (tmp_path / "runs").exists()


def test_the_defaults_train_help_states_are_the_configs():
    """The parsers are built without torch, so the help states defaults as text: kept true here."""
    from gantrans.training.config import DEFAULT_EPOCHS, TrainConfig

    text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    fields = {f.name: f.default for f in TrainConfig.__dataclass_fields__.values()}
    assert f"total epochs (default {DEFAULT_EPOCHS}, the paper's: {DEFAULT_EPOCHS // 2} at the" in text
    assert f"(default {fields['seed']})" in text and f"(default {fields['lr_policy']})" in text
    assert f"write a sample grid every N epochs (default {fields['sample_every_epoch']})" in text
