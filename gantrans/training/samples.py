"""Sample grids on fixed inputs, one row per ``recipe.sample_rows`` entry, labelled.

The same inputs (the first items of the eval-mode data set) and the same random seed are used
every epoch, so grids of successive epochs compare; sampling runs in eval mode under a forked
RNG, so it never changes the training trajectory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.utils import make_grid

from gantrans.drawing import draw_label
from gantrans.fileio import atomic_write
from gantrans.recipe import Batch, Recipe

PADDING = 2
LABEL_WIDTH = 96


@torch.no_grad()
def render_rows(recipe: Recipe, batch: Batch, nets: Sequence[nn.Module], seed: int = 0) -> list[tuple[str, torch.Tensor]]:
    devices = [batch[k].device for k in batch if isinstance(batch[k], torch.Tensor)]
    fork = [d.index or 0 for d in devices if d.type == "cuda"][:1]
    was_training = [n.training for n in nets]
    with torch.random.fork_rng(devices=fork):
        torch.manual_seed(seed)
        for n in nets:
            n.eval()
        try:
            rows = recipe.sample_rows(batch)
        finally:
            for n, mode in zip(nets, was_training):
                n.train(mode)
    return [(str(label), images.detach().float().cpu()) for label, images in rows]


def grid_image(rows: list[tuple[str, torch.Tensor]]) -> Any:
    """A PIL image: one grid row per entry, its label drawn in a left margin."""
    from PIL import Image, ImageDraw

    if not rows:
        raise ValueError("recipe returned no sample rows")
    n = max(images.shape[0] for _, images in rows)
    h, w = rows[0][1].shape[-2:]
    tiles = []
    for _, images in rows:
        images = (images.clamp(-1, 1) + 1) / 2
        if images.shape[1] == 1:
            images = images.repeat(1, 3, 1, 1)
        elif images.shape[1] > 3:
            images = images[:, :3]
        if images.shape[-2:] != (h, w):
            images = F.interpolate(images, size=(h, w), mode="bilinear", align_corners=False)
        if images.shape[0] < n:
            images = torch.cat([images, images.new_ones(n - images.shape[0], *images.shape[1:])])
        tiles.append(images)
    grid = make_grid(torch.cat(tiles), nrow=n, padding=PADDING, pad_value=1.0)
    array = (grid.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    body = Image.fromarray(array, mode="RGB")
    canvas = Image.new("RGB", (body.width + LABEL_WIDTH, body.height), "white")
    canvas.paste(body, (LABEL_WIDTH, 0))
    draw = ImageDraw.Draw(canvas)
    for i, (label, _) in enumerate(rows):
        middle = PADDING + i * (h + PADDING) + h // 2
        draw_label(draw, (4, middle), label, LABEL_WIDTH - 8, middle=True)
    return canvas


def save_grid(rows: list[tuple[str, torch.Tensor]], path: Path, step: int | None = None) -> Path:
    """Write ``path`` (PNG) and a sidecar ``.json`` listing the row labels, both atomically.

    The sidecar also records the training ``step``: epoch-end and between-epoch grids have
    differently shaped names, and only the step puts them in the order they were drawn.
    """
    image = grid_image(rows)
    with atomic_write(path) as fh:
        image.save(fh, format="PNG")
    with atomic_write(path.with_suffix(".json"), "w", encoding="utf-8") as fh:
        side = {"rows": [label for label, _ in rows], "columns": int(rows[0][1].shape[0])}
        if step is not None:
            side["step"] = int(step)
        json.dump(side, fh)
    return path
