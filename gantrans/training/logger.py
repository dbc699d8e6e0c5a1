"""Where a run reports: ``metrics.jsonl`` (appended through :mod:`gantrans.runs`), TensorBoard and a tqdm bar.

Only rank 0 writes; other ranks get a logger whose methods do nothing. TensorBoard gets the
losses and learning rates as curves and the sample grids as images; bookkeeping columns of
the metrics log (wall time, step within the epoch) are no curves worth drawing.

The terminal shows two lines: the bar with the epoch, and the latest losses below it, so the
bar keeps its width however many loss terms a recipe has.
"""

from __future__ import annotations

import contextlib
import math
import sys
from pathlib import Path
from typing import Any

from gantrans.fileio import reporting_disk_full
from gantrans.runs import TENSORBOARD_DIR, MetricsWriter

#: Metrics columns that are not drawn as TensorBoard curves.
NOT_CURVES = frozenset({"step", "epoch", "epoch_step", "time"})
BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]"


class RunLogger:
    def __init__(self, run_dir: Path, *, enabled: bool = True, tensorboard: bool = True,
                 total_steps: int = 0, initial_step: int = 0, stream: Any = None, ncols: int | None = None):
        self.enabled = enabled
        self._fh = None
        self._tb = None
        self._bar = None
        self._losses = None
        self.tensorboard_dir: Path | None = None
        if not enabled:
            return
        self._fh = MetricsWriter(run_dir)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard not installed: the JSON log is enough
                SummaryWriter = None  # noqa: N806
            if SummaryWriter is not None:
                self.tensorboard_dir = run_dir / TENSORBOARD_DIR
                self._tb = SummaryWriter(log_dir=str(self.tensorboard_dir), purge_step=initial_step or None)
        from tqdm import tqdm

        stream = stream if stream is not None else sys.stderr
        disable = None if stream is sys.stderr else False
        common = dict(file=stream, disable=disable, leave=False, ncols=ncols, dynamic_ncols=ncols is None)
        self._bar = tqdm(total=total_steps, initial=initial_step, unit="step", bar_format=BAR_FORMAT,
                         desc="epoch", position=0, **common)
        if not self._bar.disable:
            self._losses = tqdm(total=0, bar_format="{desc}", position=1, **common)

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in row.items()}
        with reporting_disk_full(self._fh.path):
            self._fh.log(clean)
        if self._tb is not None:
            step = int(row["step"])
            for key, value in row.items():
                if key not in NOT_CURVES and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._tb.add_scalar(key, value, step)
            self._tb.flush()

    def image(self, tag: str, path: Path, step: int) -> None:
        """A sample grid (a PNG written by the trainer) as a TensorBoard image."""
        if self._tb is None:
            return
        import numpy as np
        from PIL import Image

        with Image.open(path) as im:
            array = np.asarray(im.convert("RGB"))
        self._tb.add_image(tag, array, step, dataformats="HWC")
        self._tb.flush()

    def progress(self, steps: int, terms: dict[str, float], epoch: int | None = None,
                 epochs: int | None = None) -> None:
        if self._bar is None:
            return
        if epoch is not None:
            self._bar.set_description_str(f"epoch {epoch}/{epochs}" if epochs else f"epoch {epoch}", refresh=False)
        self._bar.update(steps)
        if terms and self._losses is not None:
            width = (self._losses.ncols or self._bar.ncols or 100) - 2
            text = "  " + " ".join(f"{k} {v:.3g}" for k, v in terms.items())
            self._losses.set_description_str(text if len(text) <= width else text[:width - 3] + "...")

    def write(self, line: str) -> None:
        """A message that does not break the progress bar."""
        if not self.enabled:
            return
        if self._bar is not None and not self._bar.disable:
            self._bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._losses is not None:
            self._losses.close()
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()
        if self._fh is not None:
            with contextlib.suppress(OSError):  # every row was flushed when logged
                self._fh.close()
        self._fh = self._tb = self._bar = self._losses = None

