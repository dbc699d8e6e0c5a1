"""Declared options: recipes and networks declare them; --help, plugins show/list --json carry them."""

from __future__ import annotations

import json
import re

import pytest

from gantrans.cli.main import main
from gantrans.errors import ConfigError
from gantrans.options import Option, coerce_option
from gantrans.recipe import DataSpec, Recipe

OPTION_KEYS = {"name", "type", "default", "help", "choices"}


def _json(capsys, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_option_types_and_json_form():
    opt = Option("norm", str, "batch", "normalisation", ("batch", "instance"))
    assert opt.as_dict() == {"name": "norm", "type": "str", "default": "batch", "help": "normalisation",
                             "choices": ["batch", "instance"]}
    assert Option("n", "int", 3).type == "int"
    with pytest.raises(ConfigError, match="type must be one of"):
        Option("x", list, [])
    assert coerce_option(Option("flag", bool, False), "yes", "recipe 'r'") is True
    assert coerce_option(Option("n", int, 1), 4.0, "recipe 'r'") == 4
    with pytest.raises(ConfigError, match="recipe 'r': option 'n' must be an integer"):
        coerce_option(Option("n", int, 1), 4.5, "recipe 'r'")
    with pytest.raises(ConfigError, match="must be one of batch, instance"):
        coerce_option(opt, "group", "recipe 'r'")


def test_every_builtin_recipe_and_network_declares_its_options(fresh_plugins):
    regs = fresh_plugins.registries
    for entry in regs.models:
        options = entry.obj.options
        assert options, entry.name
        assert {o.name for o in options} == set(entry.obj.defaults), entry.name
        assert all(o.help for o in options), [o.name for o in options if not o.help]
    for entry in regs.networks:
        declared = entry.meta["options"]
        assert declared and all(o.help for o in declared), entry.name


def test_recipe_with_only_defaults_gets_inferred_options():
    class Old(Recipe):
        name = "old"
        defaults = {"lr": 1e-3, "steps": 2, "flag": False, "net": "x"}

    assert [(o.name, o.type) for o in Old.options] == [("lr", "float"), ("steps", "int"), ("flag", "bool"),
                                                       ("net", "str")]
    r = Old({"steps": "3", "flag": "true"}, DataSpec("single", {"image": 3}, 32))
    assert r.config == {"lr": 1e-3, "steps": 3, "flag": True, "net": "x"}


def test_declared_types_are_enforced_for_builtin_recipes(fresh_plugins):
    cls = fresh_plugins.registries.models["cyclegan"]
    spec = DataSpec("unpaired", {"A": 3, "B": 3}, 32)
    with pytest.raises(ConfigError, match="option 'direction' must be one of AtoB, BtoA"):
        cls({"direction": "sideways"}, spec)
    with pytest.raises(ConfigError, match="option 'pool_size' must be an integer"):
        cls({"pool_size": "many"}, spec)


def test_plugins_list_json_follows_the_contract(capsys):
    info = _json(capsys, "plugins", "list", "--json")
    by_name = {p["name"]: p for p in info["plugins"]}
    for p in info["plugins"]:
        assert {"name", "distribution", "version", "status", "error", "registered"} <= set(p)
        assert p["status"] in ("ok", "failed")
    cyclegan = by_name["cyclegan"]["registered"]["models"][0]
    assert cyclegan["name"] == "cyclegan" and cyclegan["description"]
    opts = {o["name"]: o for o in cyclegan["options"]}
    assert opts["lambda_A"] == {"name": "lambda_A", "type": "float", "default": 10.0,
                                "help": opts["lambda_A"]["help"], "choices": None}
    assert opts["direction"]["choices"] == ["AtoB", "BtoA"]
    assert all(set(o) == OPTION_KEYS for o in cyclegan["options"])
    nets = {n["name"]: n for n in by_name["networks"]["registered"]["networks"]}
    resnet = nets["resnet_9blocks"]
    assert (resnet["kind"], resnet["input"], resnet["size_multiple"], resnet["min_size"]) == \
        ("generator", "image", 4, 8)
    assert {"in_channels", "ngf", "norm", "init_type", "padding_type"} <= {o["name"] for o in resnet["options"]}
    assert {"name", "description"} <= set(by_name["networks"]["registered"]["losses"][0])


def test_plugins_show_json_is_one_element_of_the_list(capsys):
    info = _json(capsys, "plugins", "list", "--json")
    shown = _json(capsys, "plugins", "show", "cyclegan", "--json")
    assert shown == next(p for p in info["plugins"] if p["name"] == "cyclegan")
    # A registered name finds its plugin.
    assert _json(capsys, "plugins", "show", "resnet_9blocks", "--json")["name"] == "networks"


def test_plugins_show_prints_options_and_size_rules(capsys):
    assert main(["plugins", "show", "networks"]) == 0
    out = capsys.readouterr().out
    assert "generator 'resnet_9blocks' (image input; sizes: at least 8 px, multiple of 4)" in out
    assert "padding_type" in out and "[reflect|replicate|zero]" in out
    assert main(["plugins", "show", "nothing-here"]) == 1
    assert "no plugin or registered name 'nothing-here'" in capsys.readouterr().err


def test_train_recipe_help_lists_its_options(capsys):
    assert main(["train", "cyclegan", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--data PATH_OR_BUILTIN" in out  # the flags are still there
    assert "recipe 'cyclegan'" in out
    assert re.search(r"\n  lambda_identity +float default 0\.1 ", out)
    assert re.search(r"\n  direction +str   default 'AtoB' \[AtoB\|BtoA\] ", out)
    assert main(["train", "--help"]) == 0
    assert "'gantrans train RECIPE --help' lists" in capsys.readouterr().out


def test_plugins_list_json_and_recipe_help_import_no_torch():
    """The GUI builds its training form from 'plugins list --json' in a child process: keep it cheap."""
    import subprocess
    import sys

    code = ("import contextlib, io, sys\n"
            "from gantrans.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['plugins', 'list', '--json']) == 0\n"
            "    assert main(['plugins', 'show', 'cyclegan']) == 0\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
