"""The gantrans command: version, help everywhere, exit codes, one-line errors."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from gantrans import __version__
from gantrans.cli.main import build_parser, main


def _command_paths(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _command_paths(sub, (*prefix, name))


def test_version_flag(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"gantrans {__version__}"


def test_python_dash_m_runs_the_same_cli():
    out = subprocess.run([sys.executable, "-m", "gantrans", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout


def test_console_script_is_installed():
    out = subprocess.run(["gantrans", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "plugins" in out.stdout


COMMANDS = list(_command_paths(build_parser()))


def test_core_commands_exist():
    assert {("plugins",), ("plugins", "list"), ("plugins", "install"), ("plugins", "uninstall"),
            ("bench",)} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_subcommand_has_help(path, capsys):
    assert main([*path, "--help"]) == 0
    assert "usage: gantrans " + " ".join(path) in capsys.readouterr().out


def test_usage_error_exits_2(capsys):
    assert main(["plugins", "list", "--no-such-flag"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err
    assert main(["no-such-command"]) == 2


def test_group_without_action_prints_its_help_and_exits_2(capsys):
    assert main(["plugins"]) == 2
    assert "usage: gantrans plugins" in capsys.readouterr().err


def test_failure_exits_1_with_one_line(capsys):
    assert main(["plugins", "uninstall", "networks"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("gantrans: error:") and "built into gantrans" in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(capsys):
    assert main(["--debug", "plugins", "uninstall", "networks"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_plugins_list_json(capsys):
    import json

    assert main(["plugins", "list", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"networks", "vanilla", "conditional", "cyclegan"} <= {p["plugin"] for p in info["plugins"]}


def test_an_unknown_flag_is_refused_by_the_command_it_was_given_to(capsys):
    from gantrans.cli.main import main

    assert main(["data", "make", "shapes", "somewhere", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: gantrans data make") and "gantrans data make: error: unrecognized arguments: --bogus" in err
    assert main(["--bogus"]) == 2
    assert "gantrans: error: unrecognized arguments: --bogus" in capsys.readouterr().err


def test_a_train_command_without_recipe_or_data_is_a_usage_error(capsys):
    from gantrans.cli.main import main

    assert main(["train"]) == 2
    assert "gantrans train: error: which recipe? give one" in capsys.readouterr().err
    assert main(["train", "cyclegan"]) == 2
    assert "gantrans train: error: recipe 'cyclegan': --data is required" in capsys.readouterr().err
