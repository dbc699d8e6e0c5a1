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

_chosen: str | None = None


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
                       clock: Callable[[], float] = time.monotonic) -> str:
    """Set the wait variables in ``env`` (default ``os.environ``) and say what was chosen.

    Nothing changes when torch is already imported (too late), when the user set any of the
    variables, or under ``torchrun`` with several local processes (they share the cores by
    design). While ``measure()`` finds the cores busy, it is asked again until ``settle``
    seconds (default :data:`SETTLE_S` or ``GANTRANS_OMP_SETTLE_S``) have passed on ``clock``;
    the least busy sample decides. Returns a short description for the run's start-up line
    and the benchmark.
    """
    global _chosen
    env = os.environ if env is None else env
    if any(k in env for k in USER_KEYS) or "torch" in sys.modules:
        return describe(env)
    if _local_processes(env) > 1:
        env.update(SLEEP)
        _chosen = "OpenMP wait: sleep (several processes share the cores)"
        return _chosen
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


def settle_seconds(env: MutableMapping[str, str]) -> float:
    """:data:`SETTLE_S`, or ``GANTRANS_OMP_SETTLE_S`` when set to a number >= 0."""
    try:
        value = float(env.get(SETTLE_ENV, SETTLE_S))
    except ValueError:
        return SETTLE_S
    return value if value >= 0 and value == value else SETTLE_S


def describe(env: MutableMapping[str, str] | None = None) -> str:
    """What this process's OpenMP threads do when idle: our choice, the user's, or the default."""
    env = os.environ if env is None else env
    if _chosen is not None:
        return _chosen
    own = [f"{k}={env[k]}" for k in USER_KEYS if k in env]
    return "OpenMP wait as set: " + ", ".join(own) if own else "OpenMP wait: library default"


def _local_processes(env: MutableMapping[str, str]) -> int:
    try:
        return int(env.get("LOCAL_WORLD_SIZE", "1") or 1)
    except ValueError:
        return 1
