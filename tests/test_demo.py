"""`gantrans demo`: CycleGAN on built-in data, end to end, scored; continuing; the class check."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from gantrans.class_check import nearest_centroid_check
from gantrans.cli import demo_cmd
from gantrans.cli.main import main

# As 'gantrans eval' scores (images in [0, 1], per-image figures averaged): an untrained CycleGAN
# generator of the demo's size scores L1 about 0.33 and 8.5 dB PSNR on the held-out shapes; one
# trained 12 steps without its cycle terms scores the same. The demo's 12 quick steps reach about
# L1 0.13-0.16 and 13 dB. Doing nothing scores L1 0.49, 5.7 dB.
MAX_L1 = 0.225
MIN_PSNR = 11.0


@pytest.mark.slow
def test_quick_demo_trains_cyclegan_scores_it_and_continues_after_ctrl_c(tmp_path, capsys, monkeypatch):
    out = tmp_path / "demo"
    # Ctrl+C once the models are exported (while translating): "interrupted", exit 130 ...
    real_step = demo_cmd.Demo.step

    def interrupted(self, argv):
        if argv[0] == "translate":
            raise KeyboardInterrupt
        return real_step(self, argv)

    monkeypatch.setattr(demo_cmd.Demo, "step", interrupted)
    assert main(["demo", "--quick", "--out", str(out)]) == 130
    captured = capsys.readouterr()
    assert "$ gantrans train cyclegan" in captured.out and "parity ONNX Runtime vs PyTorch" in captured.out
    assert "demo interrupted" in captured.err and "again to continue" in captured.err
    assert "failed" not in captured.err
    assert (out / "exports" / "cyclegan-quick_A2B.onnx").is_file() and (out / "exports" / "cyclegan-quick_B2A.onnx").is_file()

    # ... and the same command again continues: no new data, no new training, no new export.
    monkeypatch.setattr(demo_cmd.Demo, "step", real_step)
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "(data already written" in text and "$ gantrans train --resume" in text
    assert "nothing to do: 12 steps done" in captured.err and "(exports up to date" in text

    figures = json.loads((out / "report" / "figures.json").read_text())["cyclegan"]
    for direction in ("A2B", "B2A"):
        s = figures["scores"][direction]
        assert s["count"] == 24
        assert s["l1_output"] < MAX_L1 < s["l1_input"], s
        assert s["psnr_output"] > MIN_PSNR > s["psnr_input"], s
        sheet = Image.open(s["sheet"])
        assert sheet.size[0] == 3 * 128 + 2 * 4 and sheet.getpixel((2, 2)) == (255, 255, 255)  # labelled header
        assert len(list((out / "translated" / f"cyclegan-quick_{direction}").glob("*.png"))) == 24
    report = (out / "report.html").read_text()
    for needle in ("report/sheet_cyclegan-quick_A2B.png", "report/losses_cyclegan-quick.png",
                   "runs/cyclegan-quick/samples/step_0000012.png", "gantrans train cyclegan", "PSNR input"):
        assert needle in report
    assert (out / "report" / "losses_cyclegan-quick.png").is_file()
    assert f"report:        {out / 'report.html'}" in text and "next:" in text and "gantrans gui" in text
    assert "gantrans translate " in text.split("next:")[1]

    # The thresholds catch a wrong normalisation at the export boundary: the same model's output
    # read as [0, 1] instead of the [-1, 1] it produces misses them. (Inputs given in [0, 1] go
    # unnoticed: the first instance norm removes any affine change of the input.)
    from gantrans.demo_report import score_and_sheet
    from gantrans.inference import processing

    monkeypatch.setattr(processing, "from_model_range", lambda y, value_range: y)
    data, wrong = out / "data" / "shapes-unpaired", tmp_path / "wrong"
    model = figures["scores"]["A2B"]["model"]
    assert main(["translate", model, str(data / "testA"), "-o", str(wrong), "--no-progress"]) == 0
    s = score_and_sheet(data / "testA", wrong, data / "testB", tmp_path / "wrong.png")
    assert s.count == 24 and not (s.l1_output < MAX_L1 and s.psnr_output > MIN_PSNR), s

    # a folder the demo did not write is never touched
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep")
    assert main(["demo", "--quick", "--out", str(foreign), "--overwrite"]) == 1
    assert "not a folder written by 'gantrans demo'" in capsys.readouterr().err
    assert (foreign / "precious.txt").read_text() == "keep"


def test_the_class_check_passes_real_images_and_fails_untrained_or_label_blind_ones(tmp_path, fresh_plugins):
    from gantrans_plugins.datasets import ShapeClassesDataset

    data = ShapeClassesDataset().make(tmp_path / "classes", "labelled")
    classes = sorted(p.name for p in (data / "train").iterdir())
    faithful, blind, noise = tmp_path / "faithful", tmp_path / "blind", tmp_path / "noise"
    for folder in (faithful, blind, noise):
        folder.mkdir()
    rng = np.random.default_rng(0)
    k = 0
    for c, name in enumerate(classes):
        for f in sorted((data / "test" / name).glob("*.png")):
            shutil.copy(f, faithful / f"seed0_{k:04d}_{name}.png")
            # a label-blind generator: the class it draws has nothing to do with the one asked for
            shutil.copy(f, blind / f"seed0_{k:04d}_{classes[(c + 1 + k) % len(classes)]}.png")
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
                noise / f"seed0_{k:04d}_{name}.png")
            k += 1
    good = nearest_centroid_check(data / "train", faithful)
    assert good.count == 48 and good.accuracy >= demo_cmd.CLASS_CHECK_TARGET
    assert nearest_centroid_check(data / "train", blind).accuracy < 0.4
    assert nearest_centroid_check(data / "train", noise).accuracy < 0.4


def test_demo_without_the_train_extra_says_what_to_install_and_writes_nothing(tmp_path, capsys, monkeypatch):
    """A translate-only install ('gantrans[gui]') has no torch: the demo used to write its data
    set and start a child 'gantrans train' before saying so."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "torch" else find_spec(name, *a, **k))
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quick"]) == 1
    assert "'gantrans demo' needs torch, which is not installed: pip install 'gantrans[train]'" in \
        capsys.readouterr().err
    assert not out.exists()
