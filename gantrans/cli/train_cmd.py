"""Placeholder: filled in by its issue."""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands (none yet)."""
