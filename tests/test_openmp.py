"""The OpenMP wait choice made before torch loads: spin on idle cores, sleep on busy ones, and
never override the user."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gantrans import openmp


@pytest.fixture
def before_torch(monkeypatch):
    """As the CLI sees it: torch not imported yet, nothing chosen."""
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(openmp, "_chosen", None)


def test_idle_cores_get_a_short_spin(before_torch):
    env: dict[str, str] = {}
    text = openmp.choose_wait_policy(env, measure=lambda: 0.1)
    assert env == openmp.SPIN and "short spin" in text
    assert openmp.describe(env) == text


class Samples:
    """A fake /proc/stat reader with a fake clock: each sample takes 0.15 s."""

    def __init__(self, *values):
        self.values, self.t, self.calls = list(values), 0.0, 0

    def clock(self) -> float:
        return self.t

    def __call__(self):
        self.t += 0.15
        self.calls += 1
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


@pytest.mark.parametrize("measured", [0.6, 1.9])
def test_busy_cores_get_sleeping_threads(before_torch, measured):
    env: dict[str, str] = {}
    samples = Samples(measured)
    text = openmp.choose_wait_policy(env, measure=samples, clock=samples.clock)
    assert env == openmp.SLEEP and f"{measured:.1f} cores busy" in text
    # it kept looking for the whole settling time, and not longer
    assert openmp.SETTLE_S <= samples.t < openmp.SETTLE_S + 0.2
    assert f"through {samples.t:.1f} s of start-up" in text


def test_a_load_that_ends_during_start_up_gets_the_short_spin(before_torch):
    """A job finishing as we start: busy for the first samples, idle after, least busy wins."""
    env: dict[str, str] = {}
    samples = Samples(1.0, 1.0, 0.9, 0.05, 1.0)
    text = openmp.choose_wait_policy(env, measure=samples, clock=samples.clock)
    assert env == openmp.SPIN
    assert samples.calls == 4  # stops at the first idle sample
    assert text == ("OpenMP wait: short spin, then sleep (cores idle 0.6 s into start-up, "
                    "after a passing load of 1.0 cores)")


def test_idle_cores_cost_one_sample(before_torch):
    samples = Samples(0.2, 1.9)
    openmp.choose_wait_policy({}, measure=samples, clock=samples.clock)
    assert samples.calls == 1


@pytest.mark.parametrize(("value", "calls"), [("0", 1), ("0.5", 4), ("soon", 21), ("-1", 21)])
def test_the_settling_time_can_be_set(before_torch, value, calls):
    """``GANTRANS_OMP_SETTLE_S=0`` is the one-sample choice; nonsense falls back to the default."""
    env = {openmp.SETTLE_ENV: value}
    samples = Samples(1.5)
    openmp.choose_wait_policy(env, measure=samples, clock=samples.clock)
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and samples.calls == calls


def test_unknown_load_counts_as_idle(before_torch):
    env: dict[str, str] = {}
    openmp.choose_wait_policy(env, measure=lambda: None)
    assert env == openmp.SPIN


def test_torchrun_processes_sleep_without_measuring(before_torch):
    env = {"LOCAL_WORLD_SIZE": "2"}

    def measure():
        raise AssertionError("no measurement under torchrun")

    assert "several processes" in openmp.choose_wait_policy(env, measure=measure)
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"


@pytest.mark.parametrize("key", openmp.USER_KEYS)
def test_the_users_own_setting_wins(before_torch, key):
    env = {key: "7"}

    def measure():
        raise AssertionError("no measurement when the user decided")

    assert openmp.choose_wait_policy(env, measure=measure) == f"OpenMP wait as set: {key}=7"
    assert env == {key: "7"}


def test_nothing_changes_once_torch_is_loaded(monkeypatch):
    import torch  # noqa: F401 - the point of the test

    monkeypatch.setattr(openmp, "_chosen", None)
    env: dict[str, str] = {}
    assert openmp.choose_wait_policy(env, measure=lambda: 0.0) == "OpenMP wait: library default"
    assert env == {}


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs /proc/stat")
def test_a_busy_process_is_measured():
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        openmp.busy_cores(0.3)  # let the hog reach the CPU
        busy = openmp.busy_cores(0.5)
    finally:
        hog.kill()
        hog.wait()
    assert busy is not None and openmp.BUSY_LIMIT < busy <= (os.cpu_count() or 1) + 0.05


def test_the_cli_reports_the_choice(tmp_path):
    """``gantrans bench train`` decides before importing torch and says what it decided."""
    code = ("import json, sys\n"
            "from gantrans.cli.main import main\n"
            "sys.exit(main(['bench', 'train', 'vanilla', '--crop', '32', '--steps', '1', '--warmup', '0',\n"
            "               '--device', 'cpu', '--precision', 'fp32', '-o', 'ngf=4', '-o', 'ndf=4', '--json']))\n")
    env = {k: v for k, v in os.environ.items() if k not in openmp.USER_KEYS}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "OpenMP wait: s" in out.stdout  # "short spin ..." or "sleep ..." depending on the machine's load
    env["GOMP_SPINCOUNT"] = "123"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "OpenMP wait as set: GOMP_SPINCOUNT=123" in out.stdout
