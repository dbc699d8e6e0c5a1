"""Labels drawn on sample grids and contact sheets: any language, never boxes, never cut blind."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from gantrans import drawing


def test_a_long_label_is_shortened_in_the_middle_so_similar_names_stay_apart():
    width_of = len  # one unit per character
    assert drawing.fit_label("circle", width_of, 10) == "circle"
    a, b = (drawing.fit_label(f"golden_retriever_{x}", width_of, 12) for x in "ab")
    assert len(a) <= 12 and a != b and a.endswith("_a") and a.startswith("golden")
    assert drawing.fit_label("abcdef", width_of, 1) == "a\u2026"


def test_letters_the_font_lacks_are_folded_not_drawn_as_boxes():
    builtin = ImageFont.load_default(size=11)  # Pillow's own font: ASCII only
    draw = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    assert drawing.label_text("círculo ça", builtin, 500, draw) == "circulo ca"
    assert drawing.label_text("猫", builtin, 500, draw) == "?"


def test_a_system_font_draws_accented_letters_as_they_are(monkeypatch):
    font = drawing.label_font(11)
    if not isinstance(getattr(font, "path", None), str):
        pytest.skip("no system font with accented letters on this machine")
    draw = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    assert drawing.label_text("círculo", font, 500, draw) == "círculo"


def test_sample_grid_labels_fit_their_margin_and_tell_similar_classes_apart():
    torch = pytest.importorskip("torch")
    from gantrans.training.samples import LABEL_WIDTH, PADDING, grid_image

    h = 16
    rows = [(name, torch.zeros(2, 3, h, h)) for name in ("golden_retriever_a", "golden_retriever_b")]
    image = np.asarray(grid_image(rows).convert("L"))[:, :LABEL_WIDTH]
    first, second = (image[PADDING + k * (h + PADDING): PADDING + k * (h + PADDING) + h] for k in (0, 1))
    ink = np.where(image < 128)[1]
    assert ink.size and ink.max() < LABEL_WIDTH - 2  # drawn, and inside the margin
    assert not np.array_equal(first, second)  # the names differ at their end: so do the labels
