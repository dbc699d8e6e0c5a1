"""The CLI's own lines for people: messages on stdout, warnings on stderr.

Library code that has something to tell the user of a command (a skipped data file, a
fallback to an older checkpoint) says it through here rather than through Python's
``warnings``, whose filters can hide it and whose format echoes source lines. Torch-free.
"""

from __future__ import annotations

import sys


def warning(text: str) -> None:
    """``gantrans: warning: TEXT`` on stderr."""
    print(f"gantrans: warning: {text}", file=sys.stderr, flush=True)


def message(text: str) -> None:
    """``TEXT`` on stdout."""
    print(text, flush=True)
