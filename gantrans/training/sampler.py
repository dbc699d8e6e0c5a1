"""A resumable, sharded batch sampler.

Like ``DistributedSampler`` + ``BatchSampler``, but the permutation is a pure function of
(seed, epoch) and an epoch can start at any batch, so a run resumed mid-epoch sees exactly
the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch


class ResumableBatchSampler:
    """Batches of indices for one rank: permute, pad to a multiple of ``world_size``, shard."""

    def __init__(self, size: int, batch_size: int, *, seed: int = 0, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True, drop_last: bool = False):
        if size < 1:
            raise ValueError("cannot sample from an empty data set")
        self.size = size
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch's permutation and skip its first ``start`` batches (already consumed)."""
        self.epoch = epoch
        self.start = start

    def _shard(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed((self.seed * 1_000_003 + self.epoch) % (2**63))
            order = torch.randperm(self.size, generator=g).tolist()
        else:
            order = list(range(self.size))
        total = math.ceil(self.size / self.world_size) * self.world_size
        while len(order) < total:  # pad by repeating, like DistributedSampler
            order += order[: total - len(order)]
        return order[self.rank::self.world_size]

    def __len__(self) -> int:
        per_rank = math.ceil(self.size / self.world_size)
        if self.drop_last:
            return per_rank // self.batch_size
        return math.ceil(per_rank / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        shard = self._shard()
        for b in range(self.start, len(self)):
            yield shard[b * self.batch_size:(b + 1) * self.batch_size]
