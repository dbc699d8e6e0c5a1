"""What an outsider's plugin gets wrong fails loudly: size rules, dropped options, loss options,
network options from the command line, option defaults pinned in checkpoints."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
import trainer_fixtures as fx
from test_export_heads import SPEC, heads_plugin  # noqa: F401 - a fixture used below
from torch import nn

from gantrans import hookimpl
from gantrans.cli.main import main
from gantrans.errors import CheckpointError, ConfigError, ExportError, PluginError
from gantrans.gan import HingeLoss
from gantrans.options import Option
from gantrans.recipe import DataSpec, NetworkOptionWarning, _warned_drops

TINY = {"generator": "resnet_6blocks", "ngf": 4, "ndf": 4, "n_layers_D": 1}
UNPAIRED = DataSpec("unpaired", {"A": 3, "B": 3}, 32)


class SkipNet(nn.Module):
    """Three stride-2 downs and a skip concatenation: needs sizes that are multiples of 8."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, width: int = 2):
        super().__init__()
        self.downs = nn.ModuleList(nn.Conv2d(c, width, 3, 2, 1) for c in (in_channels, width, width))
        self.up = nn.Upsample(scale_factor=2)
        self.out = nn.Conv2d(2 * width, out_channels, 3, padding=1)

    def forward(self, x):
        a = self.downs[0](x)
        b = self.downs[2](self.downs[1](a))
        c = self.up(b)  # size of a only when the input was a multiple of 8
        return self.up(self.out(torch.cat([self.up(c), a], 1)))


class Shrinks(nn.Module):
    """A 3x3 'valid' convolution: every output is 2 px smaller, whatever the rule says."""

    def __init__(self, width: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3)

    def forward(self, x):
        return self.conv(x)


class OddD(nn.Module):
    """A discriminator that only works at even sizes (a reshape assumes it)."""

    def __init__(self, width: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 3, padding=1)

    def forward(self, x):
        n, _, h, w = x.shape
        return self.conv(x).reshape(n, 2, h // 2 * w * 2)


def liar_g(in_channels=3, out_channels=3, width=2):
    return SkipNet(in_channels, out_channels, width)


def knob_g(in_channels=3, out_channels=3, knob=2):
    return nn.Conv2d(in_channels, out_channels * knob, 1)


def knob_g_later(in_channels=3, out_channels=3, knob=5):  # the same plugin, a later version's default
    return nn.Conv2d(in_channels, out_channels * knob, 1)


def margin_hinge(real_label=1.0, margin=1.0):
    loss = HingeLoss(real_label)
    loss.margin = margin
    return loss


def hinge2():  # cannot honour real_label
    return HingeLoss()


def no_init(in_channels=3, out_channels=3, ngf=8, norm="instance", dropout=False):
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


def takes_anything(**kwargs):
    return nn.Conv2d(kwargs.get("in_channels", 3), kwargs.get("out_channels", 3), 3, padding=1)


def narrows(in_channels=3, out_channels=3, ngf=8, norm="instance", dropout=False, init_type="normal",
            init_gain=0.02):
    net = nn.Conv2d(in_channels, out_channels, 3, padding=1)
    net.size_rule = (8, 8)  # what this build really needs: narrower than the registered rule
    return net


class Liar:
    @hookimpl
    def register_networks(self, register):
        register("liar_g", liar_g, kind="generator", size_multiple=4, min_size=8)  # really needs 8
        register("shrinks", Shrinks, kind="generator")
        register("odd_d", OddD, kind="discriminator")
        register("knob_g", knob_g, kind="generator", options=(Option("knob", int, 2, "output multiplier"),))
        register("no_init", no_init, kind="generator",
                 options=(Option("ngf", int, 8, "width"), Option("init_type", str, "normal", "init"),
                          Option("init_gain", float, 0.02, "gain")))
        register("takes_anything", takes_anything, kind="generator",
                 options=(Option("init_type", str, "normal", "init"),))
        register("narrows", narrows, kind="generator", size_multiple=2, min_size=4)

    @hookimpl
    def register_losses(self, register):
        register("margin_hinge", margin_hinge, description="hinge with a margin",
                 options=(Option("margin", float, 1.0, "the hinge's margin"),))
        register("hinge2", hinge2, description="hinge without label smoothing")


@pytest.fixture
def liar(fresh_plugins):
    fx.install()
    fresh_plugins.register(Liar(), "liar")
    fresh_plugins.registries  # noqa: B018 - built now, so later environment changes act on use only
    _warned_drops.clear()
    yield fresh_plugins


train = fx.train


def _tiny_train(tmp_path: Path, *extra: str, precision: str = "fp32") -> list[str]:
    return ["tinygan", "--data", "mem:2", "--runs-dir", str(tmp_path), "--name", "r", "--batch-size", "2",
            "--max-steps", "1", "--workers", "0", "--device", "cpu", "--precision", precision, "--samples", "0",
            "--no-tensorboard", *extra]


@pytest.fixture(params=["fp32", "auto"])
def precision(request, monkeypatch) -> str:
    """fp32, and ``auto`` on a CPU with native bf16: the case where a probe step picks the precision
    (on any CPU: the device's answer is stubbed), which must not be what meets a bad size first."""
    if request.param == "auto":
        from gantrans.training import devices

        real = devices.pick_precision
        monkeypatch.setattr(devices, "pick_precision",
                            lambda spec, device: "bf16" if spec == "auto" else real(spec, device))
    return request.param


# -- (7) size rules that do not hold fail with one line naming the network, plugin, rule and size ----
def _fails(argv: list[str]) -> str:
    """The one line a training run that must fail gives (a ConfigError, which the CLI prints as is)."""
    with pytest.raises(ConfigError) as err:
        train(argv)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_dishonest_size_rule_fails_training_with_one_line(liar, tmp_path, precision):
    err = _fails(_tiny_train(tmp_path, "--crop-size", "36", "-o", "generator=liar_g", precision=precision))
    assert "network 'liar_g' (plugin 'liar', key G) is registered for sizes a multiple of 4, at least 8 px, " \
           "but at 36x36 px it fails (RuntimeError: Sizes of tensors must match" in err
    err = _fails(_tiny_train(tmp_path / "b", "--crop-size", "33", "-o", "generator=shrinks", precision=precision))
    assert "network 'shrinks' (plugin 'liar', key G) is registered for sizes a multiple of 1, at least 1 px, but " \
           "at 33x33 px it returns 31x31" in err


def test_a_network_that_narrowed_its_rule_is_not_offered_as_one_that_fits(liar):
    with pytest.raises(ConfigError) as err:
        liar.registries.models["cyclegan"]({**TINY, "generator": "narrows"},
                                           DataSpec("unpaired", {"A": 3, "B": 3}, 30)).build_networks()
    message = str(err.value)
    assert "network 'narrows' needs images of at least 8 px whose size is a multiple of 8" in message
    assert "generators that fit 30 px: " in message and "narrows" not in message.split("generators that fit")[1]


def test_failure_in_the_first_step_names_every_network_and_rule(liar, tmp_path, precision):
    err = _fails(_tiny_train(tmp_path, "--crop-size", "33", "-o", "discriminator=odd_d", precision=precision))
    assert "recipe 'tinygan' failed in its first training step at 33 px (RuntimeError: shape" in err
    assert "network 'odd_d' (plugin 'liar', key D): sizes a multiple of 1, at least 1 px" in err


def test_export_names_the_network_and_sizes_when_pytorch_fails(heads_plugin, tmp_path):  # noqa: F811
    from test_export import make_run

    from gantrans.export import export_run

    heads_plugin.register(Liar(), "liar")
    run = make_run(tmp_path, "liar", "heads-test", {"generator": "liar_g"}, SPEC)
    out = tmp_path / "e"
    with pytest.raises(ExportError) as err:
        try:
            export_run(run, out_dir=out, exporter="torchscript", progress=lambda m: None)
        finally:
            heads_plugin.unregister("liar")
    msg = str(err.value)
    assert "\n" not in msg and not list(out.glob("*"))
    assert "network 'liar_g' (plugin 'liar'), registered for sizes a multiple of 4, at least 8 px, fails in " \
           "PyTorch at 64x68 px (RuntimeError: Sizes of tensors must match" in msg


def test_parity_line_names_the_sizes_it_checked(heads_plugin, tmp_path):  # noqa: F811
    from test_export import make_run

    from gantrans.export import export_run

    run = make_run(tmp_path, "even", "heads-test", {}, SPEC)
    lines: list[str] = []
    export_run(run, out_dir=tmp_path / "e", exporter="torchscript", progress=lines.append)
    assert any("parity ONNX Runtime vs PyTorch at 64x64 (batch 1), 64x66 (batch 2): max abs difference" in line
               for line in lines), lines


# -- (3)+(4) loss options reach the factory; a loss that cannot honour real_label is refused --------
def test_loss_options_reach_the_factory_and_show(liar, capsys):
    cls = liar.registries.models["cyclegan"]
    recipe = cls({**TINY, "loss": "margin_hinge", "loss.margin": "0.5"}, UNPAIRED)
    assert recipe.loss.margin == 0.5 and recipe.config["loss.margin"] == 0.5
    assert cls({**TINY, "loss": "margin_hinge"}, UNPAIRED).loss.margin == 1.0
    with pytest.raises(ConfigError, match="sets real_label of loss 'lsgan' itself; use -o real_label"):
        cls({**TINY, "loss": "lsgan", "loss.real_label": 0.9}, UNPAIRED)
    with pytest.raises(ConfigError, match=r"recipe 'cyclegan' has no option\(s\) margin \(did you mean "
                                          r"'loss.margin'\?\)"):
        cls({**TINY, "loss": "margin_hinge", "margin": 0.5}, UNPAIRED)
    with pytest.raises(ConfigError, match=r"loss 'margin_hinge' \(plugin 'liar'\): option 'loss.margin' must be "
                                          r"a number, got 'wide'"):
        cls({**TINY, "loss": "margin_hinge", "loss.margin": "wide"}, UNPAIRED)
    assert main(["plugins", "show", "liar"]) == 0
    out = capsys.readouterr().out
    assert "loss 'margin_hinge': hinge with a margin" in out and "margin  float default 1.0" in out
    assert main(["train", "cyclegan", "--loss", "margin_hinge", "--help"]) == 0
    assert "loss 'margin_hinge' options (set with -o loss.NAME=VALUE):" in capsys.readouterr().out


def test_loss_factory_that_drops_real_label(liar):
    cls = liar.registries.models["cyclegan"]
    with pytest.raises(ConfigError, match=r"loss 'hinge2' \(plugin 'liar'\) does not take option "
                                          r"real_label=0.9, which you set for recipe 'cyclegan'"):
        cls({**TINY, "loss": "hinge2", "real_label": 0.9}, UNPAIRED)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cls({**TINY, "loss": "hinge2"}, UNPAIRED)
    assert any("loss 'hinge2' (plugin 'liar') ignores option real_label=1.0" in str(w.message)
               for w in caught if issubclass(w.category, NetworkOptionWarning))


# -- (5) declarations checked at registration; dropped options strict; provenance honest -------------
def test_declared_options_are_checked_against_the_factory(liar):
    [failure] = [f for f in liar.failures if f.plugin == "liar"]
    assert failure.stage == "register_networks"
    assert "network 'no_init' declares options init_type, init_gain that its factory does not take" in failure.error
    entry = liar.registries.networks.get("no_init")  # still registered, without the options it cannot take
    assert [o.name for o in entry.meta["options"]] == ["ngf"]
    assert [o.name for o in liar.registries.networks.get("takes_anything").meta["options"]] == ["init_type"]


def test_user_set_option_a_network_drops_is_refused_and_defaults_warn(liar):
    cls = liar.registries.models["cyclegan"]
    with pytest.raises(ConfigError, match=r"network 'no_init' \(plugin 'liar'\) does not take option "
                                          r"init_type='xavier', which you set"):
        cls({**TINY, "generator": "no_init", "init_type": "xavier"}, UNPAIRED).build_networks()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recipe = cls({**TINY, "generator": "no_init"}, UNPAIRED)
        recipe.build_networks()
    assert [w for w in caught if issubclass(w.category, NetworkOptionWarning)]
    spec = recipe.network_specs["G_A"]
    assert spec["ignored_options"] == {"init_gain": 0.02, "init_type": "normal"}
    assert "init_type" not in spec["options"] and spec["resolved_options"]["ngf"] == 4


def test_strict_plugins_turns_a_dropped_option_into_an_error(liar, monkeypatch):
    monkeypatch.setenv("GANTRANS_STRICT_PLUGINS", "1")
    cls = liar.registries.models["cyclegan"]
    with pytest.raises(PluginError, match="network 'no_init' .* ignores options init_gain=0.02, init_type='normal'"):
        cls({**TINY, "generator": "no_init"}, UNPAIRED).build_networks()


# -- (2) a network's own options from the command line ----------------------------------------------
def test_network_options_from_the_command_line(liar, capsys):
    cls = liar.registries.models["cyclegan"]
    recipe = cls({**TINY, "generator.padding_type": "zero"}, UNPAIRED)
    nets = recipe.build_networks()

    def reflect_pads(net):
        return sum(isinstance(m, nn.ReflectionPad2d) for m in net.modules())

    assert reflect_pads(nets["G_A"]) < reflect_pads(cls(TINY, UNPAIRED).build_networks()["G_A"])
    assert recipe.network_specs["G_A"]["options"]["padding_type"] == "zero"
    with pytest.raises(ConfigError, match=r"generator 'resnet_6blocks' \(plugin 'networks' .*\) has no option "
                                          r"'padding_typ' .*\(did you mean 'padding_type'\?\)"):
        cls({**TINY, "generator.padding_typ": "zero"}, UNPAIRED)
    with pytest.raises(ConfigError, match="must be one of reflect, replicate, zero"):
        cls({**TINY, "generator.padding_type": "mirror"}, UNPAIRED)
    with pytest.raises(ConfigError, match=r"recipe 'cyclegan' sets 'ngf' of generator 'resnet_6blocks' itself"):
        cls({**TINY, "generator.ngf": 8}, UNPAIRED).build_networks()
    with pytest.raises(ConfigError, match=r"has no option\(s\) lamda_A \(did you mean 'lambda_A'\?\)"):
        cls({**TINY, "lamda_A": 1.0}, UNPAIRED)
    assert main(["train", "cyclegan", "--help"]) == 0
    out = capsys.readouterr().out
    assert "generator 'resnet_9blocks' options (set with -o generator.NAME=VALUE):" in out
    assert "generator.padding_type  str   default 'reflect'" in out


@pytest.mark.filterwarnings("ignore::gantrans.recipe.NetworkOptionWarning")  # knob_g drops tinygan's width
def test_network_options_train_and_are_recorded(liar, tmp_path):
    assert train(_tiny_train(tmp_path, "--crop-size", "16", "-o", "generator=knob_g", "-o", "generator.knob=1")) == 0
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["model"]["generator.knob"] == 1
    spec = config["resolved"]["networks"]["G"]
    assert spec["options"] == {"knob": 1} and spec["ignored_options"] == {"width": 4}
    assert train(["--resume", str(tmp_path / "r"), "--max-steps", "2"]) == 0  # rebuilt from the checkpoint
    # A TOML model table with an unquoted generator.padding_type = "zero" arrives nested.
    nested = liar.registries.models["cyclegan"]({"ngf": 4, "generator": {"padding_type": "zero"}}, UNPAIRED)
    assert nested.config["generator.padding_type"] == "zero" and nested.config["generator"] == "resnet_9blocks"


# -- (9) a checkpoint records the options' resolved defaults; a later default cannot change it -------
def test_checkpoint_pins_network_defaults(heads_plugin, tmp_path):  # noqa: F811
    from test_export import make_run

    from gantrans.checkpoint import load_checkpoint, recipe_from_checkpoint

    class V1:
        @hookimpl
        def register_networks(self, register):
            register("knob_net", knob_g, kind="generator")

    class V2:
        @hookimpl
        def register_networks(self, register):
            register("knob_net", knob_g_later, kind="generator")

    heads_plugin.register(V1(), "knob")
    run = make_run(tmp_path, "knob", "heads-test", {"generator": "knob_net"}, SPEC)
    ckpt = load_checkpoint(run)
    assert ckpt["network_specs"]["G"]["resolved_options"] == {"in_channels": 3, "out_channels": 1, "knob": 2}
    heads_plugin.unregister("knob")
    heads_plugin.register(V2(), "knob")  # the plugin's next version changes the default to 5
    try:
        recipe = recipe_from_checkpoint(ckpt)
        assert recipe.nets["G"].out_channels == 2
        del ckpt["network_specs"]["G"]["resolved_options"]  # an older checkpoint: nothing pinned
        with pytest.raises(CheckpointError, match="weights of 'G' do not fit"):
            recipe_from_checkpoint(ckpt)
    finally:
        heads_plugin.unregister("knob")


# -- a plugin factory's own failures are one line naming it and its plugin ----------------------
class OutputFirst(nn.Module):
    """A valid generator whose output convolution is registered before its body."""

    def __init__(self, in_channels=3, out_channels=3, width=8):
        super().__init__()
        self.head = nn.Conv2d(width, out_channels, 1)
        self.body = nn.Conv2d(in_channels, width, 3, padding=1)

    def forward(self, x):
        return torch.tanh(self.head(torch.relu(self.body(x))))


def explodes(in_channels=3, out_channels=3, blocks=1):
    if blocks < 1:
        raise ValueError("blocks must be positive")
    return nn.Conv2d(in_channels, out_channels, 1)


def returns_nothing(in_channels=3, out_channels=3):
    return None


def small_d(in_channels=3, ndf=8, n_layers=2, width=1, k=1):
    return nn.Conv2d(in_channels, 1, 3, padding=1)


class Careless:
    @hookimpl
    def register_networks(self, register):
        register("explodes", explodes, kind="generator")
        register("returns_nothing", returns_nothing, kind="generator")
        register("output_first", OutputFirst, kind="generator")
        # declared defaults the factory does not run with, or that their own declaration refuses
        register("small_d", small_d, kind="discriminator",
                 options=(Option("ndf", int, 8), Option("n_layers", int, 3), Option("width", int, "wide"),
                          Option("k", int, 5, choices=(1, 2))))


@pytest.fixture
def careless(fresh_plugins):
    fresh_plugins.register(Careless(), "careless")
    yield fresh_plugins


def test_a_factory_that_raises_or_returns_no_module_is_named_with_its_plugin(careless):
    from gantrans.recipe import build_network

    with pytest.raises(ConfigError) as err:
        build_network("explodes", "generator", blocks=0)
    assert str(err.value) == ("network 'explodes' (plugin 'careless') could not be built with blocks=0 (ValueError: "
                              "blocks must be positive); check the options you set for it, or report it to the "
                              "plugin's author")
    with pytest.raises(ConfigError, match=r"^network 'returns_nothing' \(plugin 'careless'\): its factory returned "
                                          r"NoneType, not a torch.nn.Module"):
        build_network("returns_nothing", "generator")


@pytest.mark.filterwarnings("ignore::gantrans.recipe.NetworkOptionWarning")  # ngf, norm: not its options
def test_the_residual_output_finds_the_output_layer_or_refuses(careless):
    """Zeroing "the last convolution registered" would zero the body of a network that registers
    its output layer first: refused, with the fix; ``output_layer`` says which it is."""
    from gantrans.gan import ResidualOutput
    from gantrans.recipe import get_recipe

    with pytest.raises(ConfigError) as err:
        get_recipe("cyclegan")({"generator": "output_first", "ndf": 4}, UNPAIRED).build_networks()
    assert ("generator 'output_first' (G_A): residual_zero_init: the network's output layer (its 'output_layer' "
            "attribute, else the last convolution it registers) has 8 output channels, not the image's 3") in str(err.value)
    assert "-o residual_zero_init=false" in str(err.value)

    net = OutputFirst()
    net.output_layer = net.head
    G = ResidualOutput(net, zero_init=True, colour_map=True, channels=3)
    assert not net.head.weight.any() and net.body.weight.any()
    x = torch.rand(1, 3, 8, 8) * 2 - 1
    assert torch.equal(G(x), x)  # starts as the identity
    assert G.colour.delta.in_channels == 3

    with pytest.raises(ValueError, match="must keep the size and channels: it returns 6x6 with 3 channels for a "
                                         "8x8 input with 3"):
        ResidualOutput(Shrinks())(x)


def test_declared_defaults_are_the_ones_the_factory_runs_with(careless):
    """An unset option is not passed: the factory's default is what a run gets, so a declaration
    that says otherwise (or that its own type or choices refuse) is the plugin's failure, and the
    help advertises the truth."""
    advertised = {o.name: o.default for o in careless.registries.networks.get("small_d").meta["options"]}
    assert advertised == {"ndf": 8, "n_layers": 2, "width": 1, "k": 1}
    errors = [f.error for f in careless.failures if f.plugin == "careless"]
    assert len(errors) == 3, errors
    assert ("network 'small_d': option 'n_layers' is declared with default 3, but its factory's default is 2, "
            "which is what a run gets; declare 2") in errors[0]
    assert "the declared default of option 'width' is not one of its values (must be an integer, got 'wide')" in errors[1]
    assert "the declared default of option 'k' is not one of its values (must be one of 1, 2, got 5)" in errors[2]
