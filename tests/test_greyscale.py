"""Greyscale data: a colour model of it is told of --channels 1, which trains a greyscale model
end to end (1-channel networks, export, a translate that writes greyscale images)."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from gantrans.cli.main import main


def _grey_set(root, n=3, side=32):
    rng = np.random.default_rng(0)
    for domain in ("trainA", "trainB"):
        (root / domain).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (side, side), dtype=np.uint8), "L").save(root / domain / f"{i}.png")


def test_greyscale_images_train_a_greyscale_model_when_asked_and_say_so_when_not(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _grey_set(tmp_path / "grey")
    args = ["train", "cyclegan", "--data", "grey", "--max-steps", "1", "--workers", "0", "--no-tensorboard",
            "--samples", "1", "--precision", "fp32", "-o", "ngf=4", "-o", "ndf=4", "-o", "pool_size=2"]
    assert main([*args, "--name", "colour"]) == 0
    err = capsys.readouterr().err
    assert ("gantrans: warning: grey: the images are greyscale; the model is trained in colour (3 channels) and "
            "will make colour images; --channels 1 trains a greyscale one") in err

    assert main([*args, "--name", "mono", "--channels", "1"]) == 0
    assert "greyscale" not in capsys.readouterr().err
    config = json.loads((tmp_path / "runs" / "mono" / "config.json").read_text())
    assert config["channels"] == 1 and config["resolved"]["data"]["channels"] == {"A": 1, "B": 1}
    assert main(["export", "runs/mono", "--out", "exports", "--heads", "A2B"]) == 0
    colour = tmp_path / "photo.png"
    Image.fromarray(np.full((40, 36, 3), (200, 30, 30), np.uint8)).save(colour)  # converted on the way in
    assert main(["translate", "exports/mono_A2B.onnx", str(colour), "-o", "out"]) == 0
    out = Image.open(tmp_path / "out" / "photo.png")
    assert (out.mode, out.size) == ("L", (36, 40))


def test_channels_is_one_or_three():
    assert main(["train", "cyclegan", "--data", "x", "--channels", "2"]) == 2
