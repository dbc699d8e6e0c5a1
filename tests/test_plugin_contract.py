"""No plugin can break another: per-name clashes, duplicate entry points, failed plugins reported."""

from __future__ import annotations

import warnings

import pytest
from plugin_helpers import make_fake_distribution

from gantrans.cli.main import main
from gantrans.errors import CheckpointError, ConfigError, PluginError
from gantrans.plugins import PluginManager, get_plugin_manager, reset_plugin_manager

BUILTIN_NETWORKS = {"resnet_6blocks", "resnet_9blocks", "unet", "unet_32", "unet_64", "unet_128", "unet_256", "dcgan",
                    "dcgan_conditional", "patchgan", "pixel", "dcgan_discriminator",
                    "dcgan_discriminator_conditional"}

CLASHY = (
    "from gantrans import hookimpl\n"
    "def net(in_channels=3, out_channels=3):\n"
    "    raise AssertionError('never built')\n"
    "@hookimpl\n"
    "def register_networks(register):\n"
    "    register('patchgan', net, kind='discriminator')\n"
    "    register('clashy_net', net, kind='generator')\n"
    "@hookimpl\n"
    "def register_losses(register):\n"
    "    register('lsgan', net)\n"
)
BROKEN = "raise RuntimeError('this plugin is broken on purpose')\n"
SHARED = (
    "from gantrans import hookimpl\n"
    "@hookimpl\n"
    "def register_networks(register):\n"
    "    register('shared_net', lambda: None, kind='generator')\n"
)


@pytest.fixture
def fresh(monkeypatch):
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def test_a_clashing_name_fails_alone_and_builtins_keep_theirs(tmp_path, monkeypatch, fresh):
    # The fake distribution comes first on sys.path, so its hook is registered before the built-ins'.
    make_fake_distribution(tmp_path, "clashy-dist", "0.1", {"clashy": "clashy_mod"}, {"clashy_mod": CLASHY})
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = PluginManager()
    regs = pm.registries
    assert BUILTIN_NETWORKS <= set(regs.networks.names())
    assert all(regs.networks.get(n).origin.plugin == "networks" for n in BUILTIN_NETWORKS)
    assert regs.losses.get("lsgan").origin.plugin == "networks"
    assert regs.networks.get("clashy_net").origin.plugin == "clashy"  # its other name still registers
    failures = [f for f in pm.failures if f.plugin == "clashy"]
    assert len(failures) == 2
    assert all("registered twice" in f.error and "'networks'" in f.error and "clashy-dist" in f.error
               for f in failures)
    [entry] = [p for p in pm.describe()["plugins"] if p["name"] == "clashy"]
    assert entry["status"] == "failed" and "patchgan" in entry["error"]
    assert [n["name"] for n in entry["registered"]["networks"]] == ["clashy_net"]
    # cyclegan still finds every built-in network it needs.
    from gantrans.recipe import DataSpec

    recipe = regs.models["cyclegan"]({"generator": "resnet_6blocks", "ngf": 4, "ndf": 4, "n_layers_D": 1},
                                     DataSpec("unpaired", {"A": 3, "B": 3}, 32))
    assert sorted(recipe.build_networks()) == ["D_A", "D_B", "G_A", "G_B"]


def test_entry_points_naming_the_same_module_do_not_crash_list_or_uninstall(tmp_path, monkeypatch, fresh, capsys):
    make_fake_distribution(tmp_path, "dup-one", "1.0", {"dup_a": "shared_mod"}, {"shared_mod": SHARED})
    make_fake_distribution(tmp_path, "dup-two", "2.0", {"dup_b": "shared_mod"}, {})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["plugins", "list", "--json"]) == 0
    import json

    plugins = {p["name"]: p for p in json.loads(capsys.readouterr().out)["plugins"]}
    [ok] = [p for n, p in plugins.items() if n in ("dup_a", "dup_b") and p["status"] == "ok"]
    [failed] = [p for n, p in plugins.items() if n in ("dup_a", "dup_b") and p["status"] == "failed"]
    assert f"already loaded as plugin '{ok['name']}'" in failed["error"]
    assert main(["plugins", "list"]) == 0 and "FAILED" in capsys.readouterr().out

    from gantrans.plugins import install

    calls = []
    monkeypatch.setattr(install, "_run_pip", lambda args, echo: (calls.append(list(args)), (0, []))[1])
    for plugin in (failed, ok):
        assert main(["plugins", "uninstall", plugin["name"]]) == 0
        assert calls[-1] == ["uninstall", "-y", plugin["distribution"]]
        assert f"uninstalled {plugin['distribution']}" in capsys.readouterr().out


def test_same_plugin_name_from_two_distributions_is_a_failure_not_a_crash(tmp_path, monkeypatch, fresh):
    make_fake_distribution(tmp_path / "one", "twin-one", "1.0", {"twin": "twin_one"}, {"twin_one": SHARED})
    make_fake_distribution(tmp_path / "two", "twin-two", "1.0", {"twin": "twin_two"},
                           {"twin_two": SHARED.replace("shared_net", "other_net")})
    monkeypatch.syspath_prepend(str(tmp_path / "two"))
    monkeypatch.syspath_prepend(str(tmp_path / "one"))
    pm = PluginManager()
    [failure] = [f for f in pm.failures if f.plugin == "twin"]
    assert failure.distribution == "twin-two" and "already taken by plugin 'twin' (twin-one 1.0)" in failure.error
    assert "shared_net" in pm.registries.networks


def test_failed_plugins_are_reported_once_and_named_in_unknown_name_errors(tmp_path, monkeypatch, fresh, capsys):
    make_fake_distribution(tmp_path, "broken-dist", "0.7", {"broken": "broken_mod"}, {"broken_mod": BROKEN})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["train", "ghost-recipe", "--data", str(tmp_path)]) == 2  # a usage error
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert err[0].startswith("gantrans: warning: 1 plugin failed to load or register: 'broken' (broken-dist 0.7)")
    assert "unknown recipe 'ghost-recipe'" in err[1] and "plugins that failed to load: 'broken' (broken-dist 0.7)" in err[1]
    with pytest.raises(ConfigError, match=r"unknown network 'ghost_net'.*failed to load: 'broken'"):
        get_plugin_manager().registries.networks.get("ghost_net")
    # A second command in the same process does not repeat the warning.
    main(["train", "ghost-recipe", "--data", str(tmp_path)])
    assert "warning" not in capsys.readouterr().err


def test_uninstall_accepts_a_failed_plugins_name(tmp_path, monkeypatch, fresh, capsys):
    make_fake_distribution(tmp_path, "broken-dist", "0.7", {"broken": "broken_mod"}, {"broken_mod": BROKEN})
    monkeypatch.syspath_prepend(str(tmp_path))
    from gantrans.plugins import install

    calls = []
    monkeypatch.setattr(install, "_run_pip", lambda args, echo: (calls.append(list(args)), (0, []))[1])
    assert main(["plugins", "uninstall", "broken"]) == 0
    assert calls == [["uninstall", "-y", "broken-dist"]]
    assert main(["plugins", "uninstall", "cyclegan"]) == 1
    assert "built into gantrans" in capsys.readouterr().err


def test_checkpoint_from_a_missing_plugin_names_its_distribution(tmp_path, fresh, capsys):
    from test_export import make_run

    from gantrans.checkpoint import load_checkpoint, require_plugins
    from gantrans.plugins import get_plugin_manager
    from gantrans.recipe import DataSpec

    run = make_run(tmp_path, "ghost", "cyclegan", {"generator": "resnet_6blocks", "ngf": 4, "ndf": 4,
                                                    "n_layers_D": 1}, DataSpec("unpaired", {"A": 3, "B": 3}, 32))
    ckpt = load_checkpoint(run)
    original = dict(ckpt["recipe"])
    ckpt["recipe"] = {"name": "ghostgan", "plugin": "ghost", "distribution": "gantrans-ghost", "version": "0.3"}
    with pytest.raises(CheckpointError, match=r"recipe 'ghostgan' comes from plugin 'ghost' of distribution "
                                              r"gantrans-ghost 0.3, which is not installed; install it with "
                                              r"'gantrans plugins install gantrans-ghost'"):
        require_plugins(ckpt)
    from gantrans.checkpoint import atomic_save

    ckpt.pop("_path")
    atomic_save(ckpt, run / "checkpoints" / "latest.pt")
    assert main(["export", str(run), "--out", str(tmp_path / "e")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "gantrans plugins install gantrans-ghost" in err
    ckpt = load_checkpoint(run)
    ckpt["recipe"] = original
    ckpt["network_specs"]["G_A"].update(name="ghost_resnet", plugin="ghost", distribution="gantrans-ghost")
    with pytest.raises(CheckpointError, match="network 'ghost_resnet' comes from plugin 'ghost' of distribution "
                                              "gantrans-ghost"):
        require_plugins(ckpt)

    # the loss (export and resume build it) and the data format (resume reads the data) too
    # (what a trainer records: tests/test_data_format_plugin.py)
    ckpt = load_checkpoint(run)
    ckpt["recipe"] = original
    ghost = {"plugin": "ghost", "distribution": "gantrans-ghost", "version": "0.3"}
    ckpt["components"] = {"loss": {"name": ckpt["model_config"]["loss"], "plugin": "networks"},
                          "data_format": {"name": "prefix", **ghost}}
    require_plugins(ckpt)  # an export does not read the data
    with pytest.raises(CheckpointError, match="data format 'prefix' comes from plugin 'ghost' of distribution "
                                              "gantrans-ghost 0.3, which is not installed; install it with"):
        require_plugins(ckpt, resuming=True)
    ckpt["components"]["loss"] = {"name": "softhinge", **ghost}
    with pytest.raises(CheckpointError, match="loss 'softhinge' comes from plugin 'ghost'"):
        require_plugins(ckpt)
    get_plugin_manager().disabled.append("ghost")
    with pytest.raises(CheckpointError, match="loss 'softhinge' comes from plugin 'ghost' of distribution "
                                              "gantrans-ghost 0.3, which GANTRANS_DISABLE_PLUGINS turns off"):
        require_plugins(ckpt)
    get_plugin_manager().disabled.remove("ghost")
    from gantrans.plugins.manager import PluginFailure

    # installed, but its import fails: reinstalling would not help, so it is not told to
    get_plugin_manager().failures.append(PluginFailure("ghost", "gantrans-ghost", "0.3", "import",
                                                       "ImportError: No module named 'scipy'"))
    with pytest.raises(CheckpointError, match=r"loss 'softhinge' comes from plugin 'ghost' of distribution "
                                              r"gantrans-ghost 0.3, which is installed but fails to load "
                                              r"\(ImportError: No module named 'scipy'\); fix or update it"):
        require_plugins(ckpt)


class _DropsOptions:
    """The old documented example's factory: no init_type/init_gain/norm parameters."""

    @staticmethod
    def tiny(in_channels: int = 3, out_channels: int = 3, ngf: int = 8):
        from torch import nn

        return nn.Conv2d(in_channels, out_channels, 3, padding=1)


def test_factory_dropping_a_recipe_option_warns_once(fresh):
    from gantrans import hookimpl
    from gantrans.recipe import DataSpec, NetworkOptionWarning, _warned_drops

    class Plugin:
        @hookimpl
        def register_networks(self, register):
            register("drops_options", _DropsOptions.tiny, kind="generator", size_multiple=1)

    pm = get_plugin_manager()
    pm.register(Plugin(), "drops")
    _warned_drops.clear()
    cls = pm.registries.models["cyclegan"]
    options = {"generator": "drops_options", "ngf": 4, "ndf": 4, "n_layers_D": 1}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cls(options, DataSpec("unpaired", {"A": 3, "B": 3}, 32)).build_networks()
        cls(options, DataSpec("unpaired", {"A": 3, "B": 3}, 32)).build_networks()
    drops = [str(w.message) for w in caught if issubclass(w.category, NetworkOptionWarning)]
    assert len(drops) == 1, drops
    assert "network 'drops_options' (plugin 'drops') ignores options init_gain=0.02, init_type='normal', " \
           "norm='instance' that recipe 'cyclegan' set" in drops[0]
    with pytest.raises(PluginError):
        pm.register(Plugin(), "drops")  # one name, one plugin


MISSPELT = (
    "from gantrans import hookimpl\n"
    "@hookimpl\n"
    "def register_network(register):\n"  # one letter short of register_networks: pluggy never calls it
    "    register('never_net', lambda: None, kind='generator')\n"
    "@hookimpl(optionalhook=True)\n"
    "def register_widgets(register):\n"  # meant for a later gantrans, and said so
    "    pass\n"
    "@hookimpl\n"
    "def register_losses(register):\n"
    "    register('typo_loss', lambda: None)\n"
)


def test_a_hook_no_specification_knows_fails_its_plugin_with_the_name_it_meant(tmp_path, monkeypatch, fresh):
    make_fake_distribution(tmp_path, "typo-dist", "0.3", {"typo": "typo_mod"}, {"typo_mod": MISSPELT})
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = PluginManager()
    [failure] = pm.failures_of("typo")
    assert failure.error == ("hook 'register_network' is not a gantrans hook, so it is never called "
                             "(did you mean 'register_networks'?)")
    [entry] = [p for p in pm.describe()["plugins"] if p["name"] == "typo"]
    assert entry["status"] == "failed"
    assert [x["name"] for x in entry["registered"]["losses"]] == ["typo_loss"]  # its real hooks still work
    monkeypatch.setenv("GANTRANS_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"plugin 'typo' \(typo-dist\) failed at import: hook 'register_network'"):
        PluginManager()


BAD_SIGNATURE = (
    "from gantrans import hookimpl\n"
    "@hookimpl\n"
    "def register_networks(register):\n"
    "    register('half_net', lambda: None, kind='generator')\n"
    "@hookimpl\n"
    "def register_losses(register, extra_arg):\n"  # an argument the hook never passes
    "    register('never_loss', lambda: None)\n"
)


def test_a_hook_asking_for_an_argument_gantrans_does_not_pass_fails_only_its_plugin(tmp_path, monkeypatch, fresh, capsys):
    """pluggy refuses such a plugin at registration with an exception of its own; it must be one
    failed plugin (listed, uninstallable), not an error of every command."""
    make_fake_distribution(tmp_path, "badhook-dist", "0.1", {"badhook": "badhook_mod"},
                           {"badhook_mod": BAD_SIGNATURE})
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = PluginManager()
    [failure] = pm.failures_of("badhook")
    assert failure.error == ("hook 'register_losses' asks for extra_arg, which gantrans does not pass "
                             "(it passes: register); docs/plugins.md lists each hook's arguments")
    [entry] = [p for p in pm.describe()["plugins"] if p["name"] == "badhook"]
    assert entry["status"] == "failed"
    # nothing of it is half-registered: not the hook pluggy took before the bad one either
    assert not pm.pm.has_plugin("badhook")
    assert "half_net" not in pm.registries.networks and "lsgan" in pm.registries.losses
    assert main(["plugins", "list"]) == 0 and "FAILED" in capsys.readouterr().out
    from gantrans.plugins import install

    calls = []
    monkeypatch.setattr(install, "_run_pip", lambda args, echo: (calls.append(list(args)), (0, []))[1])
    assert main(["plugins", "uninstall", "badhook"]) == 0 and calls[-1] == ["uninstall", "-y", "badhook-dist"]


def test_which_plugin_keeps_a_clashing_name_does_not_depend_on_the_path_order(tmp_path, monkeypatch, fresh):
    """Built-ins first, then by distribution name: the same answer on every machine."""
    net = "from gantrans import hookimpl\n@hookimpl\ndef register_networks(register):\n" \
          "    register('contested', lambda: None, kind='generator')\n"
    make_fake_distribution(tmp_path / "z", "zeta-dist", "1.0", {"zeta": "zeta_mod"}, {"zeta_mod": net})
    make_fake_distribution(tmp_path / "a", "alpha-dist", "1.0", {"alpha": "alpha_mod"}, {"alpha_mod": net})
    for first, second in (("z", "a"), ("a", "z")):
        reset_plugin_manager()
        with monkeypatch.context() as m:
            m.syspath_prepend(str(tmp_path / second))
            m.syspath_prepend(str(tmp_path / first))
            pm = PluginManager()
            assert pm.registries.networks.get("contested").origin.plugin == "alpha"
            assert [f.plugin for f in pm.failures] == ["zeta"]


def test_strict_mode_names_the_plugin_once(monkeypatch):
    from gantrans import hookimpl
    from gantrans.options import Option
    from gantrans.plugins.registry import Origin

    class Declares:
        @hookimpl
        def register_networks(self, register):
            register("declares_net", lambda in_channels=3: None, kind="generator",
                     options=(Option("width", int, 8, "a width the factory does not take"),))

    monkeypatch.setenv("GANTRANS_STRICT_PLUGINS", "1")
    pm = PluginManager(load_entry_points=False)
    pm.register(Declares(), "declares", Origin("declares", "declares-dist", "0.1"))
    with pytest.raises(PluginError) as err:
        pm.registries  # noqa: B018 - building the registries runs the hooks
    message = str(err.value)
    assert message.startswith("plugin 'declares' (declares-dist) failed at register_networks: network 'declares_net' "
                              "declares option width"), message
    assert message.count("'declares'") == 1 and "PluginError" not in message


def test_uninstalling_one_plugin_says_which_others_its_distribution_took(tmp_path, monkeypatch, fresh, capsys):
    make_fake_distribution(tmp_path, "pair-dist", "1.0", {"pair_one": "pair_one", "pair_two": "pair_two"},
                           {"pair_one": SHARED, "pair_two": SHARED.replace("shared_net", "second_net")})
    monkeypatch.syspath_prepend(str(tmp_path))
    from gantrans.plugins import install

    calls = []
    monkeypatch.setattr(install, "_run_pip", lambda args, echo: (calls.append(list(args)), (0, []))[1])
    assert main(["plugins", "uninstall", "pair_one"]) == 0
    assert calls == [["uninstall", "-y", "pair-dist"]]
    assert "uninstalled pair-dist (plugins pair_one, pair_two)" in capsys.readouterr().out
