"""The training size when ``--crop-size`` is not given: the images' own, at most the default.

The papers resize every image to 286 px and crop 256, whatever its size. On a set of 64 px
images (the size CPU users train at, and the built-in sets' size) that scales each image up
4x for 16x the arithmetic and checkpoints sized for 256 px networks, with no detail gained.
So an unset size follows the data: the median shorter side of its images, rounded down to what
the networks take, and never above the default. Set ``--crop-size`` to scale up on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the training size of the papers (and the most an unset size becomes)
DEFAULT_CROP_SIZE = 256


@dataclass(frozen=True)
class SizeChoice:
    """The chosen training size and, where it is not the default, the line that says why."""

    size: int
    note: str = ""


def choose_crop_size(side: int | None, *, size_multiple: int = 1, min_size: int = 1,
                     load_size: int | None = None, networks: str = "the networks") -> SizeChoice:
    """The training size for images whose typical shorter side is ``side`` px.

    ``size_multiple`` and ``min_size`` are the networks' size rule; a size the rule cannot meet
    at or below ``side`` keeps the default (the images are then scaled up, and the note says so).
    ``load_size``, when given, caps the size: a crop is cut from the image resized to it.
    """
    m = max(1, int(size_multiple))
    cap = DEFAULT_CROP_SIZE if load_size is None else min(DEFAULT_CROP_SIZE, int(load_size))
    target = cap if side is None else min(int(side), cap)
    size = max(target // m * m, -(-max(1, int(min_size)) // m) * m)  # the rule's smallest size at least
    if side is not None and size > side:
        return SizeChoice(size, f"{size} px: the images are about {side} px, smaller than {networks} take "
                                f"({size} px at least), so they are scaled up")
    if size == DEFAULT_CROP_SIZE:
        return SizeChoice(size)
    if side is None or target < side:
        return SizeChoice(size, f"{size} px, at most --load-size {load_size}")
    return SizeChoice(size, f"{size} px, the images' size (about {side} px; the default {DEFAULT_CROP_SIZE} would "
                            f"scale them up); --crop-size sets another")
