"""Words drawn on the images gantrans writes (sample grids, contact sheets).

Labels are data (class folder names, file names) in any language. Pillow's built-in font has
ASCII only, so a system font with accented letters is used where one is found; without one,
labels are folded to ASCII (``círculo`` -> ``circulo``) rather than drawn as boxes. A label too
wide for its place is shortened in the middle, so names that differ only at the end stay apart.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

#: Fonts Pillow finds by name in the usual system folders (Linux, Windows, macOS), tried in order.
SYSTEM_FONTS = ("DejaVuSans.ttf", "arial.ttf", "Arial.ttf", "Helvetica.ttc", "LiberationSans-Regular.ttf")
ELLIPSIS = "\u2026"


@lru_cache(maxsize=8)
def label_font(size: int = 11) -> Any:
    """A font for labels: the first system font found, else Pillow's built-in one (ASCII only)."""
    from PIL import ImageFont

    for name in SYSTEM_FONTS:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _missing_glyph(font: Any) -> tuple[Any, bytes]:
    mask = font.getmask("\U0010fffd")  # a private-use code point: no font draws it but as a box
    return mask.size, bytes(mask)


def _drawable(ch: str, font: Any) -> bool:
    if ch.isascii():
        return True
    mask = font.getmask(ch)
    return (mask.size, bytes(mask)) != _missing_glyph(font)


def label_text(label: str, font: Any, width: float, draw: Any) -> str:
    """``label`` as it can be drawn with ``font`` in ``width`` pixels: a letter the font lacks is
    folded to ASCII (``í`` -> ``i``), or to ``?`` when nothing is left of it."""
    text = ""
    for ch in str(label):
        if not _drawable(ch, font):
            ch = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii") or "?"
        text += ch
    ellipsis = ELLIPSIS if _drawable(ELLIPSIS, font) else ".."
    return fit_label(text, lambda t: draw.textlength(t, font=font), width, ellipsis)


def fit_label(label: str, width_of: Any, width: float, ellipsis: str = ELLIPSIS) -> str:
    """``label`` shortened in the middle until ``width_of`` says it fits."""
    if width_of(label) <= width:
        return label
    for keep in range(len(label) - 1, 1, -1):
        text = label[: (keep + 1) // 2] + ellipsis + label[len(label) - keep // 2:]
        if width_of(text) <= width:
            return text
    return label[:1] + ellipsis


def draw_label(draw: Any, xy: tuple[float, float], label: str, width: float, size: int = 11,
               fill: Any = (0, 0, 0), middle: bool = False) -> None:
    """Draw ``label`` at ``xy`` (its top-left, or its left-middle with ``middle``), fitted to ``width``."""
    font = label_font(size)
    x, y = xy
    draw.text((x, y), label_text(label, font, width, draw), fill=fill, font=font,
              anchor="lm" if middle else "la")
