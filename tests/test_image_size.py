"""An unset --crop-size follows the images: their size, rounded to the networks' rule, at most 256."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from gantrans.cli.main import main
from gantrans.training.image_size import DEFAULT_CROP_SIZE, choose_crop_size


@pytest.mark.parametrize("side,rule,size,said", [
    (None, {}, DEFAULT_CROP_SIZE, ""),  # nothing readable: the paper's size
    (600, {}, DEFAULT_CROP_SIZE, "as the papers crop (the images are about 600 px"),  # and said
    (64, {}, 64, "the images' size"),
    (70, {"size_multiple": 4, "min_size": 24}, 68, "the nearest size the networks take to the images' (about 70"),
    (60, {"size_multiple": 32, "min_size": 32}, 64, "the nearest size"),  # not 32: that would halve each side
    (16, {"size_multiple": 4, "min_size": 24}, 24, "scaled up"),  # up to the discriminator's smallest
    (64, {"size_multiple": 256, "min_size": 256}, 256, "scaled up"),  # unet_256 takes nothing smaller
    (300, {"load_size": 100}, 100, "--load-size 100"),  # a crop is cut from the resized image
])
def test_the_size_chosen_for_images_of_a_side(side, rule, size, said):
    choice = choose_crop_size(side, **rule)
    assert choice.size == size
    assert (said in choice.note) if said else choice.note == ""


def _images(folder, shape, n=3):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(folder / f"{i}.png")


@pytest.mark.parametrize("layout,shape,expect", [
    ("unpaired", (44, 52, 3), 44),  # the shorter side, to resnet's multiple of 4
    ("aligned", (40, 80, 3), 40),  # side-by-side A|B: each half is 40 wide
])
def test_a_run_without_a_size_trains_at_its_images_size_and_says_so(tmp_path, monkeypatch, capsys, layout, shape,
                                                                    expect):
    monkeypatch.chdir(tmp_path)
    if layout == "unpaired":
        _images(tmp_path / "d" / "trainA", shape)
        _images(tmp_path / "d" / "trainB", shape)
        recipe, extra = "cyclegan", ["-o", "pool_size=2"]
    else:
        _images(tmp_path / "d" / "train", shape)
        recipe, extra = "pix2pix", ["--generator", "resnet_6blocks"]
    args = ["train", recipe, "--data", "d", "--max-steps", "1", "--workers", "0", "--no-tensorboard",
            "--samples", "1", "--precision", "fp32", "-o", "ngf=4", "-o", "ndf=4", *extra]
    assert main([*args, "--name", "auto"]) == 0
    err = capsys.readouterr().err
    config = json.loads((tmp_path / "runs" / "auto" / "config.json").read_text())
    assert config["crop_size"] == expect and config["resolved"]["data"]["size"] == expect
    assert f"image size:   {expect} px, the images' size" in err
    grid = next((tmp_path / "runs" / "auto" / "samples").glob("*.png"))
    assert Image.open(grid).height < 3 * DEFAULT_CROP_SIZE  # drawn at the trained size, not 256

    assert main([*args, "--name", "set", "--crop-size", "32"]) == 0  # a size given is kept, without a word
    err = capsys.readouterr().err
    assert json.loads((tmp_path / "runs" / "set" / "config.json").read_text())["crop_size"] == 32
    assert "image size:" not in err


@pytest.mark.parametrize("recipe,layout,shape,extra,expect,said", [
    # DCGAN takes powers of two only (its registration says "multiple of 8"): 100 px images train at 64
    ("vanilla", "folder", (100, 100, 3), [], 64, "the largest under the images' size (about 100 px)"),
    # a crop is cut from the --load-size image: 80 px images resized to 40 train at 40, not fail at 256
    ("cyclegan", "unpaired", (80, 80, 3), ["--load-size", "40"], 40, "at most --load-size 40"),
    # --preprocess none keeps each image's size: that is the size recorded, said and built for
    ("cyclegan", "unpaired", (40, 40, 3), ["--preprocess", "none"], 40, "the images' own"),
    # a deeper discriminator than its registration's minimum: the size it takes, said as scaled up
    ("cyclegan", "unpaired", (40, 40, 3), ["-o", "n_layers_D=5"], 128, "so they are scaled up"),
])
def test_a_size_the_networks_refuse_is_not_chosen(tmp_path, monkeypatch, capsys, recipe, layout, shape, extra, expect,
                                                  said):
    monkeypatch.chdir(tmp_path)
    for folder in (["d/trainA", "d/trainB"] if layout == "unpaired" else ["d"]):
        _images(tmp_path / folder, shape)
    options = ["-o", "pool_size=2"] if recipe == "cyclegan" else []
    assert main(["train", recipe, "--data", "d", "--name", "r", "--max-steps", "1", "--workers", "0",
                 "--no-tensorboard", "--samples", "1", "--precision", "fp32", "-o", "ngf=4", "-o", "ndf=4",
                 *options, *extra]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert json.loads((tmp_path / "runs" / "r" / "config.json").read_text())["crop_size"] == expect
    assert f"image size:   {expect} px" in err and said in err
