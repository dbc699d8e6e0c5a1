"""Entry point of the ``gantrans-gui`` script (the window arrives with the GUI issue)."""

from __future__ import annotations

import sys


def main() -> int:
    print("gantrans-gui: the desktop application is not built yet; use the gantrans CLI.", file=sys.stderr)
    return 1
