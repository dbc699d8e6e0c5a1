"""The optional parts of an installation (``pip install 'gantrans[train]'`` ...) and which are
missing, found without importing them: a translate-only install (no torch) is told what to add
before it starts work, by the command line and by the desktop app alike."""

from __future__ import annotations

import importlib.util

# Optional dependencies and the extra that brings each (a plain install translates with
# onnxruntime alone; training and export need the `train` extra).
EXTRAS_BY_MODULE = {"torch": "train", "torchvision": "train", "onnx": "train", "onnxscript": "train",
                    "PySide6": "gui", "superqt": "gui", "qtawesome": "gui", "pyqtgraph": "gui",
                    "tensorboard": "logs"}


def missing_extra(exc: ImportError) -> str | None:
    """The extra to install for a missing optional dependency, None for anything else."""
    name = (getattr(exc, "name", None) or "").split(".")[0]
    return EXTRAS_BY_MODULE.get(name)


def missing_extras() -> list[str]:
    """The extras some of whose modules this installation cannot import (found without importing
    them), e.g. ``["train"]`` in a translate-only install: the GUI asks before offering training."""
    return sorted({owner for module, owner in EXTRAS_BY_MODULE.items() if importlib.util.find_spec(module) is None})


def require_extra(extra: str) -> None:
    """Raise the ImportError :func:`gantrans.cli.main.main` turns into "needs X: pip install 'gantrans[extra]'" when
    a module of ``extra`` is missing — for commands that would otherwise write files or start
    child processes before their first import of it fails."""
    for module, owner in EXTRAS_BY_MODULE.items():
        if owner == extra and importlib.util.find_spec(module) is None:
            raise ImportError(f"No module named '{module}'", name=module)
