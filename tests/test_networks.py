"""The 'networks' plugin: registrations, reference layouts, sizes, options and errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from gantrans.errors import ConfigError
from gantrans.plugins import get_registries
from gantrans.recipe import build_network

GENERATORS = {
    # name: (input, size_multiple, min_size)
    "resnet_6blocks": ("image", 4, 8),
    "resnet_9blocks": ("image", 4, 8),
    "unet": ("image", 32, 32),  # the built network narrows it: see test_unet_follows_the_image_size
    "unet_32": ("image", 32, 32),
    "unet_64": ("image", 64, 64),
    "unet_128": ("image", 128, 128),
    "unet_256": ("image", 256, 256),
    "dcgan": ("latent", 8, 8),
    "dcgan_conditional": ("latent+label", 8, 8),
}
DISCRIMINATORS = {
    "patchgan": ("image", 1, 24),
    "pixel": ("image", 1, 1),
    "dcgan_discriminator": ("image", 8, 8),
    "dcgan_discriminator_conditional": ("image+label", 8, 8),
}


def _count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("kind,table", [("generator", GENERATORS), ("discriminator", DISCRIMINATORS)])
def test_registered_with_size_rules(kind: str, table: dict) -> None:
    networks = get_registries().networks
    for name, (inp, multiple, minimum) in table.items():
        entry = networks.get(name)
        assert entry.origin.plugin == "networks"
        assert (entry.meta["kind"], entry.meta["input"]) == (kind, inp), name
        assert (entry.meta["size_multiple"], entry.meta["min_size"]) == (multiple, minimum), name
        assert entry.meta["description"]


def test_losses_registered() -> None:
    losses = get_registries().losses
    assert {"vanilla", "lsgan", "wgan-gp", "hinge"} <= set(losses.names())
    assert all(losses.get(n).origin.plugin == "networks" for n in ("vanilla", "lsgan", "wgan-gp", "hinge"))


def test_plugin_module_imports_no_torch() -> None:
    code = ("import sys, gantrans_plugins.networks as m; "
            "assert 'torch' not in sys.modules, 'torch imported'; print(len(m.__doc__))")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_default_parameter_counts() -> None:
    assert _count(build_network("resnet_9blocks", "generator")) == 11_378_179
    assert _count(build_network("patchgan", "discriminator")) == 2_764_737


def test_resnet_layout_matches_reference() -> None:
    keys = set(build_network("resnet_9blocks", "generator", ngf=4).state_dict())
    assert {"model.1.weight", "model.1.bias", "model.4.weight", "model.7.weight", "model.10.conv_block.1.weight",
            "model.10.conv_block.5.weight", "model.18.conv_block.5.bias", "model.19.weight", "model.22.weight",
            "model.26.weight", "model.26.bias"} <= keys
    dropped = set(build_network("resnet_6blocks", "generator", ngf=4, dropout=True).state_dict())
    assert "model.10.conv_block.6.weight" in dropped and "model.10.conv_block.5.weight" not in dropped
    batch = build_network("resnet_6blocks", "generator", ngf=4, norm="batch").state_dict()
    assert "model.1.bias" not in batch and "model.2.running_var" in batch and "model.2.num_batches_tracked" in batch
    assert "model.23.bias" in batch  # the last conv keeps its bias, as in the reference


def test_unet_layout_and_dropout() -> None:
    net = build_network("unet_128", "generator", ngf=4, norm="batch", dropout=True)
    keys = set(net.state_dict())
    assert "model.model.0.weight" in keys and "model.model.3.bias" in keys
    assert "model.model.1.model.3.model.3.model.1.weight" in keys
    assert "model.model.0.bias" not in keys  # batch norm: no conv bias
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == 7 - 5
    assert not any(isinstance(m, nn.Dropout) for m in build_network("unet_128", "generator", ngf=4).modules())


def test_norm_none_has_no_conv_bias_like_reference() -> None:
    keys = set(build_network("patchgan", "discriminator", ndf=4, norm="none").state_dict())
    assert "model.0.bias" in keys and "model.2.bias" not in keys and "model.11.bias" in keys
    inst = set(build_network("patchgan", "discriminator", ndf=4, norm="instance").state_dict())
    assert "model.2.bias" in inst and not any("running" in k for k in inst)


def test_instance_norm_is_reference_instance_norm() -> None:
    net = build_network("resnet_6blocks", "generator", ngf=4)
    norms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(not m.affine and not m.track_running_stats for m in norms)


@pytest.mark.parametrize("name,size", [("unet_32", 32), ("unet_64", 64), ("unet_64", 128)])
def test_unet_shapes(name: str, size: int) -> None:
    net = build_network(name, "generator", ngf=4, in_channels=1, out_channels=3)
    y = net(torch.rand(2, 1, size, size) * 2 - 1)
    assert y.shape == (2, 3, size, size)
    assert y.abs().max() <= 1


@pytest.mark.parametrize("h,w", [(64, 64), (64, 48), (8, 8)])
def test_resnet_shapes(h: int, w: int) -> None:
    net = build_network("resnet_6blocks", "generator", ngf=4)
    assert net(torch.randn(2, 3, h, w)).shape == (2, 3, h, w)


def test_size_rules_are_tight() -> None:
    with pytest.raises((RuntimeError, ValueError)):  # below unet_32's minimum the bottleneck vanishes
        build_network("unet_32", "generator", ngf=4)(torch.randn(1, 3, 16, 16))
    with pytest.raises((RuntimeError, ValueError)):  # resnet below 8 px: reflection padding at 1x1
        build_network("resnet_6blocks", "generator", ngf=4)(torch.randn(1, 3, 4, 4))
    # a size that is not a multiple of 4 does not come back unchanged
    assert build_network("resnet_6blocks", "generator", ngf=4)(torch.randn(1, 3, 30, 30)).shape[-1] != 30
    patch = build_network("patchgan", "discriminator", ndf=4)
    assert patch(torch.randn(2, 3, 24, 24)).shape == (2, 1, 1, 1)
    with pytest.raises((RuntimeError, ValueError)):
        patch(torch.randn(2, 3, 16, 16))


def test_patchgan_and_pixel_shapes() -> None:
    assert build_network("patchgan", "discriminator", ndf=4)(torch.randn(2, 3, 64, 64)).shape == (2, 1, 6, 6)
    d2 = build_network("patchgan", "discriminator", ndf=4, n_layers=2, in_channels=6)
    assert d2(torch.randn(1, 6, 32, 32)).shape == (1, 1, 6, 6)
    assert build_network("pixel", "discriminator", ndf=4)(torch.randn(2, 3, 32, 48)).shape == (2, 1, 32, 48)


@pytest.mark.parametrize("name", list(DISCRIMINATORS))
def test_discriminators_output_logits(name: str) -> None:
    net = build_network(name, "discriminator", ndf=4, image_size=32, num_classes=3)
    assert not any(isinstance(m, (nn.Sigmoid, nn.Tanh)) for m in net.modules())


@pytest.mark.parametrize("size", [32, 64])
def test_dcgan_shapes(size: int) -> None:
    g = build_network("dcgan", "generator", latent_size=16, ngf=4, image_size=size, out_channels=1)
    z = torch.randn(3, 16)
    y = g(z)
    assert y.shape == (3, 1, size, size)
    torch.testing.assert_close(g.eval()(z[:, :, None, None]), g(z))
    d = build_network("dcgan_discriminator", "discriminator", in_channels=1, ndf=4, image_size=size)
    assert d(y).shape == (3,)
    with pytest.raises(ValueError):
        g(torch.randn(3, 15))
    with pytest.raises(ValueError):
        d(torch.randn(3, 1, size * 2, size * 2))


def test_dcgan_smallest_size() -> None:
    g = build_network("dcgan", "generator", latent_size=8, ngf=4, image_size=8)
    assert g(torch.randn(2, 8)).shape == (2, 3, 8, 8)


def test_conditional_generator_uses_labels() -> None:
    torch.manual_seed(0)
    g = build_network("dcgan_conditional", "generator", latent_size=8, num_classes=4, ngf=4, image_size=32).eval()
    z = torch.randn(2, 8)
    y0 = g(z, torch.tensor([0, 0]))
    y1 = g(z[:, :, None, None], torch.tensor([3, 3]))
    assert y0.shape == (2, 3, 32, 32)
    assert not torch.allclose(y0, y1)


@pytest.mark.parametrize("conditioning", ["projection", "concat"])
def test_conditional_discriminator_uses_labels(conditioning: str) -> None:
    torch.manual_seed(0)
    d = build_network("dcgan_discriminator_conditional", "discriminator", num_classes=5, ndf=4, image_size=32,
                      conditioning=conditioning).eval()
    x = torch.randn(2, 3, 32, 32)
    a, b = d(x, torch.tensor([0, 1])), d(x, torch.tensor([4, 2]))
    assert a.shape == (2,)
    assert not torch.allclose(a, b)


def test_bad_options_raise_config_errors() -> None:
    with pytest.raises(ConfigError, match="norm"):
        build_network("resnet_9blocks", "generator", norm="group")
    with pytest.raises(ConfigError, match="image_size"):
        build_network("dcgan", "generator", image_size=48)
    with pytest.raises(ConfigError, match="conditioning"):
        build_network("dcgan_discriminator_conditional", "discriminator", conditioning="film")
    with pytest.raises(ConfigError, match="padding_type"):
        build_network("resnet_6blocks", "generator", padding_type="circular")
    with pytest.raises(ConfigError, match="init_type"):
        build_network("pixel", "discriminator", init_type="uniform")
    with pytest.raises(ConfigError, match="not a generator"):
        build_network("patchgan", "generator")


def test_zero_padding_option() -> None:
    net = build_network("resnet_6blocks", "generator", ngf=4, padding_type="zero")
    assert "model.10.conv_block.0.weight" in net.state_dict()
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_unknown_options_are_ignored_by_build_network() -> None:
    # recipes pass one options dict to several networks; each factory takes what it knows
    net = build_network("pixel", "discriminator", ndf=4, latent_size=10)
    assert isinstance(net, nn.Module)


def test_factories_survive_building_networks_and_rebuilding_registries(fresh_plugins):
    """Importing a network's module must not shadow the plugin's factory of the same name."""
    import inspect

    from gantrans.plugins import get_registries, reset_plugin_manager
    from gantrans.recipe import build_network

    for name, kind in (("patchgan", "discriminator"), ("dcgan", "generator")):
        build_network(name, kind, ndf=4, ngf=4, image_size=8, latent_size=4)
    reset_plugin_manager()
    regs = get_registries()
    for name in ("patchgan", "dcgan", "dcgan_discriminator", "pixel"):
        assert inspect.isfunction(regs.networks[name]), name


@pytest.mark.parametrize("size, depth", [(32, 5), (64, 6), (96, 5), (128, 7), (256, 8), (512, 8)])
def test_unet_follows_the_image_size(size: int, depth: int) -> None:
    """``unet`` is ``unet_{2**depth}`` itself (same layout, same initial weights from a seed), and
    tells the recipe its own size rule, so exports and size checks use the depth it has."""
    from gantrans.recipe import DataSpec, get_recipe

    torch.manual_seed(0)
    sized = build_network("unet", "generator", ngf=4, image_size=size)
    torch.manual_seed(0)
    fixed = build_network(f"unet_{2**depth}", "generator", ngf=4)
    assert list(sized.state_dict()) == list(fixed.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(sized.state_dict().values(), fixed.state_dict().values()))
    recipe = get_recipe("pix2pix")({"ngf": 4, "ndf": 4}, DataSpec("paired", {"A": 3, "B": 3}, size))
    assert recipe.config["generator"] == "unet"  # pix2pix's default
    if size <= 128:
        recipe.build_networks()
        spec = recipe.network_specs["G"]
        assert (spec["size_multiple"], spec["min_size"]) == (2**depth, 2**depth)
        assert spec["options"]["image_size"] == size
        recipe.attach(recipe.build_networks())
        assert recipe.export_heads()[0].size_multiple == 2**depth  # what an export writes


def test_a_network_may_narrow_its_registered_size_rule_but_not_widen_it() -> None:
    from types import SimpleNamespace

    from gantrans.recipe import _own_size_rule

    entry = SimpleNamespace(origin=SimpleNamespace(plugin="someone"))
    rule = {"size_multiple": 32, "min_size": 32}
    assert _own_size_rule(nn.Identity(), "n", entry, rule) == {}
    net = nn.Identity()
    net.size_rule = (64, 64)
    assert _own_size_rule(net, "n", entry, rule) == {"size_multiple": 64, "min_size": 64}
    net.size_rule = (16, 32)
    with pytest.raises(ConfigError, match="network 'n' \\(plugin 'someone'\\).*only narrow"):
        _own_size_rule(net, "n", entry, rule)
