"""Built-in plugin 'vanilla': the unconditional DCGAN recipe.

Registration imports the recipe class only; torch is imported when a recipe is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gantrans import hookimpl


@hookimpl
def register_models(register: Callable[..., Any]) -> None:
    from gantrans_plugins.vanilla.recipe import VanillaGAN

    register(VanillaGAN)
