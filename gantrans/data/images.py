"""Moved to :mod:`gantrans.images` (image I/O sits below training and inference alike).

Kept so existing imports keep working; new code imports :mod:`gantrans.images`.
"""

from gantrans.images import *  # noqa: F403
