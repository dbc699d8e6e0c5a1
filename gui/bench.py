"""What the GUI adds to a translation: the engine alone against the Translate view, same process.

The engine figure is ``Translator.translate_image`` on a decoded image with a warm session; the
GUI figure runs from the view's request to the result painted on screen (worker hand-off, the
same engine call, conversion to a QImage, repaint), with the result cache cleared each time.
``gui_only_s`` is the part outside the engine call in the GUI runs themselves, the figure a busy
machine disturbs least.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer


def _wait_until(condition, seconds: float = 60.0) -> None:
    loop = QEventLoop()
    deadline = time.perf_counter() + seconds
    while not condition() and time.perf_counter() < deadline:
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def bench_translate(window, model: str, size: int = 512, repeats: int = 5) -> dict[str, Any]:
    import numpy as np

    from gantrans.images import LoadedImage
    from gantrans.inference import Translator, load_model

    pixels = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    image = LoadedImage(pixels=pixels, alpha=None, path=None, source_mode="RGB", bit_depth=8)
    settings = window.settings
    translator = Translator(load_model(model, providers=settings.providers(), threads=settings.threads or None))
    translator.translate_image(image)  # warm-up: first run allocates

    window.add_model(model)
    _wait_until(lambda: window.library.entry(model) is not None)
    view = window.show_view("translate")
    if not view.select_model(model):
        raise SystemExit(f"{model}: not a translation model the library accepts")
    loop = QEventLoop()
    view.result_shown.connect(loop.quit)

    def through_gui(first: bool) -> float:
        view.cache.clear()
        t0 = time.perf_counter()
        if first:
            view._set_source(image, image, "bench", "bench.png")
        else:
            view.run()
        QTimer.singleShot(120000, loop.quit)
        loop.exec()
        view.pages.currentWidget().repaint()
        return time.perf_counter() - t0

    through_gui(True)  # warm-up: the canvases' first frame
    engine, gui, inner = [], [], []
    for _ in range(repeats):  # interleaved, so a change in machine load hits both alike
        t0 = time.perf_counter()
        translator.translate_image(image)
        engine.append(time.perf_counter() - t0)
        gui.append(through_gui(False))
        inner.append(view.outcome.seconds)
    e, g = statistics.median(engine), statistics.median(gui)
    return {"model": str(model), "size": size, "repeats": repeats, "providers": translator.model.providers,
            "engine_s": round(e, 4), "gui_s": round(g, 4), "gui_engine_part_s": round(statistics.median(inner), 4),
            "overhead_s": round(g - e, 4), "overhead_pct": round(100 * (g - e) / e, 1),
            "gui_only_s": round(statistics.median(a - b for a, b in zip(gui, inner)), 4)}
