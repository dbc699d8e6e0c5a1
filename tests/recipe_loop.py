"""A tiny CPU, fp32 training loop implementing the trainer <-> recipe contract, for recipe tests.

It does exactly what :mod:`gantrans.recipe` promises a recipe and nothing more: one Adam per
:class:`OptimizerSpec`, then per step a fresh ``cache`` and each :class:`Phase` whose ``every``
divides the step, with the networks its optimiser does not own frozen, the sum of its terms
back-propagated and its optimiser stepped. The real trainer adds devices, precision, DDP,
checkpoints and logging on top.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from gantrans.recipe import Batch, Recipe


def ensure_built(recipe: Recipe) -> dict[str, torch.nn.Module]:
    """Build and attach the recipe's networks once."""
    if not recipe.nets:
        recipe.attach(recipe.build_networks())
    return recipe.nets


def make_optimizers(recipe: Recipe, lr: float | None = None) -> dict[str, tuple[torch.optim.Optimizer, set[str]]]:
    nets = ensure_built(recipe)
    optimizers = {}
    for spec in recipe.optimizers():
        params = [p for key in spec.networks for p in nets[key].parameters()]
        opt = torch.optim.Adam(params, lr=spec.lr if lr is None else lr, betas=spec.betas,
                               weight_decay=spec.weight_decay)
        optimizers[spec.name] = (opt, set(spec.networks))
    owned = [key for _, keys in optimizers.values() for key in keys]
    assert len(owned) == len(set(owned)), f"a network is owned by two optimisers: {owned}"
    return optimizers


def run_steps(recipe: Recipe, batches: Sequence[Batch] | Callable[[int], Batch], steps: int,
              lr: float | None = None, optimizers: dict | None = None,
              on_phase: Callable[[int, str], None] | None = None) -> list[dict[str, float]]:
    """Train ``steps`` steps; returns the logged terms of every step (name -> float).

    ``batches`` is a list cycled through or a function of the step. ``optimizers`` (from
    :func:`make_optimizers`) lets a test continue training with the same Adam states.
    ``on_phase(step, phase_name)`` is called after each phase's optimiser step.
    """
    nets = ensure_built(recipe)
    optimizers = optimizers if optimizers is not None else make_optimizers(recipe, lr)
    for net in nets.values():
        net.train()
    history: list[dict[str, float]] = []
    try:
        for step in range(steps):
            batch = batches(step) if callable(batches) else batches[step % len(batches)]
            cache: dict[str, Any] = {}
            logged: dict[str, float] = {}
            for phase in recipe.phases():
                if step % phase.every:
                    continue
                opt, owned = optimizers[phase.optimizer]
                for key, net in nets.items():
                    net.requires_grad_(key in owned)
                opt.zero_grad(set_to_none=True)
                terms = phase.loss(batch, cache)
                assert terms, f"phase {phase.name} returned no terms"
                for name, value in terms.items():
                    assert name not in logged, f"loss term '{name}' logged twice in one step"
                    assert value.dim() == 0, f"loss term '{name}' is not a scalar"
                    logged[name] = float(value.detach())
                sum(terms.values()).backward()
                opt.step()
                if on_phase is not None:
                    on_phase(step, phase.name)
            history.append(logged)
    finally:
        for net in nets.values():
            net.requires_grad_(True)
    return history
