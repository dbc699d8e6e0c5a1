"""Cancellation and progress shared by the CLI and the GUI.

A Qt worker thread drives :class:`~gantrans.inference.translate.Translator` with a
:class:`CancelToken` the GUI thread may cancel at any moment; the engine checks it between
images and between tiles, so a cancel takes effect within one model run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from gantrans.errors import Cancelled


class CancelToken:
    """A thread-safe, one-way cancellation flag.

    Callbacks registered with :meth:`on_cancel` run in the cancelling thread; the engine uses
    one to set ONNX Runtime's ``RunOptions.terminate``, so even a long model run stops early.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` on cancel (now, if already cancelled); returns the un-register function."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)

                def remove() -> None:
                    with self._lock:
                        if callback in self._callbacks:
                            self._callbacks.remove(callback)

                return remove
        callback()
        return lambda: None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self, what: str = "work") -> None:
        if self._event.is_set():
            raise Cancelled(f"{what} cancelled")


@dataclass(frozen=True)
class Progress:
    """One progress report.

    ``done``/``total`` count files (or images for generation); ``phase`` is one of ``load``,
    ``infer``, ``tile``, ``save``, ``done``; ``tiles_done``/``tiles_total`` are set during tiled
    inference of ``current``.
    """

    done: int
    total: int
    current: str | None = None
    phase: str = "infer"
    tiles_done: int = 0
    tiles_total: int = 0


ProgressCallback = Callable[[Progress], None]


def check(cancel: CancelToken | None, what: str = "work") -> None:
    if cancel is not None:
        cancel.raise_if_cancelled(what)
