"""The training size when ``--crop-size`` is not given: the images' own, at most the default.

The papers resize every image to 286 px and crop 256, whatever its size. On a set of 64 px
images (the size CPU users train at, and the built-in sets' size) that scales each image up
4x for 16x the arithmetic and checkpoints sized for 256 px networks, with no detail gained.
So an unset size follows the data: the median shorter side of its images, rounded to the nearer
size the networks take, and never above the default. Set ``--crop-size`` to scale up on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the training size of the papers (and the most an unset size becomes)
DEFAULT_CROP_SIZE = 256


def load_size_for(crop_size: int) -> int:
    """The size images are resized to before a ``crop_size`` crop: the reference's 286/256."""
    return int(crop_size) * 286 // 256


@dataclass(frozen=True)
class SizeChoice:
    """The chosen training size and, where it is not the default, the line that says why."""

    size: int
    note: str = ""


def choose_crop_size(side: int | None, *, size_multiple: int = 1, min_size: int = 1,
                     load_size: int | None = None, networks: str = "the networks") -> SizeChoice:
    """The training size for images whose typical shorter side is ``side`` px.

    ``size_multiple`` and ``min_size`` are the networks' size rule; images smaller than the
    rule's smallest size are scaled up to it (and the note says so).
    ``load_size``, when given, caps the size: a crop is cut from the image resized to it.
    """
    m = max(1, int(size_multiple))
    cap = DEFAULT_CROP_SIZE if load_size is None else min(DEFAULT_CROP_SIZE, int(load_size))
    target = cap if side is None else min(int(side), cap)
    smallest = -(-max(1, int(min_size)) // m) * m  # the rule's smallest size
    below, above = target // m * m, -(-target // m) * m
    # the nearer of the rule's sizes around the images' (60 px for a multiple of 32: 64, not 32,
    # which would halve each side), never above the cap
    size = max(above if above <= cap and above - target < target - below else below, smallest)
    if side is not None and size > side and size == smallest:
        return SizeChoice(size, f"{size} px: the images are about {side} px, smaller than {networks} take "
                                f"({size} px at least), so they are scaled up")
    if size == DEFAULT_CROP_SIZE:
        if side is not None and side > size:
            return SizeChoice(size, f"{size} px, as the papers crop (the images are about {side} px: resized to "
                                    f"{load_size_for(size)} first); --crop-size sets another")
        return SizeChoice(size)
    if side is None or target < side:
        return SizeChoice(size, f"{size} px, at most --load-size {load_size}")
    if size != side:
        return SizeChoice(size, f"{size} px, the nearest size {networks} take to the images' (about {side} px; "
                                f"the default {DEFAULT_CROP_SIZE} would scale them up); --crop-size sets another")
    return SizeChoice(size, f"{size} px, the images' size (the default {DEFAULT_CROP_SIZE} would scale them up); "
                            f"--crop-size sets another")


def other_sizes(size: int, size_multiple: int = 1, cap: int = DEFAULT_CROP_SIZE) -> list[int]:
    """The sizes to try, in order, when the networks refuse ``size`` for a rule their registration
    does not state (DCGAN's powers of two, a deeper discriminator's larger minimum): smaller ones
    first (the images are not scaled up), powers of two before the rest (the commonest such
    rule), then larger ones up to ``cap``."""
    m = max(1, int(size_multiple))
    below = list(range(size - m, 0, -m))
    above = list(range(size + m, cap + 1, m))

    def powers_first(sizes: list[int]) -> list[int]:
        return [x for x in sizes if x & (x - 1) == 0] + [x for x in sizes if x & (x - 1)]

    return powers_first(below) + powers_first(above)


def kept_size(side: int, size_multiple: int = 1) -> SizeChoice:
    """``--preprocess none``: each image keeps its size (down to the multiple), so that is the size."""
    m = max(1, int(size_multiple))
    size = max(side // m * m, m)
    return SizeChoice(size, f"{size} px, the images' own (--preprocess none keeps each image's size)")


def taken_size(size: int, side: int | None, networks: str = "the networks") -> SizeChoice:
    """``size`` chosen from :func:`other_sizes` for images of about ``side`` px, and why."""
    if side is not None and size > side:
        return SizeChoice(size, f"{size} px: the images are about {side} px, smaller than {networks} take with "
                                f"these options, so they are scaled up")
    return SizeChoice(size, f"{size} px, the largest under the images' size (about {side} px) that {networks} "
                            f"take; --crop-size sets another")
