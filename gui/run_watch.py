"""Qt-free model of a watched run: metric series tailed by offset, loss groups, smoothing.

The Runs view's Qt layer draws what this holds. Everything is read through
:class:`gantrans.runs.RunDir` (the one owner of the layout); new rows come from
``RunDir.metrics(since)`` so a poll reads only what was appended.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gantrans.runs import RunDir

#: Row keys that are bookkeeping, not curves.
NOT_CURVES = frozenset({"step", "epoch", "epoch_step", "time", "nonfinite_skipped"})


def curve_group(key: str) -> str:
    """The plot a metric belongs to: ``D_A_real`` -> ``D``, ``lr/G`` -> ``learning rate``."""
    if key.startswith("lr/") or key.startswith("lr_"):
        return "learning rate"
    if key == "images_per_s":
        return "images/s"
    return key.split("_", 1)[0].split("/", 1)[0]


def group_order(group: str) -> tuple[int, str]:
    """Loss plots first (D, G, then the rest), speed and learning rate last."""
    rank = {"D": 0, "G": 1, "images/s": 8, "learning rate": 9}.get(group, 2)
    return rank, group


def smooth(values: Iterable[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average (``weight`` 0 = raw)."""
    out: list[float] = []
    last, num = 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        num += 1
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight ** num) if weight > 0 else v)
    return out


def tail_metrics(run: RunDir, since: int) -> tuple[list[dict[str, Any]], int]:
    """New metric rows after offset ``since`` and the next offset."""
    return run.metrics(since)


def run_status(run: RunDir) -> dict[str, Any]:
    """``RunDir.status()`` as a dict; ``{"state": "unknown"}`` where a run has no status."""
    try:
        return run.status().as_dict()
    except Exception as exc:  # noqa: BLE001 - an unreadable status is shown, not raised
        return {"state": "unknown", "reason": str(exc)}


@dataclass
class Series:
    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


class RunWatch:
    """Keeps the curves of one run current by tailing its metrics log."""

    def __init__(self, run: RunDir):
        self.run = run
        self.offset = 0
        self.series: dict[str, Series] = {}
        self.last_row: dict[str, Any] = {}

    def poll(self) -> int:
        """Read appended rows; returns how many arrived. A log rewritten under us is re-read."""
        rows, nxt = tail_metrics(self.run, self.offset)
        if nxt < self.offset:  # the log was rewritten (resume after a truncation): start over
            self.reset()
            rows, nxt = tail_metrics(self.run, 0)
        self.offset = nxt
        for row in rows:
            self._add(row)
        return len(rows)

    def reset(self) -> None:
        self.offset = 0
        self.series.clear()
        self.last_row = {}

    def _add(self, row: dict[str, Any]) -> None:
        step = row.get("step")
        if not isinstance(step, (int, float)):
            return
        if self.series and self.last_row and step <= self.last_row.get("step", -1):
            # a resumed run repeats steps after its checkpoint: drop the abandoned tail
            for s in self.series.values():
                while s.steps and s.steps[-1] >= step:
                    s.steps.pop()
                    s.values.pop()
        self.last_row = row
        for key, value in row.items():
            if key in NOT_CURVES or isinstance(value, bool):
                continue
            if isinstance(value, str):  # non-finite floats are logged as strings
                try:
                    value = float(value)
                except ValueError:
                    continue
            if not isinstance(value, (int, float)):
                continue
            s = self.series.setdefault(key, Series())
            s.steps.append(float(step))
            s.values.append(float(value))

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key in self.series:
            out.setdefault(curve_group(key), []).append(key)
        return {g: sorted(out[g]) for g in sorted(out, key=group_order)}
