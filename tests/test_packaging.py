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


#: Modules our code imports that a declared distribution installs under another distribution's
#: name: PySide6-Essentials brings its binding runtime ``shiboken6`` as its own distribution.
INSTALLED_WITH = {"shiboken6": "pyside6-essentials"}


def _third_party_imports() -> dict[str, Path]:
    """Top-level names of every absolute import in the shipped packages and in the test suite
    (not stdlib, not ours, not the suite's own helper modules)."""
    import ast

    ours = {"gantrans", "gantrans_plugins", "gantrans_gui"}
    ours |= {p.stem for p in (ROOT / "tests").glob("*.py")} | {p.parent.name for p in (ROOT / "tests").rglob("__init__.py")}
    found: dict[str, Path] = {}
    for folder in ("gantrans", "plugins", "gui", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ours:
                        found.setdefault(top, path.relative_to(ROOT))
    return found


def test_every_third_party_import_is_a_declared_dependency():
    """A module that is only installed by chance on the developer's machine breaks the README's
    install on a fresh one: pyqtgraph, imported by the GUI's Runs view, was missing from the
    ``gui`` extra until a new machine failed to collect the GUI tests; jsonschema, imported by the
    suite's progress-stream checks, was missing from ``dev`` until a fresh venv failed to collect
    them. The suite's own imports count too: the README's test command runs it."""
    from importlib.metadata import packages_distributions

    import tomllib
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values()
                                                for r in extra)]
    declared = {canonicalize_name(Requirement(r).name) for r in requirements}
    installed_as = packages_distributions()
    missing = []
    for module, where in sorted(_third_party_imports().items()):
        candidates = {canonicalize_name(d) for d in installed_as.get(module, [module])}
        if module in INSTALLED_WITH:
            candidates.add(INSTALLED_WITH[module])
        if not candidates & declared:
            missing.append(f"{module} (imported by {where}; installed as {', '.join(sorted(candidates))})")
    assert not missing, "declare in pyproject.toml: " + "; ".join(missing)
