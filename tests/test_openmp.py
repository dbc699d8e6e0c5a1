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
    monkeypatch.setattr(openmp, "_adaptive", None)


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
    monkeypatch.setattr(openmp, "_adaptive", None)
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


# -- the thread count follows the load -------------------------------------------------------------

class Machine:
    """Two fake CPUs whose jiffies advance with a fake clock: ``others`` cores busy elsewhere and
    ``mine`` cores used by this process."""

    def __init__(self, others: float = 0.0, mine: float = 1.0):
        self.t, self.others, self.mine = 0.0, others, mine
        self.jiffies = {0: [0, 0], 1: [0, 0]}  # total, idle
        self.own = 0.0

    def advance(self, seconds: float) -> None:
        self.t += seconds
        busy = min(2.0, self.others + self.mine)
        for cpu in self.jiffies.values():
            cpu[0] += int(100 * seconds)
            cpu[1] += int(100 * seconds * (1 - busy / 2))
        self.own += self.mine * seconds

    def read_cpu(self):
        return {k: tuple(v) for k, v in self.jiffies.items()}


def _governor(machine: Machine, calls: list, busy_at_start: float = 0.0, max_threads: int = 2):
    return openmp.ThreadGovernor(calls.append, max_threads, busy_at_start=busy_at_start, interval=2.0,
                                 read_cpu=machine.read_cpu, own_cpu=lambda: machine.own, clock=lambda: machine.t)


def test_threads_follow_the_cores_other_processes_leave_idle():
    m, calls = Machine(others=0.0, mine=2.0), []
    gov = _governor(m, calls)
    assert gov.cores == 2 and gov.threads == 2 and calls == [2]
    m.advance(1.0)
    assert gov.tick() == 2  # no sample before an interval has passed
    m.others, m.mine = 1.0, 1.2  # another job takes a core: our two threads get 1.2 cores between them
    for _ in range(2):
        m.advance(2.0)
        gov.tick()
    assert gov.threads == 1 and calls == [2, 1]
    m.others, m.mine = 0.0, 1.0  # it ended: our one thread alone
    m.advance(2.0)
    assert gov.tick() == 1  # one sample is not enough
    m.advance(2.0)
    assert gov.tick() == 2 and calls == [2, 1, 2]
    assert gov.history == [(0.0, 2), (5.0, 1), (9.0, 2)]


def test_a_single_busy_sample_does_not_move_the_threads():
    m, calls = Machine(others=0.0, mine=2.0), []
    gov = _governor(m, calls)
    m.others = 1.5
    m.advance(2.0)
    gov.tick()
    m.others = 0.1
    m.advance(2.0)
    gov.tick()
    m.advance(2.0)
    gov.tick()
    assert gov.threads == 2 and calls == [2]


@pytest.mark.parametrize(("others", "threads"), [(0.0, 2), (0.4, 2), (0.6, 1), (1.0, 1), (2.0, 1)])
def test_the_thread_count_for_a_load(others, threads):
    gov = _governor(Machine(), [], busy_at_start=others)
    assert gov.threads == threads and gov.fit(others) == threads


def test_the_governor_starts_from_the_load_at_start_and_never_exceeds_the_maximum():
    calls: list = []
    assert _governor(Machine(), calls, busy_at_start=1.0).threads == 1 and calls == [1]
    assert _governor(Machine(), [], busy_at_start=0.0, max_threads=1).threads == 1


def test_an_adapting_command_spins_whatever_the_load(before_torch):
    env: dict[str, str] = {}
    text = openmp.choose_wait_policy(env, measure=lambda: 1.0, adaptive=True)
    assert env == openmp.SPIN
    assert text == "OpenMP wait: short spin, then sleep; threads follow the idle cores (1.0 busy at start)"
    gov = openmp.governor(lambda n: None, 2)
    assert isinstance(gov, openmp.ThreadGovernor)


@pytest.mark.parametrize("env", [{"OMP_NUM_THREADS": "2"}, {openmp.ADAPT_ENV: "0"}])
def test_a_fixed_thread_count_is_not_adapted(before_torch, env):
    samples = Samples(0.1)
    text = openmp.choose_wait_policy(env, measure=samples, clock=samples.clock, adaptive=True)
    assert "threads follow" not in text and "short spin" in text
    assert openmp.governor(lambda n: None, 2) is None


def test_the_users_wait_policy_wins_and_threads_still_adapt(before_torch):
    env = {"OMP_WAIT_POLICY": "PASSIVE"}
    text = openmp.choose_wait_policy(env, measure=lambda: 0.2, adaptive=True)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert text == "OpenMP wait as set: OMP_WAIT_POLICY=PASSIVE; threads follow the idle cores (0.2 busy at start)"


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs /proc/stat")
def test_the_governor_counts_other_processes_not_its_own_threads():
    """A busy child process is another process's load; this process's own busy loop is not."""
    import time

    gov = openmp.ThreadGovernor(lambda n: None, 2, interval=0.0)
    gov.others()
    time.sleep(0.3)
    background = gov.others()  # what other processes already use (a shared machine)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        gov.others()  # start the interval now that the hog runs
        end = time.perf_counter() + 0.6
        while time.perf_counter() < end:  # this process: one busy core
            pass
        others = gov.others()
    finally:
        hog.kill()
        hog.wait()
    assert others is not None and 0.7 <= others
    if gov.cores == 2 and background is not None and background < 0.2:
        assert others < 1.6  # both cores busy: the hog's, and ours, which must not count


class FakeGovernor:
    def __init__(self):
        self.ticks, self.pauses, self.resumes = 0, [], 0
        self.threads, self.history = 1, [(0.0, 1)]

    def tick(self):
        self.ticks += 1
        return self.threads

    def pause(self, threads):
        self.pauses.append(threads)

    def resume(self):
        self.resumes += 1


def test_training_and_the_benchmark_consult_the_governor(monkeypatch, tmp_path, fresh_plugins):
    """Every training step ticks it, unless the threads were fixed; the benchmark ticks it on its
    own steps and runs the reference loop at torch's default thread count."""
    import torch
    import trainer_fixtures as fx

    from gantrans.training.bench import bench_train

    made: list[FakeGovernor] = []

    def fake(set_threads, max_threads):
        made.append(FakeGovernor())
        return made[-1]

    monkeypatch.setattr(openmp, "governor", fake)
    threads = torch.get_num_threads()
    fx.install()
    try:
        assert fx.train(fx.base_args(tmp_path, "adapts", "--max-steps", "3")) == 0
        assert len(made) == 1 and made[0].ticks == 3
        assert fx.train(fx.base_args(tmp_path, "fixed", "--max-steps", "2", "--threads", "1")) == 0
        assert len(made) == 1
    finally:
        fx.uninstall()
        torch.set_num_threads(threads)
    r = bench_train("cyclegan", crop=32, device="cpu", precision="fp32", steps=1, warmup=1, rounds=2, baseline=True,
                    options={"generator": "resnet_6blocks", "ngf": 4, "ndf": 4})
    gov = made[-1]
    assert gov.ticks == 1 + 2 * 1 and gov.pauses == [threads, threads] and gov.resumes == 2
    assert r["thread_changes"] == [(0.0, 1)] and r["baseline"]["threads"] == threads
