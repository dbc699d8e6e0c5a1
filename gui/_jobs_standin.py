"""Stand-in for :mod:`gantrans.jobs` (contract B) until issue 13 is merged; delete it then.

Only the two functions the GUI uses, with the contract's signatures.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any


@dataclass
class JobEvent:
    event: str
    data: dict[str, Any] = field(default_factory=dict)


def command_argv(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "gantrans", *args, "--progress", "json"]


def parse_event(line: str) -> JobEvent | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or "event" not in obj:
        return None
    return JobEvent(str(obj["event"]), obj)
