"""A rough bound on the memory one model run needs, to tile or refuse before running out.

ONNX Runtime gives no per-shape memory estimate, so the engine uses bytes per input pixel:
the model's own figure when its metadata provenance carries ``bytes_per_pixel`` (``gantrans
export`` records one from the network's widest layer, :func:`gantrans.export.contract.memory_per_pixel`),
else :data:`DEFAULT_BYTES_PER_PIXEL` for a model from elsewhere: a ResNet-9 generator (ngf 64)
on the CPU provider grows the peak resident size by 1.4-1.5 KiB per input pixel at 512-1024 px;
2 KiB leaves a margin for wider networks and allocator slack.
"""

from __future__ import annotations

import os

from gantrans.metadata import ModelContract

DEFAULT_BYTES_PER_PIXEL = 2048
FALLBACK_TOTAL_MEMORY = 8 << 30
MEMORY_FRACTION = 0.5


def total_memory() -> int:
    """Physical memory in bytes (a fixed guess where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return FALLBACK_TOTAL_MEMORY


def default_memory_limit() -> int:
    """Half the physical memory; ``GANTRANS_MAX_INFER_MEMORY`` (bytes, or with G/M) overrides it."""
    env = os.environ.get("GANTRANS_MAX_INFER_MEMORY", "").strip()
    if env:
        return parse_bytes(env)
    return int(total_memory() * MEMORY_FRACTION)


def parse_bytes(text: str) -> int:
    """``"2G"``, ``"512M"``, ``"1048576"`` to bytes."""
    from gantrans.errors import ConfigError

    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise ConfigError(f"memory size must look like 4G, 512M or a number of bytes, not '{text}'") from None
    if value <= 0:
        raise ConfigError(f"memory size must be positive, not '{text}'")
    return int(value)


def bytes_per_pixel(contract: ModelContract) -> int:
    value = contract.provenance.get("bytes_per_pixel") if contract.provenance else None
    try:
        return int(value) if value else DEFAULT_BYTES_PER_PIXEL
    except (TypeError, ValueError):
        return DEFAULT_BYTES_PER_PIXEL


def estimate_bytes(height: int, width: int, batch: int, contract: ModelContract) -> int:
    return int(height) * int(width) * max(1, int(batch)) * bytes_per_pixel(contract)


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
