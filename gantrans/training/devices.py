"""Device and precision choice: CUDA, then MPS, then CPU; bf16 where the hardware has it.

``auto`` precision picks bf16 autocast on CUDA devices of compute capability 8 or newer and on
CPUs with native bf16 (AVX512-BF16 or AMX), fp16 with a gradient scaler on older CUDA devices,
and fp32 everywhere else. On such a CPU the trainer and ``bench train`` then keep fp32 where a
step does too little arithmetic per weight for bf16 to be faster
(:mod:`gantrans.training.auto_precision`, which needs the recipe; this module needs only the
device).
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from gantrans.console import counted
from gantrans.errors import ConfigError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def pick_device(spec: str = "auto", local_rank: int | None = None) -> torch.device:
    """Resolve ``auto|cpu|cuda[:N]|mps``; under torchrun plain ``cuda`` means ``cuda:LOCAL_RANK``."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            spec = "cuda"
        elif _mps_available():
            spec = "mps"
        else:
            spec = "cpu"
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not _mps_available():
            raise ConfigError("--device mps: MPS is not available on this machine")
        return torch.device("mps")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {spec}: CUDA is not available (torch {torch.__version__}); use --device cpu")
        if spec == "cuda":
            index = local_rank if local_rank is not None else torch.cuda.current_device()
        else:
            try:
                index = int(spec.split(":", 1)[1])
            except ValueError:
                raise ConfigError(f"--device {spec}: expected cuda:N") from None
        if index >= torch.cuda.device_count():
            raise ConfigError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s)")
        return torch.device("cuda", index)
    raise ConfigError(f"--device {spec}: expected auto, cpu, cuda, cuda:N or mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX), where bf16 autocast pays off."""
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except Exception:  # noqa: BLE001 - very old torch
        capability = ""
    if "AMX" in capability.upper():
        return True
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


def pick_precision(spec: str, device: torch.device) -> str:
    """Resolve ``auto|fp32|bf16|fp16`` for ``device``; refuse what the device cannot do."""
    spec = (spec or "auto").lower()
    if spec == "auto":
        if device.type == "cuda":
            major, _ = torch.cuda.get_device_capability(device)
            return "bf16" if major >= 8 else "fp16"
        if device.type == "cpu" and cpu_has_bf16():
            return "bf16"
        return "fp32"
    if spec not in DTYPES:
        raise ConfigError(f"--precision {spec}: expected auto, fp32, bf16 or fp16")
    if spec == "fp16" and device.type != "cuda":
        raise ConfigError(f"--precision fp16 needs a CUDA device (this run uses {device.type}); use bf16 or fp32")
    if spec == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"--precision bf16: {torch.cuda.get_device_name(device)} has no bf16; use fp16")
    return spec


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """Autocast to the run's precision; a no-op context in fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[precision])


def make_grad_scaler(device: torch.device, precision: str) -> Any:
    """A GradScaler for fp16 (bf16 has fp32's range and needs none)."""
    if precision != "fp16":
        return None
    return torch.amp.GradScaler(device.type)


def configure_backends(device: torch.device, deterministic: bool) -> None:
    """cudnn autotuning for fixed sizes, or deterministic algorithms when asked."""
    if deterministic:
        import os

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def describe_device(device: torch.device, verbose: bool = False) -> str:
    """The device in a few words; ``verbose`` adds how the CPU's OpenMP threads wait."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        from gantrans import openmp

        detail = f"; {openmp.describe()}" if verbose else ""
        return f"cpu ({counted(torch.get_num_threads(), 'thread')}, {torch.backends.cpu.get_cpu_capability()}{detail})"
    return str(device)
