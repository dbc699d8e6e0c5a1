"""How torch's OpenMP threads wait between parallel regions, chosen before torch is imported.

A training step on the CPU is thousands of short parallel regions. Between two of them the
worker threads either spin (fast to wake, but they hold a core) or sleep (free the core, but
each wake-up costs tens of microseconds). Neither extreme suits everyone; measured with
``gantrans bench train cyclegan`` (bf16) on an idle 2-core machine:

=====================  ===========  ============
wait                   64 px s/it   128 px s/it
=====================  ===========  ============
sleep (PASSIVE)        1.42         2.25
spin ~0.2 ms, sleep    0.62-0.76    1.70-1.84
spin for ever (ACTIVE) 0.96         1.81
=====================  ===========  ============

and with a second training or a busy process on the same cores (64 px): sleeping 2.2-2.3 s,
the short spin 3.8-4.7 s, libgomp's default 300,000-spin wait up to 33 s. So: a short spin when
the cores are idle at start, sleeping when something else is already using them, and never
the library default. OpenMP reads these variables once, when torch loads it, which is why
this module imports no torch and runs first; a user's own ``OMP_WAIT_POLICY``,
``GOMP_SPINCOUNT`` or ``KMP_BLOCKTIME`` always wins.

Because the choice lasts for the process's whole life, one sample is not enough: a run started
while another job was finishing would sleep for hours on cores that were idle a second later
(issue 18: 0.5 s/step instead of 0.2 for 25 minutes). While the cores look busy, start-up keeps
sampling for up to :data:`SETTLE_S` seconds (``GANTRANS_OMP_SETTLE_S``; 0: one sample) and
takes the least busy sample: a load that is ending lets the run spin as soon as it has gone,
a load that stays costs those seconds once. Idle cores cost one 0.15 s sample, as before.
Measured (``bench train cyclegan --crop 64 -o ngf=32 -o ndf=32 -o generator=resnet_6blocks``,
bf16, idle 2-core machine, threads fixed): started idle 0.125 s/it; started while a busy loop
ran for its last 2 s, one sample chose sleep (0.291 s/it for the whole run), settling chose the
short spin 2.1 s into start-up (0.126 s/it).

The number of threads, unlike the wait, can change at any time, and on a shared machine it
matters more: with one other busy process on a 2-core machine, a bf16 CycleGAN step at 64 px
took 2.4 s with 2 threads and 0.85 s with 1 (128 px: 5.2 s and 1.8 s; fp32 was no faster with
2 threads than with 1), while on idle cores 2 threads with the short spin took 0.49 s and 1
thread 0.81 s (issue 18); in the measurement above, with other jobs keeping 2 cores busy, the
governed run took 0.16 s/it against 1.07 s/it with 2 sleeping threads, and started during the
2 s busy loop on otherwise idle cores it began with 1 thread and had 2 after 4.2 s. So a
training or benchmark command that leaves the thread count to
gantrans (no ``--threads``, no ``OMP_NUM_THREADS``, no ``--deterministic``, one process,
``GANTRANS_ADAPT_THREADS`` not 0) takes the short spin whatever the load and runs a
:class:`ThreadGovernor`: torch's threads follow the cores other processes leave idle, sampled
every couple of seconds between steps. Two trainings started side by side settle on one core
each; a job that ends gives its core back within seconds.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, MutableMapping

#: libgomp (Linux wheels) counts spins; Intel's and LLVM's runtimes (macOS, Windows, conda)
#: count milliseconds. 10,000 spins is about 0.2 ms on a current x86 core.
SPIN = {"GOMP_SPINCOUNT": "10000", "KMP_BLOCKTIME": "1"}
SLEEP = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
USER_KEYS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")

#: Busy cores (other processes, averaged over the sample) above which we sleep instead of spin.
BUSY_LIMIT = 0.5

#: Longest wait at start-up for busy cores to become idle before choosing sleeping threads.
SETTLE_S = 3.0
SETTLE_ENV = "GANTRANS_OMP_SETTLE_S"
ADAPT_ENV = "GANTRANS_ADAPT_THREADS"

_chosen: str | None = None
#: Busy cores measured at start when this process adapts its threads (None: it does not).
_adaptive: float | None = None


def busy_cores(interval: float = 0.15) -> float | None:
    """Cores kept busy by other processes right now, among those this process may run on.

    Two reads of ``/proc/stat``, ``interval`` apart: an instantaneous sample on purpose, as the
    load average trails by a minute and would call the machine busy just after a previous run
    ended. Only the CPUs in this process's affinity mask count, so a container pinned to two
    cores of a big host sees its own two. None where ``/proc/stat`` cannot be read.
    """
    first = _cpu_times()
    if not first:
        return None
    time.sleep(interval)
    second = _cpu_times()
    busy = 0.0
    for cpu, (total, idle) in second.items():
        if cpu in first and total > first[cpu][0]:
            dt = total - first[cpu][0]
            busy += (dt - (idle - first[cpu][1])) / dt
    return busy if second else None


def _cpu_times() -> dict[int, tuple[int, int]]:
    """(total, idle + iowait) jiffies per CPU that this process may use."""
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        allowed = None
    out: dict[int, tuple[int, int]] = {}
    try:
        with open("/proc/stat", encoding="ascii") as f:
            for line in f:
                name, *rest = line.split()
                if not name.startswith("cpu"):
                    break  # the per-CPU lines come first
                if not name[3:].isdigit():
                    continue  # the all-CPU sum
                cpu = int(name[3:])
                if allowed is None or cpu in allowed:
                    fields = [int(x) for x in rest[:8]]
                    out[cpu] = (sum(fields), fields[3] + fields[4])
    except (OSError, ValueError, IndexError):
        return {}
    return out


def choose_wait_policy(env: MutableMapping[str, str] | None = None,
                       measure: Callable[[], float | None] = busy_cores, *, settle: float | None = None,
                       clock: Callable[[], float] = time.monotonic, adaptive: bool = False) -> str:
    """Set the wait variables in ``env`` (default ``os.environ``) and say what was chosen.

    Nothing changes when torch is already imported (too late), when the user set any of the
    variables, or under ``torchrun`` with several local processes (they share the cores by
    design). ``adaptive``: the caller will run a :class:`ThreadGovernor` (:func:`governor`)
    unless the user fixed the threads; then the wait is the short spin and the load is sampled
    once, for the governor's first thread count. Otherwise, while ``measure()`` finds the cores
    busy, it is asked again until ``settle`` seconds (default :data:`SETTLE_S` or
    ``GANTRANS_OMP_SETTLE_S``) have passed on ``clock``; the least busy sample decides.
    Returns a short description for the run's start-up line and the benchmark.
    """
    global _chosen, _adaptive
    env = os.environ if env is None else env
    if "torch" in sys.modules:
        return describe(env)
    if _local_processes(env) > 1:
        if not any(k in env for k in USER_KEYS):
            env.update(SLEEP)
            _chosen = "OpenMP wait: sleep (several processes share the cores)"
        return describe(env)
    if adaptive and adaptation_allowed(env):
        _adaptive = measure() or 0.0
        if not any(k in env for k in USER_KEYS):
            env.update(SPIN)
            _chosen = "OpenMP wait: short spin, then sleep"
        return describe(env)
    if any(k in env for k in USER_KEYS):
        return describe(env)
    settle = settle_seconds(env) if settle is None else max(0.0, settle)
    start = clock()
    busy = measure()
    first = busy
    while busy is not None and busy > BUSY_LIMIT and clock() - start < settle:
        sample = measure()
        if sample is None:
            break
        busy = min(busy, sample)
    waited = clock() - start
    if busy is not None and busy > BUSY_LIMIT:
        env.update(SLEEP)
        during = f" through {waited:.1f} s of start-up" if settle > 0 else " at start"
        _chosen = f"OpenMP wait: sleep (other processes kept {busy:.1f} cores busy{during})"
    else:
        env.update(SPIN)
        if first is not None and first > BUSY_LIMIT:
            _chosen = (f"OpenMP wait: short spin, then sleep (cores idle {waited:.1f} s into start-up, "
                       f"after a passing load of {first:.1f} cores)")
        else:
            _chosen = "OpenMP wait: short spin, then sleep (cores idle at start)"
    return _chosen


def adaptation_allowed(env: MutableMapping[str, str]) -> bool:
    """Whether gantrans may choose the thread count: not when the user did (``OMP_NUM_THREADS``)
    or turned it off (``GANTRANS_ADAPT_THREADS=0``)."""
    if "OMP_NUM_THREADS" in env:
        return False
    return env.get(ADAPT_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def settle_seconds(env: MutableMapping[str, str]) -> float:
    """:data:`SETTLE_S`, or ``GANTRANS_OMP_SETTLE_S`` when set to a number >= 0."""
    try:
        value = float(env.get(SETTLE_ENV, SETTLE_S))
    except ValueError:
        return SETTLE_S
    return value if value >= 0 and value == value else SETTLE_S


def describe(env: MutableMapping[str, str] | None = None) -> str:
    """What this process's OpenMP threads do when idle: our choice, the user's, or the default;
    and whether their number follows the load."""
    env = os.environ if env is None else env
    if _chosen is not None:
        text = _chosen
    else:
        own = [f"{k}={env[k]}" for k in USER_KEYS if k in env]
        text = "OpenMP wait as set: " + ", ".join(own) if own else "OpenMP wait: library default"
    if _adaptive is not None:
        text += f"; threads follow the idle cores ({_adaptive:.1f} busy at start)"
    return text


def governor(set_threads: Callable[[int], None], max_threads: int) -> ThreadGovernor | None:
    """The governor of this process's threads, when :func:`choose_wait_policy` was told the
    command adapts them and nothing ruled it out; None otherwise. Starts it at the cores that
    were idle at start."""
    if _adaptive is None:
        return None
    return ThreadGovernor(set_threads, max_threads, busy_at_start=_adaptive)


class ThreadGovernor:
    """Keeps torch's intra-op threads to the cores that other processes leave idle.

    Call :meth:`tick` between steps (it costs a clock read; every ``interval`` seconds, two
    small file reads). Each sample compares the machine's busy time on this process's CPUs
    with this process's own CPU time (its spinning threads included) over the interval; what
    is left is other processes' load. The thread count moves when two samples in a row agree,
    so a short burst does not make it flap. ``history`` lists (seconds since start, threads).
    """

    def __init__(self, set_threads: Callable[[int], None], max_threads: int, *, busy_at_start: float = 0.0,
                 interval: float = 2.0, read_cpu: Callable[[], dict[int, tuple[int, int]]] | None = None,
                 own_cpu: Callable[[], float] = time.process_time, clock: Callable[[], float] = time.monotonic):
        self.set_threads = set_threads
        self.read_cpu = read_cpu or _cpu_times
        self.own_cpu, self.clock, self.interval = own_cpu, clock, float(interval)
        self.max_threads = max(1, int(max_threads))
        self.cores = len(self.read_cpu()) or self.max_threads
        self.threads = self.fit(busy_at_start)
        self._pending: int | None = None
        self.start = self.clock()
        self._mark()
        self.history: list[tuple[float, int]] = [(0.0, self.threads)]
        self.set_threads(self.threads)

    def fit(self, others: float) -> int:
        """Threads for ``others`` cores busy elsewhere: the rest, at least 1, at most the maximum."""
        return max(1, min(self.max_threads, self.cores - int(others + 0.5)))

    def _mark(self) -> None:
        self._t, self._cpu, self._own = self.clock(), self.read_cpu(), self.own_cpu()

    def others(self) -> float | None:
        """Cores other processes kept busy since the last sample (None: nothing to compare)."""
        now, cpu, own = self.clock(), self.read_cpu(), self.own_cpu()
        wall = now - self._t
        busy = 0.0
        for key, (total, idle) in cpu.items():
            if key in self._cpu and total > self._cpu[key][0]:
                dt = total - self._cpu[key][0]
                busy += (dt - (idle - self._cpu[key][1])) / dt
        mine = (own - self._own) / wall if wall > 0 else 0.0
        self._t, self._cpu, self._own = now, cpu, own
        return max(0.0, busy - mine) if cpu and wall > 0 else None

    def tick(self) -> int:
        """Sample when an interval has passed and move the thread count if the load moved."""
        if self.clock() - self._t < self.interval:
            return self.threads
        others = self.others()
        if others is None:
            return self.threads
        want = self.fit(others)
        if want == self.threads:
            self._pending = None
        elif want == self._pending:
            self.threads, self._pending = want, None
            self.set_threads(want)
            self.history.append((round(self.clock() - self.start, 1), want))
        else:
            self._pending = want
        return self.threads

    def pause(self, threads: int) -> None:
        """Run something else (the benchmark's reference loop) at ``threads``; :meth:`resume` after."""
        self.set_threads(threads)

    def resume(self) -> None:
        self.set_threads(self.threads)


def _local_processes(env: MutableMapping[str, str]) -> int:
    try:
        return int(env.get("LOCAL_WORLD_SIZE", "1") or 1)
    except ValueError:
        return 1
