"""Work off the GUI thread: superqt thread workers plus a relay for progress callbacks.

Every inference, folder scan and file write runs through :func:`run_in_thread`, so the event
loop keeps painting and a Cancel button stays live. Results, errors and progress come back to
the GUI thread as queued Qt signals. An exception in a worker never takes the app down: it
goes to the callback given, or to the window's error dialog (:func:`set_default_error_handler`).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThreadPool, Signal

if TYPE_CHECKING:  # superqt is imported with the first worker, after the window is on screen
    from superqt.utils import FunctionWorker

ErrorHandler = Callable[[str, str], None]
_default_error_handler: ErrorHandler | None = None
_running: set[FunctionWorker] = set()  # keeps each worker alive until it has finished


def set_default_error_handler(handler: ErrorHandler | None) -> None:
    """Where worker errors go when the caller gave no ``on_error`` (the main window's dialog)."""
    global _default_error_handler
    _default_error_handler = handler


def one_line(exc: BaseException) -> str:
    """The user-facing line of an exception (gantrans errors already name the file)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    from gantrans.errors import GantransError, PixelLimitError
    from gantrans.inference.translate import TilingNeeded

    if isinstance(exc, TilingNeeded):  # the app's words for the command line's --tile
        return f"{exc.problem}; choose a tile size under Tiling to tile it ({exc.caveat})"
    if isinstance(exc, PixelLimitError):  # ... and for its GANTRANS_MAX_PIXELS
        return f"{exc.problem}; raise Largest image under Settings to accept it"
    if isinstance(exc, GantransError):
        return line or type(exc).__name__
    if isinstance(exc, MemoryError):
        return "not enough memory for this operation"
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def details(exc: BaseException) -> str:
    """The traceback behind an unexpected failure; "" for a gantrans error, whose one line is
    the whole story for the user (a file that is not an image needs no Python stack)."""
    from gantrans.errors import GantransError

    if isinstance(exc, GantransError):
        return ""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def report_error(exc: BaseException) -> None:
    if _default_error_handler is not None:
        _default_error_handler(one_line(exc), details(exc))
    else:  # pragma: no cover - only before a window exists
        traceback.print_exception(type(exc), exc, exc.__traceback__)


def run_in_thread(fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None] | None = None,
                  on_error: Callable[[BaseException], None] | None = None,
                  on_finished: Callable[[], None] | None = None, owner: Any = None,
                  **kwargs: Any) -> FunctionWorker:
    """Start ``fn(*args, **kwargs)`` in the global thread pool and return its worker.

    The callbacks run in the GUI thread. ``on_error`` receives the exception; without it the
    error dialog shows it. ``on_finished`` runs after either. With ``owner`` (a widget), the
    callbacks are dropped once it has been deleted: a slow load must not touch a closed view.
    """
    from superqt.utils import create_worker

    if owner is not None:
        import shiboken6

        def alive(callback):
            return None if callback is None else (lambda *a: callback(*a) if shiboken6.isValid(owner) else None)

        on_result, on_finished = alive(on_result), alive(on_finished)
        on_error = alive(on_error if on_error is not None else report_error)
    worker = create_worker(fn, *args, _start_thread=False, _ignore_errors=True, **kwargs)
    if on_result is not None:
        worker.returned.connect(on_result)
    worker.errored.connect(on_error if on_error is not None else report_error)
    _running.add(worker)

    def finished() -> None:
        _running.discard(worker)
        if on_finished is not None:
            on_finished()

    worker.finished.connect(finished)
    # Straight into the pool: superqt's ``start()`` defers by a timer tick when an event loop
    # runs, which lets a worker begin after the window has closed and its signals are gone.
    QThreadPool.globalInstance().start(worker)
    return worker


def running_count() -> int:
    return len(_running)


def wait_for_workers(msecs: int = 5000) -> bool:
    """Drop work not started yet and wait for the rest (the app is closing; running work was cancelled)."""
    pool = QThreadPool.globalInstance()
    pool.clear()
    return pool.waitForDone(msecs)


class ProgressRelay(QObject):
    """Carries progress reports from a worker thread to the GUI thread (queued signal)."""

    progress = Signal(object)

    def __call__(self, *report: object) -> None:
        self.progress.emit(report[0] if len(report) == 1 else report)


def warm_up() -> None:
    """Import the engine and Pillow's codecs once, in a worker, right after the window shows.

    The first translation then starts at once, and no later import (Pillow loads codecs lazily)
    races with the GUI thread. pyqtgraph (the Runs view's curves; half a second to import, and
    it makes no Qt object when imported) too: the Runs view's first opening froze for it.
    """
    import pyqtgraph  # noqa: F401
    from PIL import Image

    import gantrans.images  # noqa: F401
    import gantrans.inference  # noqa: F401

    Image.init()
