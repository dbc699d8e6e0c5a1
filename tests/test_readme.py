"""Every ``gantrans`` command in the README parses: its flags exist and take the values shown.

Commands are taken from the README's ``bash`` blocks (a trailing ``# comment`` is dropped;
``torchrun ... -m gantrans`` lines count too). Each one is parsed by the real parser, and its
subcommand's ``--help`` is shown. Subcommands that another branch adds (``gui``, ``runs``) are
skipped, with the reason, only while this checkout does not have them.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from gantrans.cli.main import build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"
ADDED_ELSEWHERE = {"gui": "the GUI branch (issue 14) adds 'gantrans gui'",
                   "runs": "the runs branch (issue 13) adds 'gantrans runs'"}


def readme_commands() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if "-m" in words and words[0] == "torchrun" and words[words.index("-m") + 1] == "gantrans":
                words = ["gantrans", *words[words.index("-m") + 2:]]
            if words[:1] == ["gantrans"]:
                commands.append(words[1:])
    return commands


COMMANDS = readme_commands()


def test_the_readme_has_the_commands_a_newcomer_needs():
    firsts = {c[0] for c in COMMANDS if c}
    assert {"demo", "train", "export", "translate", "generate", "info", "plugins", "import", "gui"} <= firsts
    assert ["demo"] in COMMANDS and ["demo", "--quick"] in COMMANDS
    assert any(c[:2] == ["train", "--resume"] and "--epochs" in c for c in COMMANDS)
    text = README.read_text(encoding="utf-8")
    order = ["## Install, try, test", "## Train on your own images", "## Resume", "## Export to ONNX",
             "## Translate", "## Generate", "## The desktop app", "## Plugins", "## Several GPUs",
             "## Import reference checkpoints", "## Troubleshooting"]
    positions = [text.index(h) for h in order]
    assert positions == sorted(positions)
    assert 'pip install -e ".[train,gui,dev]"' in text and "trainA/" in text and "A/train/0001.png" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")  # "runs exactly the commands above"
    assert 'pip install -e ".[train,gui,dev]"' in ci and "python -m pytest" in ci


def _subcommand_path(parser: argparse.ArgumentParser, words: list[str]) -> list[str]:
    """The leading words that name (sub)commands."""
    path = []
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or not words[len(path):] or words[len(path)] not in subs[0].choices:
            return path
        word = words[len(path)]
        parser = subs[0].choices[word]
        path.append(word)


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w)[:60])
def test_readme_command_parses(words, capsys):
    parser = build_parser()
    known = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)][0].choices
    if words[0] not in known and words[0] in ADDED_ELSEWHERE:
        pytest.skip(ADDED_ELSEWHERE[words[0]] + "; not in this checkout yet")
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:
        pytest.fail(f"'gantrans {shlex.join(words)}' does not parse (exit {exc.code}): {capsys.readouterr().err}")
    assert getattr(args, "func", None) is not None, f"'gantrans {shlex.join(words)}' names no command"
    path = _subcommand_path(build_parser(), words)
    assert main([*path, "--help"]) == 0
    assert "usage: gantrans " + " ".join(path) in capsys.readouterr().out
