"""User-facing lines outside a progress bar: messages and warnings.

With ``--progress json`` they become ``message`` / ``warning`` events of the JSON stream (the
same words); otherwise they go to stderr, one line each. Torch-free.
"""

from __future__ import annotations

import sys

from gantrans import events


def message(text: str) -> None:
    """A line for the person running the command (progress, what was written, what happens next)."""
    reporter = events.active()
    if reporter.json:
        reporter.message(text)
    else:
        print(text, file=sys.stderr, flush=True)


def warning(text: str) -> None:
    """Something the user should know about but that does not stop the command."""
    reporter = events.active()
    if reporter.json:
        reporter.warning(text)
    else:
        print(f"gantrans: warning: {text}", file=sys.stderr, flush=True)


def say(text: str) -> None:
    """Like :func:`message`, but printed on stdout in human mode (for a command's own report lines)."""
    reporter = events.active()
    if reporter.json:
        reporter.message(text)
    else:
        print(text, flush=True)


def counted(n: int, noun: str) -> str:
    """``1 step``, ``2 steps``, ``0 epochs``: a count with its noun, in the plural it needs."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
