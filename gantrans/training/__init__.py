"""The model-agnostic trainer: devices, precision, data-parallel, optimisers, schedules,
checkpoints, exact resume, logs and sample grids.

It knows no model family: everything model-specific comes from a :class:`gantrans.recipe.Recipe`
found by name in the plugin registries. Importing this package imports torch.
"""

from gantrans.training.config import TrainConfig, load_config_file, parse_option
from gantrans.training.engine import Engine, NonFiniteLoss, StepResult
from gantrans.training.sampler import ResumableBatchSampler
from gantrans.training.trainer import Trainer, TrainingInterrupted, TrainResult, resume, resume_config, train

__all__ = [
    "Engine",
    "NonFiniteLoss",
    "ResumableBatchSampler",
    "StepResult",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingInterrupted",
    "load_config_file",
    "parse_option",
    "resume",
    "resume_config",
    "train",
]
