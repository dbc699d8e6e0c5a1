"""``gantrans bench gpu``: its CPU twin (gloo, CPU execution provider, tiny sizes) runs every row of
the real check, and without a GPU the real check says so and fails cleanly."""

from __future__ import annotations

import json

import pytest
import torch

from gantrans.cli.main import main

TWIN = ["bench", "gpu", "--device", "cpu", "--crop", "32", "--steps", "1", "--warmup", "1", "--infer-size", "32",
        "--infer-runs", "2", "--smoke-crop", "32", "--precision", "fp32", "--no-compile",
        "-o", "generator=resnet_6blocks", "-o", "ngf=4", "-o", "ndf=4"]


pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_cpu_twin_runs_every_row(capsys):
    assert main([*TWIN, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    rows = [(row["check"], row["setting"]) for row in r["rows"]]
    assert rows == [("train cyclegan 32px fp32", "eager, contiguous"),
                    ("train cyclegan 32px fp32", "eager, channels_last"),
                    ("train cyclegan 32px fp32", "compile, contiguous"),
                    ("train cyclegan 32px fp32", "compile, channels_last"),
                    ("gloo process group", "1 process, Engine steps"),
                    ("infer G_A 32x32", "pytorch fp32"),
                    ("infer G_A 32x32", "onnxruntime fp32 (CPU EP)")]
    assert r["ok"] and all(row["ok"] for row in r["rows"])
    timed = [row for row in r["rows"] if not row["note"].startswith("skipped")]
    assert len(timed) == 5 and all(row["s_per_it"] > 0 for row in timed)
    assert all(row["images_per_s"] == pytest.approx(1 / row["s_per_it"]) for row in timed)
    assert [row["note"] for row in r["rows"][2:4]] == ["skipped (--no-compile)"] * 2
    assert r["rows"][0]["peak_memory_bytes"] > 10 * 2**20
    onnx_row = r["rows"][-1]
    assert onnx_row["max_abs_diff_vs_pytorch"] < 1e-4 and onnx_row["speedup_vs_pytorch"] > 0
    # a network that computes something (not the defaults' identity start): a difference of exactly 0
    # would mean two runtimes agreed on returning their input
    assert onnx_row["max_abs_diff_vs_pytorch"] > 0
    assert not torch.distributed.is_initialized()  # the smoke's process group is gone


def test_a_failing_row_is_reported_and_the_others_still_run(capsys, monkeypatch):
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["SomethingElse"])
    assert main(TWIN) == 1
    captured = capsys.readouterr()
    table = [line for line in captured.out.splitlines() if line.startswith(("train", "gloo", "infer"))]
    assert len(table) == 7
    assert "FAILED" in table[-1] and "has no CPUExecutionProvider" in table[-1]
    assert "FAILED" not in "".join(table[:-1])
    assert "1 check(s) failed: infer G_A 32x32 (onnxruntime fp32 (CPU EP))" in captured.err


def test_without_a_gpu_it_says_so_and_fails(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["bench", "gpu"]) == 1
    err = capsys.readouterr().err
    assert "no CUDA device on this machine" in err and "--device cpu" in err
    assert "Traceback" not in err
