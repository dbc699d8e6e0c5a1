"""The run directory: layout constants and a torch-free reader (for the GUI and the CLI).

``runs/<name>/`` holds ``config.json`` (the resolved config), ``metrics.jsonl`` (one JSON
object per logged step), ``samples/epoch_NNNN.png`` (grids on fixed inputs),
``checkpoints/latest.pt`` plus kept ``checkpoints/epoch_NNNN.pt``, and ``tensorboard/`` events
when tensorboard is installed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gantrans.errors import CheckpointError

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
SAMPLES_DIR = "samples"
CHECKPOINTS_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"


@dataclass
class RunDir:
    """Read-only view of a run directory."""

    path: Path

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / CONFIG_FILE).is_file():
            raise CheckpointError(f"{self.path}: not a gantrans run directory (no {CONFIG_FILE})")

    @property
    def name(self) -> str:
        return self.path.name

    def config(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{self.path / CONFIG_FILE}: unreadable ({exc})") from None

    def metrics(self) -> Iterator[dict[str, Any]]:
        """Logged rows; a torn last line (a run killed mid-write) is skipped."""
        file = self.path / METRICS_FILE
        if not file.is_file():
            return
        with file.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue

    def samples(self) -> list[Path]:
        return sorted((self.path / SAMPLES_DIR).glob("*.png"))

    def sample_labels(self, sample: str | Path) -> list[str]:
        """Row labels of a sample grid, from the ``.json`` written next to its ``.png`` ([] if none)."""
        side = (self.path / SAMPLES_DIR / Path(sample).name).with_suffix(".json")
        try:
            return [str(x) for x in json.loads(side.read_text(encoding="utf-8")).get("rows", [])]
        except (OSError, json.JSONDecodeError, AttributeError):
            return []

    def checkpoints(self) -> list[Path]:
        return sorted((self.path / CHECKPOINTS_DIR).glob("*.pt"))


def list_runs(runs_dir: str | Path = "runs") -> list[RunDir]:
    """Every run directory under ``runs_dir``, newest first."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if (p / CONFIG_FILE).is_file()]
    return sorted(runs, key=lambda r: (r.path / CONFIG_FILE).stat().st_mtime, reverse=True)
