"""`gantrans plugins install/uninstall` and the example family end to end, in a throw-away venv.

The venv sees this interpreter's site-packages through a .pth file, so torch is not installed
again and the environment the tests run in is left untouched. The example family
(tests/example_plugin: network + loss + recipe, shown line by line in docs/plugins.md) is
installed, trained for two steps, exported, used to translate, and uninstalled.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import site
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = Path(__file__).resolve().parent / "example_plugin"
OFFLINE = ["--pip-arg=--no-build-isolation", "--pip-arg=--no-index"]


def _run(python: Path, *args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GANTRANS_"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["GANTRANS_DATA_DIR"] = str(cwd or Path.cwd())
    proc = subprocess.run([str(python), *args], capture_output=True, text=True, env=env, timeout=300, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    purelib = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    # The base interpreter's packages first: a venv made with --system-site-packages carries an old
    # setuptools of its own that would shadow the one torch's metadata asks for.
    parents = sorted(site.getsitepackages(), key=lambda p: not p.startswith(sys.base_prefix))
    (purelib / "_gantrans_test_parent.pth").write_text("\n".join(parents) + "\n")
    _run(python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-e", str(ROOT))
    return python


def _plugins(python: Path) -> dict:
    return {p["name"]: p for p in json.loads(_run(python, "-m", "gantrans", "plugins", "list", "--json").stdout)["plugins"]}


def _copy_example(tmp_path: Path, name: str = "onesided") -> Path:
    src = tmp_path / name
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return src  # pip builds in place; keep the repository clean


def _gantrans(python: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return _run(python, "-m", "gantrans", *args, **kw)


@pytest.mark.slow
def test_example_family_install_train_export_translate_uninstall(venv, tmp_path):
    assert "onesided" not in _plugins(venv)
    src = _copy_example(tmp_path)
    install = _gantrans(venv, "plugins", "install", "-e", str(src), *OFFLINE)  # the development workflow
    assert "Successfully installed" not in install.stdout  # pip's chatter only with -v or on failure
    assert "new plugin 'onesided' from gantrans-onesided 1.0.0" in install.stdout
    assert "networks: resize_resnet" in install.stdout and "models: onesided" in install.stdout
    assert "losses: rasgan" in install.stdout

    recipe = src / "gantrans_onesided" / "recipe.py"  # an edit takes effect without reinstalling
    recipe.write_text(recipe.read_text().replace('description = "', 'description = "EDITED '))
    plugin = _plugins(venv)["onesided"]
    assert plugin["registered"]["models"][0]["description"].startswith("EDITED ")
    assert (plugin["distribution"], plugin["version"], plugin["status"]) == ("gantrans-onesided", "1.0.0", "ok")
    [net] = plugin["registered"]["networks"]
    assert (net["size_multiple"], net["min_size"]) == (4, 8)
    [model] = plugin["registered"]["models"]
    assert {"lambda_identity", "pool_size", "generator", "loss"} <= {o["name"] for o in model["options"]}
    assert "lambda_identity  float default 5.0" in _gantrans(venv, "train", "onesided", "--help").stdout

    work = tmp_path / "work"
    work.mkdir()
    _gantrans(venv, "data", "make", "shapes", "data", "--form", "unpaired", cwd=work)
    train = _gantrans(venv, "train", "onesided", "--data", "data", "--name", "t", "--crop-size", "32",
                      "--load-size", "32", "--max-steps", "2", "--batch-size", "2", "--max-items", "4",
                      "--workers", "0", "--no-tensorboard", "--device", "cpu", "--precision", "fp32",
                      "-o", "ngf=4", "-o", "ndf=4", "-o", "n_layers_D=1", cwd=work)
    assert "warning" not in train.stderr  # the factory takes every option the recipe sets
    _gantrans(venv, "export", "runs/t", "--out", "exports", "--opset", "17", cwd=work)
    model_path = work / "exports" / "t_A2B.onnx"
    contract = _run(venv, "-c", (
        "import json, sys, onnx\n"
        "m = onnx.load(sys.argv[1])\n"
        "print(json.dumps({p.key: p.value for p in m.metadata_props}))\n"), str(model_path)).stdout
    meta = json.loads(json.loads(contract)["gantrans"])
    assert (meta["size_multiple"], meta["min_size"]) == (4, 8)  # from the registered network
    assert (meta["source_domain"], meta["target_domain"]) == ("labels", "photos")  # from the data
    assert (meta["in_channels"], meta["out_channels"]) == (3, 3)

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 30, 3), np.uint8)).save(work / "in.png")
    _gantrans(venv, "translate", str(model_path), "in.png", "-o", "out", "--no-progress", cwd=work)
    assert Image.open(work / "out" / "in.png").size == (30, 30)  # padded to 32 and cropped back

    out = _gantrans(venv, "plugins", "uninstall", "onesided").stdout
    assert "uninstalled gantrans-onesided" in out
    assert "onesided" not in _plugins(venv)


@pytest.mark.slow
def test_failed_install_leaves_the_environment_as_it_was(venv, tmp_path):
    """A plugin demanding another gantrans conflicts with the pin: pip fails, nothing changes."""
    src = _copy_example(tmp_path, "greedy")
    pyproject = src / "pyproject.toml"
    pyproject.write_text(pyproject.read_text()
                         .replace('dependencies = ["gantrans"]', 'dependencies = ["gantrans>=99"]')
                         .replace("gantrans-onesided", "gantrans-greedy-plugin"))
    freeze = [str(venv), "-m", "pip", "freeze", "--all"]
    before = subprocess.run(freeze, capture_output=True, text=True).stdout
    proc = _gantrans(venv, "plugins", "install", str(src), *OFFLINE, check=False)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("gantrans: error: pip failed") and "as it was" in last
    assert "gantrans>=99" in last  # the requirement that conflicted
    assert subprocess.run(freeze, capture_output=True, text=True).stdout == before
    assert "onesided" not in _plugins(venv)


@pytest.mark.slow
def test_a_reinstall_says_so_and_a_package_without_a_plugin_is_not_kept(venv, tmp_path):
    src = _copy_example(tmp_path)
    _gantrans(venv, "plugins", "install", "-e", str(src), *OFFLINE)
    again = _gantrans(venv, "plugins", "install", str(src), *OFFLINE)  # editable -> a regular install
    assert "reinstalled plugin 'onesided' from gantrans-onesided 1.0.0" in again.stdout
    assert "no new gantrans plugin" not in again.stdout + again.stderr
    _gantrans(venv, "plugins", "uninstall", "onesided")

    plain = tmp_path / "plain"
    (plain / "plain_tools").mkdir(parents=True)
    (plain / "plain_tools" / "__init__.py").write_text("")
    (plain / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\nbuild-backend = '
                                          '"setuptools.build_meta"\n\n[project]\nname = "plain-tools"\n'
                                          'version = "0.1"\n')
    freeze = [str(venv), "-m", "pip", "freeze", "--all"]
    before = subprocess.run(freeze, capture_output=True, text=True).stdout
    proc = _gantrans(venv, "plugins", "install", str(plain), *OFFLINE, check=False)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert (f"{plain} holds no gantrans plugin (pip installed plain-tools, which declare no 'gantrans' entry "
            f"point") in last and "the environment is as it was before (removed plain-tools)" in last
    assert subprocess.run(freeze, capture_output=True, text=True).stdout == before


@pytest.mark.slow
def test_plugin_that_fails_to_import_after_install_exits_1_and_can_be_removed(venv, tmp_path):
    src = _copy_example(tmp_path, "fragile")
    (src / "gantrans_onesided" / "__init__.py").write_text("raise ImportError('needs a GPU library')\n")
    proc = _gantrans(venv, "plugins", "install", str(src), *OFFLINE, check=False)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "plugin 'onesided' fails to load" in last and "needs a GPU library" in last
    assert "gantrans plugins uninstall onesided" in last
    assert _plugins(venv)["onesided"]["status"] == "failed"
    assert "uninstalled gantrans-onesided" in _gantrans(venv, "plugins", "uninstall", "onesided").stdout
    assert "onesided" not in _plugins(venv)


@pytest.mark.slow
def test_an_install_that_would_break_a_working_plugin_is_refused_and_rolled_back(venv, tmp_path):
    """gantrans-aardvark sorts before gantrans-onesided, so its 'rasgan' would take onesided's name."""
    _gantrans(venv, "plugins", "install", str(_copy_example(tmp_path)), *OFFLINE)
    src = tmp_path / "aardvark"
    (src / "gantrans_aardvark").mkdir(parents=True)
    (src / "gantrans_aardvark" / "__init__.py").write_text(
        "from gantrans import hookimpl\n@hookimpl\ndef register_losses(register):\n"
        "    register('rasgan', lambda: None, description='a second rasgan')\n")
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "gantrans-aardvark"\nversion = "0.1"\ndependencies = ["gantrans"]\n'
        '[project.entry-points.gantrans]\naardvark = "gantrans_aardvark"\n'
        '[tool.setuptools]\npackages = ["gantrans_aardvark"]\n')
    try:
        proc = _gantrans(venv, "plugins", "install", str(src), *OFFLINE, check=False)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        last = proc.stderr.strip().splitlines()[-1]
        assert "would break plugin 'onesided' (gantrans-onesided 1.0.0), which worked before" in last, last
        assert "loss 'rasgan' is registered twice" in last and "as it was before (removed gantrans-aardvark)" in last
        plugins = _plugins(venv)
        assert "aardvark" not in plugins and plugins["onesided"]["status"] == "ok"
    finally:
        _gantrans(venv, "plugins", "uninstall", "onesided")


def _fake_wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal valid wheel of an empty distribution (what a too-old dependency looks like to pip)."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
                     f"{len(text.encode())}\n" for path, text in files.items()) + f"{info}/RECORD,,\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in {**files, f"{info}/RECORD": record}.items():
            zf.writestr(path, text)
    return wheel


@pytest.mark.slow
def test_a_plugin_cannot_replace_a_dependency_of_gantrans(venv, tmp_path):
    """Last in this file: without the pins, pip would downgrade pluggy in the test venv."""
    wheels = tmp_path / "wheels"
    _fake_wheel(wheels, "pluggy", "1.5.0")
    src = _copy_example(tmp_path, "downgrader")
    pyproject = src / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('dependencies = ["gantrans"]',
                                                       'dependencies = ["gantrans", "pluggy==1.5.0"]'))
    pluggy = _run(venv, "-c", "import importlib.metadata as m; print(m.version('pluggy'))").stdout.strip()
    proc = _gantrans(venv, "plugins", "install", str(src), *OFFLINE, f"--pip-arg=--find-links={wheels}", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert f"requires pluggy==1.5.0 but gantrans runs with pluggy {pluggy}" in last
    assert _run(venv, "-c", "import importlib.metadata as m; print(m.version('pluggy'))").stdout.strip() == pluggy


@pytest.mark.skipif(os.name != "posix", reason="SIGINT forwarding is the POSIX path")
def test_cancelling_an_install_interrupts_pip_and_waits_for_it(tmp_path):
    """The GUI cancels an install with SIGINT to the CLI; the pip it runs must be interrupted too
    (as Ctrl+C in a terminal would), not left changing the environment on its own."""
    from gantrans.plugins.install import stream_child

    marker = tmp_path / "interrupted"
    # The child takes SIGINT as the CLI's children do (gantrans.cli.main takes it back even
    # where the test runner was started with it ignored), and is inside its try before it speaks.
    child = ("import signal, sys, time\n"
             "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
             "try:\n"
             "    print('collecting', flush=True)\n"
             "    time.sleep(60)\n"
             "except KeyboardInterrupt:\n"
             f"    open({str(marker)!r}, 'w').write('rolled back')\n"
             "    sys.exit(1)\n")

    def echo(line: str) -> None:
        raise KeyboardInterrupt  # the user cancels while pip is working

    with pytest.raises(KeyboardInterrupt):
        stream_child([sys.executable, "-c", child], echo, grace_s=20)
    assert marker.read_text() == "rolled back"
    code, lines = stream_child([sys.executable, "-c", "print('done')"], lambda line: None)
    assert (code, lines) == (0, ["done"])


@pytest.mark.skipif(os.name != "posix", reason="process groups are the POSIX path")
def test_cancelling_an_install_also_stops_what_pip_started(tmp_path):
    """pip's build isolation runs a pip of its own; cancelling must not leave it behind, waiting
    on the network, after pip itself has stopped."""
    from gantrans.plugins.install import stream_child

    child = ("import subprocess, sys, time\n"
             "grand = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
             "signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)'])\n"
             "print(grand.pid, flush=True)\n"
             "time.sleep(60)\n")
    pids: list[int] = []

    def echo(line: str) -> None:
        pids.append(int(line))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stream_child([sys.executable, "-c", child], echo, grace_s=20)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pids[0], 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(pids[0], signal.SIGKILL)
        pytest.fail("the grandchild outlived the cancelled child")


def test_a_download_pip_could_not_make_is_said_in_one_clause():
    from gantrans.plugins.install import conflict_summary

    base = ["ERROR: Could not find a version that satisfies the requirement setuptools>=68 (from versions: none)"]
    offline = ["WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError(... Failed to "
               "establish a new connection: [Errno 111] Connection refused')': /simple/setuptools/", *base]
    assert conflict_summary(offline, {}).startswith(
        "pip had to download setuptools>=68 and could not reach the package index (offline?); install from a wheel")
    no_index = ["Ignoring indexes: https://pypi.org/simple", *base]
    assert conflict_summary(no_index, {}) == ("pip had to download setuptools>=68, and --no-index forbids it; add "
                                              "--find-links DIR with a wheel of setuptools>=68")
    assert conflict_summary(base, {}) == base[0].removeprefix("ERROR: ")
    assert conflict_summary(base, {}, ["--no-index"]).startswith("pip had to download setuptools>=68, and --no-index")
