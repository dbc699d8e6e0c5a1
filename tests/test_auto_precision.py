"""--precision auto on a CPU with native bf16: bf16 only where the step does enough arithmetic
per weight to pay for autocast's casts (gantrans.training.auto_precision)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
import trainer_fixtures as fx
from test_trainer import tiny_config

from gantrans.recipe import get_recipe
from gantrans.training import Trainer, auto_precision, devices
from gantrans.training.bench import synthetic_spec

CPU = torch.device("cpu")


@pytest.fixture
def bf16_cpu(monkeypatch):
    """Decide as a CPU with AVX512-BF16/AMX would, whatever this machine has."""
    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: True)


def maker(recipe: str, crop: int, **options):
    cls = get_recipe(recipe)
    return lambda: cls(dict(options), synthetic_spec(cls, crop))


def test_weight_heavy_steps_keep_fp32_and_bigger_batches_or_images_switch_to_bf16(bf16_cpu):
    unet = maker("pix2pix", 32, generator="unet_32")  # measured 0.85x in bf16 at batch 1
    intensity = auto_precision.step_flops_per_param(unet, 1, 0, CPU)
    assert intensity < auto_precision.BF16_MIN_FLOPS_PER_PARAM
    precision, why = auto_precision.pick_precision("auto", CPU, unet, 1)
    assert precision == "fp32" and "FLOPs per weight" in why
    # the same networks on 32 images per step do 32x the arithmetic per weight
    assert auto_precision.step_flops_per_param(unet, 32, 0, CPU) == pytest.approx(32 * intensity, rel=0.01)
    assert auto_precision.pick_precision("auto", CPU, unet, 32)[0] == "bf16"
    resnet = maker("cyclegan", 64, generator="resnet_6blocks", ngf=8, ndf=8)  # paper sizes: 1.76x
    assert auto_precision.pick_precision("auto", CPU, resnet, 1)[0] == "bf16"
    # an explicit choice is never second-guessed
    assert auto_precision.pick_precision("bf16", CPU, unet, 1) == ("bf16", "")
    assert auto_precision.pick_precision("fp32", CPU, resnet, 1) == ("fp32", "")


def test_without_native_bf16_auto_is_fp32_without_counting(monkeypatch):
    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: False)

    def never():
        raise AssertionError("no step needs counting")

    assert auto_precision.pick_precision("auto", CPU, never, 1) == ("fp32", "")


def test_counting_leaves_every_random_generator_where_it_was(bf16_cpu):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = (random.random(), np.random.rand(), torch.rand(3))
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    auto_precision.pick_precision("auto", CPU, maker("cyclegan", 32, generator="resnet_6blocks", ngf=4, ndf=4), 1)
    got = (random.random(), np.random.rand(), torch.rand(3))
    assert got[:2] == expected[:2] and torch.equal(got[2], expected[2])


@pytest.mark.parametrize("crop, batch, expected", [(8, 1, "fp32"), (32, 4, "bf16")])
def test_a_run_records_what_auto_picked_and_says_why(tiny, tmp_path, bf16_cpu, capsys, crop, batch, expected):
    config = tiny_config(tmp_path, precision="auto", crop_size=crop, batch_size=batch, max_steps=1, samples=0)
    Trainer(config, open_dataset=fx.open_memory).run()
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["precision"] == "auto" and cfg["resolved"]["precision"] == expected
    out = capsys.readouterr()
    assert f"precision {expected} (auto: " in out.out + out.err


def test_the_step_is_counted_on_the_meta_device_and_on_the_cpu_only_where_it_must(bf16_cpu, monkeypatch):
    """Counting on ``meta`` costs no time and no memory (a real fp32 probe would raise a bf16
    run's peak memory to fp32's); it gives the very count of a real step, and a recipe that
    cannot run on ``meta`` is counted for real instead."""
    unet = maker("pix2pix", 32, generator="unet_32")
    real = auto_precision._real_step(unet(), 2, 0, CPU)
    assert auto_precision._meta_step(unet(), 2, 0) == real

    def no_real_step(*args):
        raise AssertionError("the built-in recipes count on the meta device")

    monkeypatch.setattr(auto_precision, "_real_step", no_real_step)
    for make in (unet, maker("cyclegan", 32, generator="resnet_6blocks", ngf=4, ndf=4)):
        auto_precision.pick_precision("auto", CPU, make, 1)
    monkeypatch.undo()
    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: True)

    def needs_numbers(*args):
        raise RuntimeError("Tensor.item() cannot be called on meta tensors")

    monkeypatch.setattr(auto_precision, "_meta_step", needs_numbers)
    assert auto_precision.step_flops_per_param(unet, 2, 0, CPU) == pytest.approx(real[0] / real[1])
