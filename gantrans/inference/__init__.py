"""The torch-free inference engine: ONNX Runtime, NumPy and Pillow only.

Open a model with :func:`load_model` (or let :class:`Translator` / :class:`Generator` do it),
then translate arrays, files or folders, or sample images. Everything long-running takes a
:class:`CancelToken` and a progress callback, so a GUI worker thread can drive it.
"""

from gantrans.inference.files import (
    FileJob,
    check_suffix,
    collect_inputs,
    default_outdir,
    plan_jobs,
    without_own_outputs,
)
from gantrans.inference.generate import Generator, grid_columns, latents, make_grid, slerp
from gantrans.inference.model import Model, Overrides, TensorInfo, int8_path, load_model, parse_value_range
from gantrans.inference.progress import CancelToken, Progress, ProgressCallback
from gantrans.inference.session import (
    SESSIONS,
    SessionConfig,
    available_providers,
    resolve_providers,
)
from gantrans.inference.translate import BatchReport, TranslatedImage, TranslateOptions, Translator

__all__ = [
    "BatchReport", "CancelToken", "FileJob", "Generator", "Model", "Overrides", "Progress",
    "ProgressCallback", "SESSIONS", "SessionConfig", "TensorInfo", "TranslateOptions", "TranslatedImage",
    "Translator", "available_providers", "check_suffix", "collect_inputs", "default_outdir", "int8_path", "latents",
    "grid_columns", "load_model", "make_grid", "parse_value_range", "plan_jobs", "resolve_providers", "slerp",
    "without_own_outputs",
]
