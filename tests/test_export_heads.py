"""Export heads default from the registered network and the data; size-changing heads are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx_models import translate_model
from test_export import _meta, make_run
from torch import nn

from gantrans import hookimpl
from gantrans.errors import ConfigError, ExportError, ModelError
from gantrans.recipe import DataSpec, ExportHead, OptimizerSpec, Phase, Recipe


class HalfUp(nn.Module):
    """Stride-2 conv then 2x upsampling: sizes come back unchanged only when they are even."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3):
        super().__init__()
        self.down = nn.Conv2d(in_channels, 4, 3, stride=2, padding=1)
        self.up = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(4, out_channels, 3, padding=1), nn.Tanh())

    def forward(self, x):
        return self.up(self.down(x))


class FourOut(HalfUp):
    """Takes out_channels and ignores it: always four channels out."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3):
        super().__init__(in_channels, 4)


class OneWay(Recipe):
    name = "heads-test"
    data_kinds = ("unpaired",)
    defaults = {"generator": "halfup_even", "head": "minimal"}

    def build_networks(self):
        return {"G": self.make_network("G", self.config["generator"], "generator",
                                       in_channels=self.data.channels["A"], out_channels=self.data.channels["B"])}

    def optimizers(self):
        return [OptimizerSpec("G", ["G"])]

    def phases(self):
        return [Phase("G", "G", lambda batch, cache: {})]

    def sample_rows(self, batch):
        return []

    def export_heads(self):
        if self.config["head"] == "old-doc":  # the old documented example: network= the recipe key
            return [ExportHead(name="A2B", module=self.nets["G"], task="translate", network="G",
                               in_channels=3, out_channels=3)]
        return [ExportHead("A2B", key="G")]


class _Plugin:
    @hookimpl
    def register_networks(self, register):
        register("halfup_even", HalfUp, kind="generator", size_multiple=2, min_size=2)
        register("halfup_loose", HalfUp, kind="generator")  # a wrong (too loose) size rule
        register("four_out", FourOut, kind="generator", size_multiple=2, min_size=2)

    @hookimpl
    def register_models(self, register):
        register(OneWay)


@pytest.fixture
def heads_plugin():
    from gantrans.plugins import get_plugin_manager

    pm = get_plugin_manager()
    before = pm.registries
    pm.register(_Plugin(), "heads-test")
    yield pm
    pm.unregister("heads-test")
    pm._registries = before


SPEC = DataSpec("unpaired", {"A": 3, "B": 1}, 16, domains=("day", "night"))


def test_minimal_head_defaults_from_network_and_data(heads_plugin):
    recipe = heads_plugin.registries.models["heads-test"]({}, SPEC)
    recipe.attach(recipe.build_networks())
    [head] = recipe.resolved_export_heads()
    assert (head.key, head.network, head.task) == ("G", "halfup_even", "translate")
    assert (head.in_channels, head.out_channels) == (3, 1)
    assert (head.size_multiple, head.min_size) == (2, 2)
    assert (head.source_domain, head.target_domain) == ("day", "night")
    assert not head.module.training and head.module is not recipe.nets["G"]
    # Explicit values can only make the registered rule stricter.
    strict = ExportHead("A2B", key="G", size_multiple=3, min_size=1)
    from gantrans.recipe import resolve_export_head

    assert (resolve_export_head(recipe, strict).size_multiple, resolve_export_head(recipe, strict).min_size) == (6, 2)


def test_export_of_a_minimal_head_carries_the_registered_size_rule(heads_plugin, tmp_path: Path):
    from gantrans.export import export_run

    run = make_run(tmp_path, "even", "heads-test", {}, SPEC)
    [path] = export_run(run, out_dir=tmp_path / "e", exporter="torchscript", progress=lambda m: None)
    c = _meta(path)[1]
    assert (c.size_multiple, c.min_size, c.source_domain, c.target_domain) == (2, 2, "day", "night")
    assert (c.in_channels, c.out_channels, c.provenance["network_key"]) == (3, 1, "G")


def test_head_that_changes_the_image_size_fails_parity_with_a_clear_line(heads_plugin, tmp_path: Path):
    from gantrans.export import export_run

    run = make_run(tmp_path, "loose", "heads-test", {"generator": "halfup_loose"}, SPEC)
    out = tmp_path / "e"
    with pytest.raises(ExportError) as err:
        export_run(run, out_dir=out, exporter="torchscript", progress=lambda m: None)
    msg = str(err.value)
    assert "network 'halfup_loose' (plugin 'heads-test') turns a 64x65 image into 64x66" in msg
    assert "must keep the size" in msg and "registered for sizes a multiple of 1, at least 1 px" in msg
    assert "\n" not in msg and not list(out.glob("*"))


def test_a_network_returning_other_channels_than_its_head_declares_is_not_exported(heads_plugin, tmp_path: Path):
    """The file's metadata would say 1 channel out and the model give 4: refused, named, nothing written."""
    from gantrans.export import export_run

    run = make_run(tmp_path, "four", "heads-test", {"generator": "four_out"}, SPEC)
    out = tmp_path / "e"
    with pytest.raises(ExportError, match=r"network 'four_out' \(plugin 'heads-test'\) returns 4 channels, but the "
                                          r"head declares 1 .*nothing written"):
        export_run(run, out_dir=out, exporter="torchscript", progress=lambda m: None)
    assert not out.exists() or not list(out.glob("*"))


def test_network_means_the_registry_name_and_heads_are_never_guessed(heads_plugin, tmp_path: Path):
    from gantrans.export import export_run

    run = make_run(tmp_path, "old", "heads-test", {"head": "old-doc"}, SPEC)
    with pytest.raises(ExportError, match=r"set ExportHead.key to the network key whose weights it exports "
                                          r"\(one of G\); ExportHead.network is the registry name"):
        export_run(run, out_dir=tmp_path / "e", exporter="torchscript", progress=lambda m: None)
    recipe = heads_plugin.registries.models["heads-test"]({}, SPEC)
    recipe.attach(recipe.build_networks())
    with pytest.raises(ConfigError, match="network 'unet_256' is not the network behind key 'G'"):
        from gantrans.recipe import resolve_export_head

        resolve_export_head(recipe, ExportHead("A2B", key="G", network="unet_256"))


def test_translate_refuses_an_output_whose_size_differs(tmp_path: Path):
    from gantrans.inference import Translator

    path = translate_model(tmp_path / "shrink.onnx", kernel=3)
    model = onnx.load(str(path))
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    next(a for a in conv.attribute if a.name == "pads").ints[:] = [0, 0, 0, 0]  # 3x3 valid conv: -2 px
    for d in model.graph.output[0].type.tensor_type.shape.dim[2:]:
        d.dim_param = "H2"
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match=r"turned a 20x16 input into 18x14; a translation model must keep the "
                                         r"image size"):
        Translator(path).translate_array(np.zeros((16, 20, 3), np.uint8))
    torch.manual_seed(0)  # keep the global RNG state of later tests independent of this one


def test_training_names_a_generator_that_ignores_out_channels_before_the_first_step():
    """Not a shape error deep in the discriminator blamed on the size rule: the network and what it did."""
    from types import SimpleNamespace

    import torch

    from gantrans.errors import ConfigError
    from gantrans.training.engine import check_generator_sizes

    spec = {"kind": "generator", "name": "four_out", "plugin": "heads-test",
            "options": {"in_channels": 3, "out_channels": 3}, "size_multiple": 2, "min_size": 2}
    recipe = SimpleNamespace(data=SimpleNamespace(size=16), network_specs={"G": spec})
    with pytest.raises(ConfigError, match=r"network 'four_out' \(plugin 'heads-test', key G\) was built with "
                                          r"out_channels=3 and returns 4 channels"):
        check_generator_sizes(recipe, {"G": FourOut()}, torch.device("cpu"))
    check_generator_sizes(recipe, {"G": HalfUp()}, torch.device("cpu"))  # an honest one passes
