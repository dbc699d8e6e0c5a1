"""The plugin system: discovery, provenance, safe loading, registries."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from plugin_helpers import make_fake_distribution

from gantrans import hookimpl, hookspecs
from gantrans.errors import ConfigError, PluginError
from gantrans.plugins import PluginManager, Registry
from gantrans.plugins.registry import Origin

BUILTINS = {"networks", "vanilla", "conditional", "cyclegan", "datasets"}
ROOT = Path(__file__).resolve().parent.parent


def test_builtin_plugins_load_through_entry_points():
    pm = PluginManager()
    info = pm.describe()
    names = {p["plugin"] for p in info["plugins"]}
    assert BUILTINS <= names
    for p in info["plugins"]:
        if p["plugin"] in BUILTINS:
            assert p["distribution"] == "gantrans"
            assert p["version"]
    assert info["failed"] == []


def test_core_never_imports_builtin_plugins_by_name():
    offenders = [str(p) for p in (ROOT / "gantrans").rglob("*.py")
                 if re.search(r"^\s*(from|import)\s+gantrans_(plugins|gui)\b", p.read_text(), re.M)]
    assert offenders == []


def test_core_imports_no_qt():
    offenders = [str(p) for p in (ROOT / "gantrans").rglob("*.py")
                 if re.search(r"^\s*(from|import)\s+(PySide6|PyQt\d|shiboken6)\b", p.read_text(), re.M)]
    assert offenders == []


BROKEN = "raise RuntimeError('this plugin is broken on purpose')\n"
HOOK_RAISES = (
    "from gantrans import hookimpl\n"
    "@hookimpl\n"
    "def register_networks(register):\n"
    "    raise ValueError('hook failed on purpose')\n"
)


def test_plugin_failing_at_import_is_recorded_and_skipped(tmp_path, monkeypatch):
    make_fake_distribution(tmp_path, "broken-dist", "0.7", {"broken": "broken_mod"}, {"broken_mod": BROKEN})
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = PluginManager()
    info = pm.describe()
    assert BUILTINS <= {p["plugin"] for p in info["plugins"]}
    [failure] = info["failed"]
    assert failure["plugin"] == "broken"
    assert failure["distribution"] == "broken-dist"
    assert failure["version"] == "0.7"
    assert failure["stage"] == "import"
    assert "broken on purpose" in failure["error"]


def test_plugin_whose_hook_raises_is_recorded_and_others_still_register(tmp_path, monkeypatch):
    make_fake_distribution(tmp_path, "hooky", "1.0", {"hooky": "hooky_mod"}, {"hooky_mod": HOOK_RAISES})
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = PluginManager()
    regs = pm.registries
    [failure] = pm.describe()["failed"]
    assert (failure["plugin"], failure["stage"]) == ("hooky", "register_networks")
    assert "hook failed on purpose" in failure["error"]
    assert "hooky" in pm.plugin_names()
    assert regs.networks.by_plugin("hooky") == []


def test_strict_mode_turns_failures_into_errors(tmp_path, monkeypatch):
    make_fake_distribution(tmp_path, "broken-dist", "0.7", {"broken": "broken_mod"}, {"broken_mod": BROKEN})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("GANTRANS_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="broken"):
        PluginManager()


def test_strict_mode_says_a_failure_once_on_the_command_line(tmp_path, monkeypatch, capsys):
    from gantrans.cli.main import main
    from gantrans.plugins import reset_plugin_manager

    make_fake_distribution(tmp_path, "broken-dist", "0.7", {"broken": "broken_mod"}, {"broken_mod": BROKEN})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("GANTRANS_STRICT_PLUGINS", "1")
    reset_plugin_manager()
    try:
        assert main(["data", "list"]) == 1
    finally:
        monkeypatch.delenv("GANTRANS_STRICT_PLUGINS")
        reset_plugin_manager()
    err = capsys.readouterr().err
    assert err.count("plugin 'broken' (broken-dist) failed at import") == 1, err


def test_disable_plugins_by_name(monkeypatch):
    monkeypatch.setenv("GANTRANS_DISABLE_PLUGINS", "vanilla, cyclegan")
    pm = PluginManager()
    assert {"vanilla", "cyclegan"}.isdisjoint(pm.plugin_names())
    assert {"networks", "conditional"} <= set(pm.plugin_names())
    assert pm.describe()["disabled"] == ["cyclegan", "vanilla"]


def test_a_disabled_plugin_is_said_to_be_disabled_not_missing(monkeypatch, capsys):
    from gantrans.cli.main import main
    from gantrans.plugins import reset_plugin_manager

    monkeypatch.setenv("GANTRANS_DISABLE_PLUGINS", "cyclegan")
    reset_plugin_manager()
    try:
        assert main(["plugins", "show", "cyclegan"]) == 1
        assert ("plugin 'cyclegan' is installed but GANTRANS_DISABLE_PLUGINS turns it off"
                in capsys.readouterr().err)
        assert main(["plugins", "uninstall", "cyclegan"]) == 1  # its distribution is still known
        assert "'cyclegan' is built into gantrans and cannot be uninstalled" in capsys.readouterr().err
        assert main(["train", "cyclegan", "--data", "shapes"]) == 2  # not "unknown recipe"
        assert ("recipe 'cyclegan': plugin 'cyclegan' is switched off by GANTRANS_DISABLE_PLUGINS"
                in capsys.readouterr().err)
    finally:
        monkeypatch.delenv("GANTRANS_DISABLE_PLUGINS")
        reset_plugin_manager()


def _plugin_registering(network_name: str):
    class Plugin:
        @hookimpl
        def register_networks(self, register):
            register(network_name, lambda: None, kind="generator")

    return Plugin()


def test_name_registered_twice_is_an_error_naming_both_plugins(monkeypatch):
    monkeypatch.setenv("GANTRANS_STRICT_PLUGINS", "1")
    pm = PluginManager(load_entry_points=False)
    pm.register(_plugin_registering("twin"), "first", Origin("first", "first-dist", "1.0"))
    pm.register(_plugin_registering("twin"), "second", Origin("second", "second-dist", "2.0"))
    with pytest.raises(PluginError) as err:
        pm.registries  # noqa: B018 - building the registries runs the hooks
    assert "'first'" in str(err.value) and "'second'" in str(err.value)
    assert "first-dist" in str(err.value) and "second-dist" in str(err.value)


def test_duplicate_without_strict_keeps_first_and_records_second():
    pm = PluginManager(load_entry_points=False)
    pm.register(_plugin_registering("twin"), "first")
    pm.register(_plugin_registering("twin"), "second")
    assert pm.registries.networks.get("twin").origin.plugin == "first"
    [failure] = pm.describe()["failed"]
    assert failure["plugin"] == "second" and "'first'" in failure["error"]


def test_unknown_name_lists_available():
    reg = Registry("network")
    reg.add("resnet", object(), Origin("p"))
    reg.add("unet", object(), Origin("p"))
    with pytest.raises(ConfigError, match=r"unknown network 'nope'; available: resnet, unet"):
        reg.get("nope")


def test_registered_entries_record_their_origin():
    pm = PluginManager(load_entry_points=False)
    pm.register(_plugin_registering("solo"), "mine", Origin("mine", "mine-dist", "3.1"))
    entry = pm.registries.networks.get("solo")
    assert entry.origin == Origin("mine", "mine-dist", "3.1")
    assert entry.meta == {"kind": "generator", "input": "image", "size_multiple": 1, "min_size": 1,
                          "description": "", "options": ()}
    registered = pm.describe()["plugins"][0]["registered"]
    assert [n["name"] for n in registered["networks"]] == ["solo"]
    assert not any(registered[k] for k in ("models", "losses", "data_formats", "datasets"))


def _hookspec_names():
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(fn, "gantrans_spec")]


def test_every_hook_is_documented_with_its_signature_in_the_plugin_guide():
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    names = _hookspec_names()
    assert len(names) >= 6
    for name in names:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"{name}({params})" in guide, f"docs/plugins.md lacks the hook signature {name}({params})"


def test_the_plugin_guide_shows_the_example_family_line_by_line():
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    shown = {line.rstrip() for line in guide.splitlines()}
    example = ROOT / "tests" / "example_plugin"
    files = sorted((example / "gantrans_onesided").glob("*.py"))
    assert len(files) == 4
    python_lines = 0
    for path in [*files, example / "pyproject.toml"]:
        lines = path.read_text(encoding="utf-8").splitlines()
        missing = [line for line in lines if line.strip() and line.rstrip() not in shown]
        assert not missing, f"docs/plugins.md does not show these lines of {path.name}: {missing}"
        python_lines += len(lines) if path.suffix == ".py" else 0
    toml_lines = len((example / "pyproject.toml").read_text().splitlines())
    assert f"It is {python_lines} lines of Python and {toml_lines} of" in guide


def test_the_plugin_guide_lists_every_base_option():
    """The guide spells out BASE_OPTIONS for authors; the tuple is the owner, the list must follow it."""
    from gantrans.recipe_kit import BASE_OPTIONS

    guide = " ".join((ROOT / "docs" / "plugins.md").read_text(encoding="utf-8").split())
    listed = re.search(r"`BASE_OPTIONS` \(([^)]*)\)", guide)
    assert listed, "docs/plugins.md no longer lists BASE_OPTIONS in parentheses"
    assert [n.strip() for n in listed.group(1).split(",")] == [o.name for o in BASE_OPTIONS]


def test_commands_a_plugin_adds_are_listed_under_it():
    import argparse

    class Hello:
        @hookimpl
        def register_commands(self, subparsers, context):
            parser = subparsers.add_parser("hello", help="say hello")
            parser.set_defaults(func=lambda args: 0)
            assert subparsers.choices["hello"] is parser  # other attributes pass through

    pm = PluginManager(load_entry_points=False)
    pm.register(Hello(), "greeter", Origin("greeter", "greeter-dist", "1.0"))
    pm.register(_plugin_registering("quiet"), "quiet", Origin("quiet", "quiet-dist", "1.0"))
    parser = argparse.ArgumentParser()
    pm.add_commands(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["hello"]).command == "hello"
    plugins = {p["name"]: p for p in pm.describe()["plugins"]}
    assert plugins["greeter"]["registered"]["commands"] == [{"name": "hello", "description": "say hello"}]
    assert plugins["quiet"]["registered"]["commands"] == []


def test_a_command_that_clashes_fails_its_plugin_and_says_so():
    """argparse refuses a second 'train': that is the plugin's failure, listed like any other
    (it was dropped when the registries were built, so the plugin read as fine)."""
    import argparse

    class Clash:
        @hookimpl
        def register_commands(self, subparsers, context):
            subparsers.add_parser("train", help="mine")

    pm = PluginManager(load_entry_points=False)
    pm.register(Clash(), "clash", Origin("clash", "clash-dist", "1.0"))
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("train")
    pm.add_commands(sub)
    pm.registries  # noqa: B018 - building them must not forget the failure
    pm.add_commands(argparse.ArgumentParser().add_subparsers())  # a parser built again: no second copy
    pm.add_commands(sub)
    [plugin] = [p for p in pm.describe()["plugins"] if p["name"] == "clash"]
    assert plugin["status"] == "failed"
    assert plugin["error"] == "register_commands: ArgumentError: argument command: conflicting subparser: train"
    assert "clash" in " ".join(pm.registries.networks.failed_plugins)


def test_the_gui_command_is_listed_under_the_gui_plugin(capsys):
    from gantrans.cli.main import main

    assert main(["plugins", "show", "gui"]) == 0
    assert "command 'gantrans gui': open the desktop application" in capsys.readouterr().out


def test_an_entry_without_a_description_shows_no_dangling_colon(fresh_plugins, capsys):
    from gantrans.cli.main import main

    fresh_plugins.register(_plugin_registering("plain_g"), "plain")
    assert main(["plugins", "show", "plain"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "'plain_g'" in x)
    assert line == "  generator 'plain_g' (image input; sizes: at least 1 px, multiple of 1)"


def test_plugins_list_json_says_which_install_extras_are_missing(monkeypatch, capsys):
    """The GUI reads it to say, before any click, that a translate-only install cannot train."""
    import importlib.util
    import json

    from gantrans.cli.main import main

    assert main(["plugins", "list", "--json"]) == 0
    assert "train" not in json.loads(capsys.readouterr().out)["missing_extras"]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert main(["plugins", "list", "--json"]) == 0
    assert "train" in json.loads(capsys.readouterr().out)["missing_extras"]
