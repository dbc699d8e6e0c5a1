"""`gantrans plugins install/uninstall` in a throw-away virtual environment.

The venv sees this interpreter's site-packages through a .pth file, so torch is not installed
again and the environment the tests run in is left untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = Path(__file__).resolve().parent / "example_plugin"
OFFLINE = ["--pip-arg=--no-build-isolation", "--pip-arg=--no-index"]


def _run(python: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GANTRANS_"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    proc = subprocess.run([str(python), *args], capture_output=True, text=True, env=env, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    purelib = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    (purelib / "_gantrans_test_parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run(python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-e", str(ROOT))
    return python


def _plugins(python: Path) -> dict:
    return json.loads(_run(python, "-m", "gantrans", "plugins", "list", "--json").stdout)


@pytest.mark.slow
def test_install_use_and_uninstall_a_third_party_plugin(venv, tmp_path):
    src = tmp_path / "example_plugin"
    shutil.copytree(EXAMPLE, src)  # pip builds in place; keep the repository clean
    before = _plugins(venv)
    assert "example" not in {p["plugin"] for p in before["plugins"]}

    out = _run(venv, "-m", "gantrans", "plugins", "install", str(src), *OFFLINE).stdout
    assert "Successfully installed gantrans-example-plugin-1.2.3" in out  # pip's output is streamed
    assert "new plugin 'example' from gantrans-example-plugin 1.2.3" in out
    assert "example_tiny" in out and "example-l1" in out

    info = _plugins(venv)
    [plugin] = [p for p in info["plugins"] if p["plugin"] == "example"]
    assert plugin["distribution"] == "gantrans-example-plugin" and plugin["version"] == "1.2.3"
    assert plugin["registered"] == {"networks": ["example_tiny"], "models": ["example-l1"]}
    assert set(plugin["hooks"]) == {"register_networks", "register_models"}

    use = _run(venv, "-c", (
        "import torch\n"
        "from gantrans.recipe import build_network, get_recipe, DataSpec\n"
        "net = build_network('example_tiny', 'generator', ngf=4)\n"
        "print(tuple(net(torch.zeros(1, 3, 16, 16)).shape))\n"
        "r = get_recipe('example-l1')({}, DataSpec('paired', {'A': 3, 'B': 3}, 16))\n"
        "print(sorted(r.build_networks()))\n"
    )).stdout.split("\n")
    assert use[0] == "(1, 3, 16, 16)" and use[1] == "['G']"

    out = _run(venv, "-m", "gantrans", "plugins", "uninstall", "example").stdout
    assert "uninstalled gantrans-example-plugin" in out
    assert "example" not in {p["plugin"] for p in _plugins(venv)["plugins"]}


@pytest.mark.slow
def test_failed_install_leaves_the_environment_as_it_was(venv, tmp_path):
    """A plugin demanding another gantrans conflicts with the pin: pip fails, nothing changes."""
    src = tmp_path / "greedy"
    shutil.copytree(EXAMPLE, src)
    pyproject = src / "pyproject.toml"
    pyproject.write_text(pyproject.read_text()
                         .replace('dependencies = ["gantrans"]', 'dependencies = ["gantrans>=99"]')
                         .replace("gantrans-example-plugin", "gantrans-greedy-plugin"))
    freeze = [str(venv), "-m", "pip", "freeze", "--all"]
    before = subprocess.run(freeze, capture_output=True, text=True).stdout
    proc = _run(venv, "-m", "gantrans", "plugins", "install", str(src), *OFFLINE, check=False)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("gantrans: error: pip failed") and "as it was" in last
    assert subprocess.run(freeze, capture_output=True, text=True).stdout == before
    assert "example" not in {p["plugin"] for p in _plugins(venv)["plugins"]}
