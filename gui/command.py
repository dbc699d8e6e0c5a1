"""``gantrans gui``: the desktop application as a subcommand, registered like any plugin.

The core never imports the GUI by name; this module is found through the ``gantrans`` entry
point group and must stay import-free (no Qt) because every ``gantrans`` command loads it.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from typing import Any

from gantrans import hookimpl


@hookimpl
def register_commands(subparsers: argparse._SubParsersAction, context: dict[str, Any]) -> None:
    from gantrans_gui.app import add_arguments

    p = subparsers.add_parser("gui", help="open the desktop application (model library, translate, compare, batch)",
                              description="Open the gantrans desktop application.")
    add_arguments(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    missing = [m for m in ("PySide6", "superqt", "qtawesome") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"gantrans: error: 'gantrans gui' needs {', '.join(missing)}, which is not installed: "
              f"pip install 'gantrans[gui]'", file=sys.stderr)
        return 1
    from gantrans_gui.app import run

    return run(args)
