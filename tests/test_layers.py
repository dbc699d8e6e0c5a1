"""The design's never-arrows are import-linter contracts (pyproject.toml), checked here.

Imports inside functions count: a lazy ``import torch`` in the inference path is an arrow too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent

REQUIRED = [
    ({"gantrans"}, {"gantrans_plugins", "gantrans_gui"}),
    ({"gantrans.inference", "gantrans_gui"},
     {"torch", "torchvision", "gantrans.training", "gantrans.export", "gantrans.gan", "gantrans.data"}),
    ({"gantrans"}, {"PySide6"}),
]


def test_the_never_arrows_are_declared():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    for sources, forbidden in REQUIRED:
        assert any(c["type"] == "forbidden" and sources <= set(c["source_modules"])
                   and forbidden <= set(c["forbidden_modules"]) for c in contracts), (sources, forbidden)


def test_import_contracts_are_kept():
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, report
    assert "0 broken" in proc.stdout and "KEPT" in proc.stdout, report
