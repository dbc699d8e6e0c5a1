"""The work the Translate and Compare views hand to worker threads (no Qt in here).

One function per job, taking plain values and returning plain values, so it runs in any thread
and a test can call it directly. Everything goes through :mod:`gantrans.inference`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TranslateRequest:
    model: Path
    image: Any  # a file path (str/Path) or a gantrans LoadedImage (pasted or dropped pixels)
    image_key: str
    tile: int | None = None  # None: automatic, 0: never, N: N-pixel tiles
    providers: tuple[str, ...] | None = None
    threads: int | None = None

    def cache_key(self) -> tuple:
        """Results depend on the model file, the image and the tiling (not on provider or threads)."""
        try:
            st = os.stat(self.model)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (0, 0)
        return (str(self.model), stamp, self.image_key, self.tile)


@dataclass
class TranslateOutcome:
    request: TranslateRequest
    result: Any  # gantrans.inference.TranslatedImage
    seconds: float  # the model run(s), image already decoded, session already built
    load_seconds: float
    providers: list[str]
    notes: list[str] = field(default_factory=list)
    tiles: int = 1
    input_size: tuple[int, int] = (0, 0)  # width, height
    display: Any = None  # the 8-bit QImage of the result, made in the worker by the views


def tile_option(value: str) -> int | None:
    """A tiling setting (``auto``, ``off``, ``512``) as :class:`TranslateOptions.tile`."""
    if value == "auto":
        return None
    if value == "off":
        return 0
    return int(value)


def translate(request: TranslateRequest, cancel=None,
              on_tile: Callable[[int, int], None] | None = None) -> TranslateOutcome:
    from gantrans.inference import TranslateOptions, Translator, load_model
    from gantrans.inference.translate import count_file_tiles

    t0 = time.perf_counter()
    model = load_model(request.model, providers=list(request.providers) if request.providers else None,
                       threads=request.threads or None)
    translator = Translator(model, options=TranslateOptions(tile=request.tile))
    image = request.image
    if isinstance(image, (str, os.PathLike)):
        image = translator.load(image)
    h, w = image.pixels.shape[:2]
    tiles = count_file_tiles(translator, h, w)
    t1 = time.perf_counter()
    result = translator.translate_image(image, cancel=cancel, on_tile=on_tile)
    t2 = time.perf_counter()
    return TranslateOutcome(request, result, t2 - t1, t1 - t0, model.providers, list(model.notes), tiles, (w, h))


def load_display_image(path: str | os.PathLike):
    """An image file as the engine reads it (RGB plus alpha), for the 'before' side."""
    from gantrans.images import load_image

    return load_image(path, channels=3)
