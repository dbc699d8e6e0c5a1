"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# OpenMP's wait policy for this process and the commands the tests start (they inherit it),
# chosen before torch loads, as the CLI does: without it libgomp's default 300,000-spin wait
# made a 0.4 s test take 14 s while another job used the cores. One sample, no settling wait,
# and thread counts that do not follow the load (runs compared with each other stay comparable).
os.environ.setdefault("GANTRANS_OMP_SETTLE_S", "0")
os.environ.setdefault("GANTRANS_ADAPT_THREADS", "0")
from gantrans.openmp import choose_wait_policy  # noqa: E402

choose_wait_policy()

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "fixtures" / "reference-cyclegan"


@pytest.fixture
def reference_dir() -> Path:
    """The reference CycleGAN parity fixtures; skips when ../shared is absent."""
    if not (REFERENCE / "manifest.json").is_file():
        pytest.skip(f"reference fixtures not found at {REFERENCE} (../shared is absent)")
    return REFERENCE


@pytest.fixture
def torch_hidden_from_children(tmp_path, monkeypatch):
    """Commands this test starts see no torch, as in a translate-only install: a stub package
    first on their PYTHONPATH raises the ImportError a missing torch raises."""
    stub = tmp_path / "without_torch" / "torch"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(stub.parent), os.environ.get("PYTHONPATH")])))


@pytest.fixture
def fresh_plugins():
    """A plugin manager rebuilt for the test and forgotten afterwards."""
    from gantrans.plugins import get_plugin_manager, reset_plugin_manager

    reset_plugin_manager()
    yield get_plugin_manager()
    reset_plugin_manager()


@pytest.fixture
def one_thread():
    """Tiny steps on a shared 2-core machine: one torch thread (no OpenMP waits), restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny(fresh_plugins):
    """The tiny test recipe and networks of ``trainer_fixtures``, registered for one test."""
    import trainer_fixtures as fx

    fx.install()
    yield
    fx.uninstall()
