"""Scoring and a contact sheet for translated images against ground truth (torch-free)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gantrans.errors import DataError
from gantrans.images import image_to_float, is_image_file, load_image, save_image


@dataclass
class Score:
    count: int
    l1_output: float
    l1_input: float
    psnr_output: float


def _float(path: Path) -> np.ndarray:
    return image_to_float(load_image(path, channels=3))


def score_and_sheet(inputs: Path, outputs: Path, truths: Path, sheet: Path, rows: int = 6) -> Score:
    """Mean L1 (on the [-1, 1] scale training uses) and PSNR of outputs against ground truth.

    Output files are matched to inputs by file stem; the sheet shows input | output | truth
    for the first ``rows`` images.
    """
    out_by_stem = {p.stem: p for p in outputs.rglob("*") if is_image_file(p)}
    names = sorted(p for p in inputs.iterdir() if is_image_file(p) and p.stem in out_by_stem)
    if not names:
        raise DataError(f"{outputs}: no translated images match the inputs in {inputs}")
    l1_out, l1_in, mse = [], [], []
    tiles = []
    for src in names:
        x, y, t = _float(src), _float(out_by_stem[src.stem]), _float(truths / src.name)
        l1_out.append(2 * np.abs(y - t).mean())
        l1_in.append(2 * np.abs(x - t).mean())
        mse.append(((y - t) ** 2).mean())
        if len(tiles) < rows:
            tiles.append(np.concatenate([x, y, t], axis=1))
    gap = np.ones((4, tiles[0].shape[1], 3), np.float32)
    grid = np.concatenate([part for tile in tiles for part in (tile, gap)][:-1], axis=0)
    save_image(grid, sheet, overwrite=True)
    mean_mse = float(np.mean(mse))
    return Score(len(names), float(np.mean(l1_out)), float(np.mean(l1_in)),
                 10 * math.log10(1 / mean_mse) if mean_mse > 0 else float("inf"))
