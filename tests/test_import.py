"""gantrans import: reference generator checkpoints recognised from their weights, exported, matched."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from gantrans.errors import CheckpointError
from gantrans.export.reference_layout import infer_layout
from gantrans.recipe import build_network

GENERATOR_CASES = ["G_resnet_9blocks_ngf8_instance", "G_resnet_6blocks_ngf8_instance", "G_unet_128_ngf8_batch_dropout"]


def _case(reference_dir: Path, name: str) -> dict:
    manifest = json.loads((reference_dir / "manifest.json").read_text())
    return next(c for c in manifest["cases"] if c["name"] == name)


@pytest.mark.parametrize("name", GENERATOR_CASES)
def test_layout_of_reference_fixtures(reference_dir: Path, name: str) -> None:
    opts = _case(reference_dir, name)["reference_options"]
    layout = infer_layout(torch.load(reference_dir / f"{name}.pth", weights_only=True), name)
    assert layout.network == opts["netG"]
    assert (layout.ngf, layout.norm, layout.in_channels, layout.out_channels) == (
        opts["ngf"], opts["norm"], opts["input_nc"], opts["output_nc"])
    if layout.family == "resnet":
        assert layout.dropout == opts["use_dropout"]


# TorchScript is ~20x faster to export; the U-Net (skip concatenation) also goes through the
# default dynamo exporter, whose ResNet path test_export covers.
@pytest.mark.parametrize(("name", "exporter"), [("G_resnet_9blocks_ngf8_instance", "torchscript"),
                                                ("G_resnet_6blocks_ngf8_instance", "torchscript"),
                                                ("G_unet_128_ngf8_batch_dropout", "dynamo")])
def test_import_export_matches_reference_output(reference_dir: Path, tmp_path: Path, name: str, exporter: str) -> None:
    from gantrans.export import export_run, import_reference

    run = import_reference(reference_dir / f"{name}.pth", runs_dir=tmp_path / "runs")
    assert run == tmp_path / "runs" / name
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"] == ("pix2pix" if "unet" in name else "cyclegan")
    assert config["imported_from"].endswith(f"{name}.pth")
    [onnx_path] = export_run(run, out_dir=tmp_path / "exports", exporter=exporter, progress=lambda m: None)
    assert onnx_path.name == f"{name}_A2B.onnx"
    x = np.load(reference_dir / f"{name}.input.npy")
    want = np.load(reference_dir / f"{name}.output.npy")
    got = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4


def test_import_b2a_wrapped_state_dict_and_name(reference_dir: Path, tmp_path: Path) -> None:
    from gantrans.export import import_reference
    from gantrans.training.checkpoint import load_checkpoint, recipe_from_checkpoint

    sd = torch.load(reference_dir / "G_resnet_6blocks_ngf8_instance.pth", weights_only=True)
    torch.save({"state_dict": sd, "epoch": 5}, tmp_path / "wrapped.pth")
    run = import_reference(tmp_path / "wrapped.pth", as_="cyclegan-B2A", name="zebra2horse", runs_dir=tmp_path)
    ckpt = load_checkpoint(run)
    assert list(ckpt["networks"]) == ["G_B"] and ckpt["recipe"]["name"] == "cyclegan"
    assert ckpt["model_config"]["generator"] == "resnet_6blocks" and ckpt["model_config"]["ngf"] == 8
    recipe = recipe_from_checkpoint(ckpt)
    x = torch.from_numpy(np.load(reference_dir / "G_resnet_6blocks_ngf8_instance.input.npy"))
    with torch.no_grad():
        out = recipe.nets["G_B"].eval()(x).numpy()
    assert np.abs(out - np.load(reference_dir / "G_resnet_6blocks_ngf8_instance.output.npy")).max() <= 1e-5
    with pytest.raises(CheckpointError, match="zebra2horse: already exists"):
        import_reference(tmp_path / "wrapped.pth", name="zebra2horse", runs_dir=tmp_path)


@pytest.mark.parametrize(("network", "options"), [
    ("resnet_6blocks", {"norm": "batch", "dropout": True, "ngf": 4, "in_channels": 1, "out_channels": 3}),
    ("resnet_9blocks", {"norm": "none", "dropout": False, "ngf": 2}),
    ("unet_32", {"norm": "instance", "ngf": 4, "in_channels": 4, "out_channels": 2}),
    ("unet_64", {"norm": "batch", "ngf": 2}),
])
def test_layout_of_our_own_networks(network: str, options: dict) -> None:
    """Our networks share the reference layout, so they cover norms/dropout the fixtures do not."""
    sd = build_network(network, "generator", **options).state_dict()
    layout = infer_layout(sd)
    assert layout.network == network
    assert layout.norm == options["norm"] and layout.ngf == options["ngf"]
    assert (layout.in_channels, layout.out_channels) == (options.get("in_channels", 3), options.get("out_channels", 3))
    if layout.family == "resnet":
        assert layout.dropout == options["dropout"]


def test_garbage_is_refused_in_one_line(reference_dir: Path, tmp_path: Path) -> None:
    from gantrans.export import import_reference

    with pytest.raises(CheckpointError, match=r"10 keys, first 'model.0.weight'; not a ResNet or U-Net generator") as e:
        import_reference(reference_dir / "D_basic_ndf8_instance.pth", runs_dir=tmp_path)
    assert "\n" not in str(e.value)
    torch.save({"foo.weight": torch.zeros(3, 3), "bar.bias": torch.zeros(3)}, tmp_path / "foo.pth")
    with pytest.raises(CheckpointError, match=r"foo.pth: 2 keys, first 'foo.weight'; not a ResNet or U-Net"):
        import_reference(tmp_path / "foo.pth", runs_dir=tmp_path)
    (tmp_path / "junk.pth").write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match="junk.pth: not a readable PyTorch checkpoint"):
        import_reference(tmp_path / "junk.pth", runs_dir=tmp_path)
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="list.pth: not a state_dict"):
        import_reference(tmp_path / "list.pth", runs_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foo.pth", "junk.pth", "list.pth"]  # no run dirs


def test_cli_import(reference_dir: Path, tmp_path: Path, capsys) -> None:
    from gantrans.cli.main import main

    src = reference_dir / "G_unet_128_ngf8_batch_dropout.pth"
    assert main(["import", str(src), "--name", "facades", "--runs-dir", str(tmp_path)]) == 0
    assert "gantrans export" in capsys.readouterr().out
    assert (tmp_path / "facades" / "checkpoints" / "latest.pt").is_file()
    assert main(["import", str(reference_dir / "D_basic_ndf8_batch_6ch.pth"), "--runs-dir", str(tmp_path)]) == 1
    assert "not a ResNet or U-Net generator" in capsys.readouterr().err


def test_files_mixed_up_with_a_reference_checkpoint_are_named_for_what_they_are(tmp_path: Path) -> None:
    from PIL import Image

    from gantrans.export import import_reference
    from gantrans.recipe import DataSpec

    sys.path.insert(0, str(Path(__file__).parent))
    from test_export import TINY_CYCLEGAN, make_run

    run = make_run(tmp_path / "runs", "mine", "cyclegan", TINY_CYCLEGAN, DataSpec("unpaired", {"A": 3, "B": 3}, 32))
    with pytest.raises(CheckpointError, match=r"latest.pt: a gantrans training checkpoint, which needs no import; "
                                              r"export it with 'gantrans export .*mine'"):
        import_reference(run / "checkpoints" / "latest.pt", runs_dir=tmp_path / "imported")
    Image.new("RGB", (4, 4)).save(tmp_path / "photo.png")
    with pytest.raises(CheckpointError, match=r"photo.png: an image \(PNG\), not a PyTorch checkpoint"):
        import_reference(tmp_path / "photo.png", runs_dir=tmp_path / "imported")
    from gantrans.errors import ConfigError

    with pytest.raises(ConfigError, match=r"--name '../escape': use one plain folder name"):
        import_reference(tmp_path / "photo.png", name="../escape", runs_dir=tmp_path / "imported")
    assert not (tmp_path / "imported").exists() and not (tmp_path / "escape").exists()
