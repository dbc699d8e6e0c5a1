"""Data-parallel training across processes started by ``torchrun``, without DistributedDataParallel.

Why not DDP: a GAN step runs several phases, and each calls the discriminator more than once
per backward (on real and on fake images) while the networks of other phases are frozen
(``requires_grad=False``). DDP's reducer expects one forward per backward with a fixed set of
parameters receiving gradients; it needs ``find_unused_parameters`` and static-graph
workarounds and still mis-handles a module used twice. Instead, rank 0's parameters and
buffers are broadcast once at start (and buffers each step, like DDP's ``broadcast_buffers``),
and after each phase's backward the gradients of that phase's optimizer are averaged with a
bucketed ``all_reduce`` (flattened per dtype). Every rank then takes the same optimiser step
from the same gradients, so weights stay bitwise identical without any wrapper.

Every rank must compute the same set of gradients (the same code path), which a recipe does
by construction; non-finite checks and stop requests are agreed across ranks by all-reduce.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

BUCKET_BYTES = 25 * 1024 * 1024
_PEER_LOSS_SIGNS = ("Connection reset by peer", "Connection closed by peer", "Broken pipe", "ProcessGroupGloo",
                    "ProcessGroupNCCL", "NCCL error", "gloo/transport")


def is_peer_loss(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective failing because another process of the job went away
    (killed, out of memory, its own error): the survivors' view of it, not a problem of theirs."""
    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    return isinstance(exc, RuntimeError) and any(sign in str(exc) for sign in _PEER_LOSS_SIGNS)


@dataclass
class DistContext:
    """This process's place in the job; ``world_size == 1`` means no process group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int | None = None  # processes on this machine (torchrun's LOCAL_WORLD_SIZE)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_context() -> DistContext:
    """Read torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); a plain run is rank 0 of 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    return DistContext(rank=int(os.environ.get("RANK", "0")), world_size=world,
                       local_rank=int(os.environ.get("LOCAL_RANK", "0")),
                       local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", str(world))))


def init_process_group(ctx: DistContext, device: torch.device) -> None:
    """NCCL for CUDA, gloo otherwise; a no-op for single-process runs or an existing group."""
    if not ctx.enabled or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, rank=ctx.rank, world_size=ctx.world_size)


def destroy_process_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _coalesced(tensors: list[torch.Tensor], op) -> None:
    """Apply ``op(flat)`` to ``tensors`` in flat buckets per (dtype, device), copying results back."""
    groups: dict[tuple, list[torch.Tensor]] = {}
    for t in tensors:
        groups.setdefault((t.dtype, t.device), []).append(t)
    for group in groups.values():
        bucket: list[torch.Tensor] = []
        size = 0
        for t in group + [None]:  # type: ignore[list-item]
            if t is not None and (not bucket or size + t.numel() * t.element_size() <= BUCKET_BYTES):
                bucket.append(t)
                size += t.numel() * t.element_size()
                continue
            if bucket:
                flat = torch.cat([b.reshape(-1) for b in bucket])
                op(flat)
                offset = 0
                for b in bucket:
                    n = b.numel()
                    b.copy_(flat[offset:offset + n].view_as(b))
                    offset += n
            bucket, size = ([t], t.numel() * t.element_size()) if t is not None else ([], 0)


def broadcast_modules(modules: Iterable[nn.Module], *, buffers_only: bool = False, src: int = 0) -> None:
    """Give every rank rank ``src``'s parameters and buffers."""
    tensors: list[torch.Tensor] = []
    for m in modules:
        if not buffers_only:
            tensors += [p.data for p in m.parameters()]
        tensors += [b for b in m.buffers()]
    if tensors:
        with torch.no_grad():
            _coalesced(tensors, lambda flat: dist.broadcast(flat, src))


def average_gradients(params: Iterable[nn.Parameter], world_size: int) -> None:
    """All-reduce and average the gradients of ``params`` (those that have one) in flat buckets."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return

    def reduce(flat: torch.Tensor) -> None:
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat.div_(world_size)

    with torch.no_grad():
        _coalesced(grads, reduce)


def any_rank(flag: bool, device: torch.device, ctx: DistContext) -> bool:
    """True when ``flag`` is true on any rank (stop requests, non-finite losses)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def barrier(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.barrier()
