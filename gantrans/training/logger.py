"""Where a run reports: ``metrics.jsonl`` (appended through :mod:`gantrans.runs`), TensorBoard and a tqdm bar.

Only rank 0 writes; other ranks get a logger whose methods do nothing.
"""

from __future__ import annotations

import contextlib
import math
import sys
from pathlib import Path
from typing import Any

from gantrans.fileio import reporting_disk_full
from gantrans.runs import TENSORBOARD_DIR, MetricsWriter


class RunLogger:
    def __init__(self, run_dir: Path, *, enabled: bool = True, tensorboard: bool = True,
                 total_steps: int = 0, initial_step: int = 0):
        self.enabled = enabled
        self._fh = None
        self._tb = None
        self._bar = None
        if not enabled:
            return
        self._fh = MetricsWriter(run_dir)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard not installed: the JSON log is enough
                SummaryWriter = None  # noqa: N806
            if SummaryWriter is not None:
                self._tb = SummaryWriter(log_dir=str(run_dir / TENSORBOARD_DIR), purge_step=initial_step or None)
        from tqdm import tqdm

        self._bar = tqdm(total=total_steps, initial=initial_step, unit="step", dynamic_ncols=True,
                         file=sys.stderr, disable=None, leave=False)

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in row.items()}
        with reporting_disk_full(self._fh.path):
            self._fh.log(clean)
        if self._tb is not None:
            step = int(row["step"])
            for key, value in row.items():
                if key not in ("step", "epoch") and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._tb.add_scalar(key, value, step)
            self._tb.flush()

    def progress(self, steps: int, terms: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.update(steps)
            if terms:
                self._bar.set_postfix({k: f"{v:.3g}" for k, v in list(terms.items())[:6]}, refresh=False)

    def write(self, line: str) -> None:
        """A message that does not break the progress bar."""
        if not self.enabled:
            return
        if self._bar is not None and not self._bar.disable:
            self._bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()
        if self._fh is not None:
            with contextlib.suppress(OSError):  # every row was flushed when logged
                self._fh.close()
        self._fh = self._tb = self._bar = None

