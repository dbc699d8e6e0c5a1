"""Built-in plugin 'conditional': the ``cgan`` (class-conditional) and ``pix2pix`` recipes.

Registration imports the recipe classes only; torch is imported when a recipe is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gantrans import hookimpl


@hookimpl
def register_models(register: Callable[..., Any]) -> None:
    from gantrans_plugins.conditional.cgan import ConditionalGAN
    from gantrans_plugins.conditional.pix2pix import Pix2Pix

    register(ConditionalGAN)
    register(Pix2Pix)
