"""Calling plugin code: what it raises, or returns wrongly, is one line naming it and its plugin.

A network factory or a data format's ``build`` is plugin code; an option value it refuses or a
bug in it would otherwise reach the user as an "internal error" that names neither.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from gantrans.errors import GantransError

T = TypeVar("T")

REPORT = "report it to the plugin's author"


def one_line(exc: BaseException) -> str:
    """What plugin code raised, as ``Type: first line of its message``."""
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"


def call_plugin(call: Callable[[], T], *, failed: str, advice: str, error: type[GantransError],
                returns: type, wrong: Callable[[Any], str]) -> T:
    """``call()``; gantrans errors pass through as they are, any other exception becomes
    ``error("{failed} (Type: first line); {advice}")``, and a result that is not ``returns``
    becomes ``error(wrong(result))``."""
    try:
        made = call()
    except GantransError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever plugin code raises, named by the caller's words
        raise error(f"{failed} ({one_line(exc)}); {advice}") from exc
    if not isinstance(made, returns):
        raise error(wrong(made))
    return made
