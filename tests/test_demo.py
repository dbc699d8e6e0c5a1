"""`gantrans demo`: data, train, export, translate and score, end to end (few steps)."""

from __future__ import annotations

import pytest

from gantrans.cli.main import main


@pytest.mark.slow
def test_demo_runs_end_to_end_and_protects_existing_folders(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--max-steps", "3", "--precision", "fp32"]) == 0
    text = capsys.readouterr().out
    assert "$ gantrans train pix2pix" in text and "parity ONNX Runtime vs PyTorch" in text
    assert "held-out test images: 24" in text
    assert (out / "exports" / "demo_A2B.onnx").is_file()
    assert len(list((out / "translated").rglob("*.png"))) == 24
    assert (out / "results.png").is_file()
    assert list((out / "runs" / "demo" / "checkpoints").glob("latest.pt"))

    # an existing demo is replaced only on request; a foreign folder never
    assert main(["demo", "--out", str(out), "--max-steps", "1"]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep")
    assert main(["demo", "--out", str(foreign), "--overwrite", "--max-steps", "1"]) == 1
    assert "not a folder written by 'gantrans demo'" in capsys.readouterr().err
    assert (foreign / "precious.txt").read_text() == "keep"
