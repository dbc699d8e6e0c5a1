"""The project's own exceptions.

Every failure a user can cause (a bad file, an unknown name, a broken plugin) surfaces as a
:class:`GantransError` whose message is one line naming the file or thing and what to do.
The CLI prints that line and exits 1; anything else is a bug and gets a traceback with --debug.
"""

from __future__ import annotations


class GantransError(Exception):
    """A failure with a one-line, user-facing explanation."""


class ConfigError(GantransError):
    """A bad option, config file or unknown name."""


class UsageError(ConfigError):
    """A command line that cannot be right (a required argument missing): exit 2, as argparse's."""


class PluginError(GantransError):
    """A plugin failed to load or registered something invalid."""


class ImageError(GantransError):
    """An image file cannot be used; the message names the file and the problem."""


class PixelLimitError(ImageError):
    """An image over the pixel limit (a decompression bomb, or a very large scan). The command
    line raises the limit with ``GANTRANS_MAX_PIXELS``, the desktop app in its Settings:
    ``problem`` lets each say so in its own words."""

    def __init__(self, problem: str):
        self.problem = problem
        super().__init__(f"{problem}; raise GANTRANS_MAX_PIXELS to accept it")


class DataError(GantransError):
    """A data set cannot be used for training."""


class CheckpointError(GantransError):
    """A checkpoint or run directory cannot be read."""


class ExportError(GantransError):
    """An export failed (parity, quantization quality, existing file)."""


class ModelError(GantransError):
    """An ONNX model cannot be loaded or run."""


class DiskFullError(GantransError):
    """The disk (or quota) filled up while writing ``path``; nothing half-written was left there."""

    def __init__(self, path: object, note: str = ""):
        self.path = path
        super().__init__(f"no space left on device while writing {path}" + (f"; {note}" if note else ""))


class Cancelled(GantransError):
    """Work was cancelled through a cancellation token."""
