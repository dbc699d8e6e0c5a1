"""The wheel ships all three import packages and the built-in plugins' entry points."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_packages_and_entry_points(tmp_path):
    # Build from a copy: setuptools writes build/ and *.egg-info into the source tree.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "runs", "exports", "*.egg-info", "__pycache__", ".venv", ".*_cache"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(src)],
        capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    [wheel] = tmp_path.glob("gantrans-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for package in ("gantrans", "gantrans_plugins", "gantrans_gui"):
        assert f"{package}/__init__.py" in names, package
    for module in ("gantrans/hookspecs.py", "gantrans/cli/main.py", "gantrans_plugins/networks/__init__.py",
                   "gantrans_plugins/cyclegan/__init__.py"):
        assert module in names
    # no generic top-level names leak into site-packages
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"gantrans", "gantrans_plugins", "gantrans_gui"}
    [ep_file] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    entry_points = zipfile.ZipFile(wheel).read(ep_file).decode()
    assert "[gantrans]" in entry_points
    for plugin in ("networks", "vanilla", "conditional", "cyclegan"):
        assert f"{plugin} = gantrans_plugins.{plugin}" in entry_points
    assert "gantrans = gantrans.cli.main:main" in entry_points


def test_every_package_folder_is_listed_in_pyproject():
    """A new sub-package that pyproject.toml forgets would be missing from the wheel."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    mapping = {"gantrans": "gantrans", "plugins": "gantrans_plugins", "gui": "gantrans_gui"}
    found = set()
    for folder, package in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *rel)))
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
