"""The image history buffer of Shrivastava et al. (2017), as the reference CycleGAN uses it.

Showing the discriminator a mix of current and earlier fakes damps oscillation. Randomness
comes from torch's global RNG so a checkpoint that stores the RNG state resumes identically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = ["ImagePool"]


class ImagePool:
    """A buffer of up to ``size`` generated images; ``size=0`` disables it.

    :meth:`query` takes a batch and returns a batch of the same shape: per image, while the
    pool is filling the image is stored and returned; once full, with probability 0.5 a random
    stored image is returned (a copy) and replaced by the new one, otherwise the new image is
    returned. Images are stored detached.
    """

    def __init__(self, size: int):
        if size < 0:
            raise ValueError(f"ImagePool size must be >= 0, got {size}")
        self.size = int(size)
        self.images: list[Tensor] = []

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: Tensor) -> Tensor:
        if self.size == 0:
            return images
        out: list[Tensor] = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(()).item() > 0.5:
                index = int(torch.randint(0, self.size, ()).item())
                old = self.images[index].to(device=image.device, dtype=image.dtype).clone()
                self.images[index] = image.clone()
                out.append(old)
            else:
                out.append(image)
        return torch.cat(out, 0)

    __call__ = query

    def state_dict(self) -> dict[str, Any]:
        """The stored images as CPU tensors, ready for ``torch.save``."""
        return {"size": self.size, "images": [img.detach().cpu().clone() for img in self.images]}

    def load_state_dict(self, state: Mapping[str, Any] | Sequence[Tensor]) -> None:
        """Restore :meth:`state_dict` output (a plain list of image tensors is accepted too)."""
        images = list(state["images"] if isinstance(state, Mapping) else state)
        if len(images) > self.size:
            raise ValueError(f"ImagePool of size {self.size} cannot hold {len(images)} stored images")
        self.images = [(img.unsqueeze(0) if img.dim() == 3 else img).detach().clone() for img in images]
