"""SIGINT/SIGTERM as a polite request to stop, for commands that can stop between items.

The first signal asks the work to stop after the item in hand (``requested``); a second one
cancels at once (``token`` is cancelled, which also aborts a running ONNX Runtime call). The
command then exits with 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from types import TracebackType

from gantrans.inference.progress import CancelToken


class CancelOnSignal:
    def __init__(self, token: CancelToken | None = None, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)):
        self.token = token or CancelToken()
        self.signals = signals
        self.signum: int | None = None
        self._old: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)

    def stop_now_if_requested(self) -> None:
        """Call between items: turns a pending request into a cancel of the token."""
        if self.signum is not None:
            self.token.cancel()

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        if self.signum is not None:  # asked twice: stop now
            self.token.cancel()
        self.signum = signum

    def __enter__(self) -> CancelOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()
