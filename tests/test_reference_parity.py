"""Parity with the reference CycleGAN/pix2pix networks (junyanz/pytorch-CycleGAN-and-pix2pix).

Each fixture case is a reference state_dict, an input and the reference output in eval mode: our
network, built through the plugin registry with the manifest's options, must load the state_dict
strictly (no key mapping) and reproduce the output.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gantrans.recipe import build_network

_MANIFEST = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "reference-cyclegan" / "manifest.json"


def _case_names() -> list[str]:
    if not _MANIFEST.is_file():
        return ["fixtures-absent"]
    return [case["name"] for case in json.loads(_MANIFEST.read_text())["cases"]]


def _build(case: dict) -> torch.nn.Module:
    """Translate the reference's option names into ours."""
    o = case["reference_options"]
    if case["kind"] == "G":
        return build_network(o["netG"], "generator", in_channels=o["input_nc"], out_channels=o["output_nc"],
                             ngf=o["ngf"], norm=o["norm"], dropout=o["use_dropout"])
    net_d = o["netD"]
    if net_d == "pixel":
        return build_network("pixel", "discriminator", in_channels=o["input_nc"], ndf=o["ndf"], norm=o["norm"])
    n_layers = 3 if net_d == "basic" else o["n_layers_D"]
    return build_network("patchgan", "discriminator", in_channels=o["input_nc"], ndf=o["ndf"], norm=o["norm"],
                         n_layers=n_layers)


@pytest.mark.parametrize("name", _case_names())
def test_reference_case(reference_dir: Path, name: str) -> None:
    manifest = json.loads((reference_dir / "manifest.json").read_text())
    case = next(c for c in manifest["cases"] if c["name"] == name)
    net = _build(case)
    state = torch.load(reference_dir / f"{name}.pth", weights_only=True)
    net.load_state_dict(state, strict=True)
    net.eval()
    assert len(net.state_dict()) == case["state_dict_keys"]
    assert sum(p.numel() for p in net.parameters()) == case["parameters"]
    x = torch.from_numpy(np.load(reference_dir / f"{name}.input.npy"))
    assert list(x.shape) == case["input_shape"]
    expected = np.load(reference_dir / f"{name}.output.npy")
    with torch.no_grad():
        y = net(x).numpy()
    assert list(y.shape) == case["output_shape"]
    assert np.abs(y - expected).max() <= 1e-5
