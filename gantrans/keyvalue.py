"""``-o KEY=VALUE`` recipe options from the command line. Torch-free, so a malformed option
is a usage error (exit 2) answered before any heavy import.

The value is JSON when it parses as JSON (``8``, ``5.0``, ``true``, ``[1, 2]``), else the
string as given. Numbers must be finite; learning rates (``lr``, ``lr_*``, ``*_lr``) must
also be greater than zero.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from gantrans.errors import ConfigError


def _is_learning_rate(key: str) -> bool:
    return key == "lr" or key.startswith("lr_") or key.endswith("_lr")


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> ``(key, value)`` with dashes in the key read as underscores."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"-o {text!r}: expected KEY=VALUE")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    key = key.replace("-", "_")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and not math.isfinite(value):
        raise ConfigError(f"-o {text}: {raw.strip()} is not a finite number")
    if _is_learning_rate(key) and not (number and value > 0):
        raise ConfigError(f"-o {text}: a learning rate must be a finite number > 0")
    return key, value


def option_arg(text: str) -> tuple[str, Any]:
    """:func:`parse_option` as an argparse ``type``: a bad option is a usage error."""
    try:
        return parse_option(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
