"""Moved to :mod:`gantrans.checkpoint`: the checkpoint format sits below training and export,
which both use it. Kept so existing imports keep working."""

from gantrans.checkpoint import (  # noqa: F401
    CHECKPOINT_DIR,
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    LATEST,
    atomic_save,
    epoch_filename,
    load_checkpoint,
    load_for_resume,
    recipe_from_checkpoint,
    require_plugins,
    resolve_checkpoint,
    unreadable_reason,
)
