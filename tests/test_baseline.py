"""The arithmetic guard for speed work: gantrans's Engine step and the reference's plain loop
(:mod:`gantrans.training.baseline`), from the same initial weights on the same batches, give the
same loss terms step after step in fp32 on the CPU.

Pools: CycleGAN's image pools hold 50 images; a pool that is still filling returns its input and
draws no random numbers, in gantrans's pool and in the reference's alike, so three steps at
batch 1 see identical fakes without sharing an RNG. pix2pix: the reference updates D first;
gantrans's recipe updates G first (documented in the recipe). The loop's ``g_first`` switch runs
gantrans's order so every term is compared; in the reference's own order the first step's terms
that do not depend on the order (D's, and G's L1) must agree as well.
"""

from __future__ import annotations

import pytest
import torch

from gantrans.recipe import get_recipe, preset_options
from gantrans.training.baseline import gantrans_terms, reference_loop
from gantrans.training.bench import synthetic_batch, synthetic_spec
from gantrans.training.engine import Engine, build_networks

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


def _losses(recipe: str, options: dict, steps: int = 3, crop: int = 32, **loop_kwargs):
    cls = get_recipe(recipe)
    options = {**preset_options(cls, "paper"), **options}  # the reference's settings
    spec = synthetic_spec(cls, crop)
    batches = [synthetic_batch(spec, 1, seed=s) for s in range(steps)]
    ours_recipe = cls(dict(options), spec)
    engine = Engine(ours_recipe, build_networks(ours_recipe, 7), CPU, "fp32")
    ref_recipe = cls(dict(options), spec)
    loop = reference_loop(ref_recipe, build_networks(ref_recipe, 7), CPU, **loop_kwargs)
    ours, ref = [], []
    for i, batch in enumerate(batches):
        torch.manual_seed(100 + i)  # dropout draws the same masks in both loops
        ours.append(gantrans_terms(recipe, engine.step(batch, i).terms))
        torch.manual_seed(100 + i)
        ref.append(loop.step(batch))
    return ours, ref


def _assert_close(ours: list[dict], ref: list[dict], keys=None) -> None:
    for step, (a, b) in enumerate(zip(ours, ref)):
        names = keys or sorted(b)
        assert sorted(a) == sorted(b) or keys
        for name in names:
            assert a[name] == pytest.approx(b[name], rel=1e-4, abs=1e-6), (step, name, a[name], b[name])


@pytest.mark.parametrize("options", [{}, {"direction": "BtoA", "loss": "vanilla", "lambda_identity": 0.0}])
def test_cyclegan_step_matches_the_reference_loop(options):
    ours, ref = _losses("cyclegan", {"generator": "resnet_6blocks", "ngf": 8, "ndf": 8, **options})
    assert len(ref[0]) == (8 if "lambda_identity" not in options else 6)
    _assert_close(ours, ref)
    # the steps changed the weights: the later losses are not the first ones again
    assert ours[2]["G_A"] != pytest.approx(ours[0]["G_A"], rel=1e-3)


def test_cyclegan_step_with_winograd_convolutions_matches_the_reference_loop(monkeypatch):
    """fp32 on the CPU computes the residual blocks' convolutions by Winograd (256 channels at
    16x16 here): other rounding, the same losses. One step only: at this width the first Adam
    update (about lr times the sign of each gradient) turns rounding in near-zero gradients into
    differences of 1e-3 by the third step for torch's own convolution too; the gradients are
    compared in tests/test_winograd.py."""
    from gantrans.training import winograd

    calls = []
    real = winograd.conv3x3
    monkeypatch.setattr(winograd, "conv3x3", lambda *a, **k: calls.append(1) or real(*a, **k))
    ours, ref = _losses("cyclegan", {"generator": "resnet_6blocks", "ngf": 64, "ndf": 8}, steps=1, crop=64)
    assert len(calls) >= 2 * 12  # G_A's and G_B's 12 residual convolutions at least
    for name in ref[0]:
        assert ours[0][name] == pytest.approx(ref[0][name], rel=1e-5), name


def test_pix2pix_step_matches_the_reference_loop():
    options = {"generator": "unet_32", "ngf": 8, "ndf": 8}
    ours, ref = _losses("pix2pix", options, g_first=True)
    _assert_close(ours, ref)
    ours, ref = _losses("pix2pix", options, steps=1)  # the reference's own order
    _assert_close(ours, ref, keys=("D", "G_L1"))
    assert ours[0]["G_GAN"] != pytest.approx(ref[0]["G_GAN"], rel=1e-6)  # D was updated first there


def test_a_recipe_without_a_reference_loop_is_refused():
    from gantrans.errors import ConfigError

    cls = get_recipe("vanilla")
    rec = cls({}, synthetic_spec(cls, 32))
    with pytest.raises(ConfigError, match="no reference training loop for recipe 'vanilla'"):
        reference_loop(rec, {}, CPU)


def test_settings_the_reference_does_not_have_are_refused():
    from gantrans.errors import ConfigError

    cls = get_recipe("pix2pix")
    rec = cls({"generator": "unet_32"}, synthetic_spec(cls, 32))  # the defaults: residual, augment_D
    with pytest.raises(ConfigError, match="no residual=True, augment_D=translation.*--preset paper"):
        reference_loop(rec, {}, CPU)


def test_bench_train_baseline_interleaves_and_reports_the_ratio(capsys):
    import json

    from gantrans.cli.main import main

    args = ["bench", "train", "cyclegan", "--crop", "32", "--device", "cpu", "--steps", "2", "--warmup", "1",
            "--rounds", "2", "-o", "generator=resnet_6blocks", "-o", "ngf=4", "-o", "ndf=4", "--baseline"]
    assert main([*args, "--profile", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    b = r["baseline"]
    assert r["rounds"] == 2 and len(r["round_medians_s"]) == 2 and len(b["round_medians_s"]) == 2
    assert b["precision"] == "fp32" and "reference" in b["loop"]
    assert r["ratio"] == pytest.approx(b["median_s_per_it"] / r["median_s_per_it"])
    assert b["images_per_s"] == pytest.approx(1 / b["median_s_per_it"])
    assert r["threads"] == 1 and r["openmp"].startswith("OpenMP wait")
    assert r["crop"] == 32 and r["batch"] == 1 and r["precision"] in ("bf16", "fp32")
    # the profile: both phases, their parts, and convolutions among the top operators
    prof = r["profile"]
    assert set(prof) == {"G", "D"}
    for phase in prof.values():
        assert set(phase["parts_ms"]) == {"forward + loss", "backward", "optimizer"}
        assert sum(phase["parts_ms"].values()) <= phase["total_ms"] * 1.001
        assert any("conv" in row["op"] for row in phase["top"])
    assert set(b["profile"]) == {"reference step"}
    # and in words
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "reference loop (fp32, 1 thr)" in out and "ratio" in out and "1 threads" in out


def test_bench_train_versus_interleaves_our_step_at_another_precision(capsys):
    import json

    from gantrans.cli.main import main

    args = ["bench", "train", "cyclegan", "--crop", "32", "--device", "cpu", "--steps", "2", "--warmup", "1",
            "--rounds", "2", "-o", "generator=resnet_6blocks", "-o", "ngf=4", "-o", "ndf=4",
            "--precision", "bf16", "--versus", "fp32"]
    assert main([*args, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    v = r["versus"]
    assert r["precision"] == "bf16" and v["precision"] == "fp32"
    assert len(r["round_medians_s"]) == 2 and len(v["round_medians_s"]) == 2
    assert r["versus_ratio"] == pytest.approx(v["median_s_per_it"] / r["median_s_per_it"])
    assert "baseline" not in r
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "gantrans (bf16)" in out and "gantrans (fp32)" in out and "fp32 s/it / bf16 s/it" in out
    assert main([*args, "--baseline"]) == 1  # one interleaved loop at a time
    assert "one at a time" in capsys.readouterr().err


def test_bench_train_baseline_refuses_a_recipe_without_a_reference_loop():
    from gantrans.cli.main import main

    assert main(["bench", "train", "vanilla", "--crop", "32", "--device", "cpu", "--baseline"]) == 1


def test_the_loops_compared_batch_where_the_networks_allow_it():
    """The equivalence above covers the batched calls: CycleGAN's instance-norm networks take the
    identity images with the fakes, and real with fake images in the discriminator; pix2pix's
    batch norm and dropout keep one call per image."""
    cls = get_recipe("cyclegan")
    rec = cls({"generator": "resnet_6blocks", "ngf": 8, "ndf": 8}, synthetic_spec(cls, 32))
    nets = build_networks(rec, 0)
    assert rec.batchable(nets["G_A"], nets["G_B"]) and rec.batchable(nets["D_A"])
    cls = get_recipe("pix2pix")
    rec = cls({"generator": "unet_32", "ngf": 8, "ndf": 8}, synthetic_spec(cls, 32))
    nets = build_networks(rec, 0)
    assert not rec.batchable(nets["G"]) and not rec.batchable(nets["D"])


def test_samples_independent_finds_what_mixes_images_or_counts_calls():
    from torch import nn

    from gantrans.gan import samples_independent

    conv = nn.Sequential(nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4), nn.ReLU(), nn.GroupNorm(2, 4))
    assert samples_independent(conv, nn.Conv2d(4, 4, 1))
    assert not samples_independent(conv, nn.Sequential(nn.BatchNorm2d(4)))
    assert not samples_independent(nn.Sequential(nn.Conv2d(3, 3, 1), nn.Dropout(0.5)))
    assert samples_independent(nn.Sequential(nn.Conv2d(3, 3, 1), nn.Dropout(0.0)))
    assert not samples_independent(nn.utils.spectral_norm(nn.Conv2d(3, 3, 1)))
    assert not samples_independent(nn.utils.parametrizations.spectral_norm(nn.Conv2d(3, 3, 1)))


def test_paired_runs_alternate_every_step_unless_told_a_block_length():
    from gantrans.training.bench import timing_schedule

    assert timing_schedule(paired=False) == (10, 1)
    assert timing_schedule(paired=False, steps=4, rounds=2) == (4, 2)
    assert timing_schedule(paired=True) == (1, 15)  # one step a side at a time
    assert timing_schedule(paired=True, rounds=6) == (1, 6)
    assert timing_schedule(paired=True, steps=5) == (5, 3)  # the caller chose blocks
    assert timing_schedule(paired=True, steps=5, rounds=2) == (5, 2)


def test_bench_train_versus_by_default_alternates_single_steps(capsys):
    import json

    from gantrans.cli.main import main

    args = ["bench", "train", "cyclegan", "--crop", "32", "--device", "cpu", "--warmup", "0",
            "-o", "generator=resnet_6blocks", "-o", "ngf=4", "-o", "ndf=4", "-o", "n_layers_D=1",
            "--precision", "fp32", "--versus", "fp32", "--json"]
    assert main(args) == 0
    r = json.loads(capsys.readouterr().out)
    assert (r["steps"], r["rounds"]) == (1, 15)
    assert len(r["round_medians_s"]) == 15 and len(r["versus"]["round_medians_s"]) == 15


@pytest.mark.parametrize("arg", [["--steps", "0"], ["--rounds", "0"], ["--batch", "0"], ["--warmup", "-1"]])
def test_bench_train_refuses_counts_below_one_instead_of_using_the_default(arg, capsys):
    from gantrans.cli.main import main

    assert main(["bench", "train", "cyclegan", "--crop", "32", "--device", "cpu", *arg]) == 1
    assert "must be >= 1" in capsys.readouterr().err
