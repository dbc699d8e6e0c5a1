"""What ``--precision auto`` picks on a CPU with native bf16: bf16 only where it is faster.

bf16 autocast halves the cost of a convolution's arithmetic but adds two copies of every weight
per step (the bf16 cast forward, the fp32 gradient back) and of some activations. Whether it
pays depends on how much arithmetic a step does per weight, not on the recipe's name: measured
with ``gantrans bench train RECIPE --precision bf16 --versus fp32`` on a 2-core Xeon with AMX
(interleaved, 3 rounds of 5 steps, batch 1; issue 18), step FLOPs per parameter against the
bf16 speed-up:

============================  ===============  =========
network, crop                 FLOPs / param    bf16/fp32
============================  ===============  =========
pix2pix unet_32, 32 px        57               0.85x
pix2pix unet_64, 64 px        157              0.83x
pix2pix unet_128, 128 px      475              0.94x
CycleGAN resnet_9blocks, 32   1024             1.11x
pix2pix unet_256, 256 px      1520             1.19x
CycleGAN resnet_9blocks, 64   4126             1.76x
CycleGAN, 128 / 256 px        16573 / 66437    2.56x / 2.94x
============================  ===============  =========

So the choice is made from one step of the run's own recipe, networks and batch size on a
synthetic batch, counted by ``torch.utils.flop_counter`` on throwaway copies on PyTorch's
``meta`` device (shapes only: no time, no memory): the run's networks, recipe state and random
number generators are untouched, and the same settings always give the same answer (a resumed
run picks what it picked before).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from gantrans.recipe import Recipe
from gantrans.training import devices

#: Step FLOPs per trainable parameter from which bf16 autocast beats fp32 on a CPU (the
#: break-even measured between 475 and 1024; set towards fp32, which is never the slow choice
#: by much where the arithmetic per weight is small).
BF16_MIN_FLOPS_PER_PARAM = 800.0


def step_flops_per_param(make_recipe: Callable[[], Recipe], batch: int, seed: int, device: torch.device) -> float:
    """FLOPs of one fp32 training step on a synthetic batch of ``batch`` images, per parameter
    of the networks.

    The step runs on PyTorch's ``meta`` device, which computes shapes and nothing else: no time,
    no memory (a real probe step would raise the run's peak memory to fp32's). A recipe whose
    step cannot run there is counted on ``device`` instead, on at most two images, scaled to the
    batch (a convolution's FLOPs grow with the batch and nothing else is counted)."""
    from gantrans.training.rng import capture_rng, restore_rng

    rng = capture_rng()
    try:
        try:
            flops, params = _meta_step(make_recipe(), batch, seed)
        except Exception:  # noqa: BLE001 - a recipe that needs real numbers: count a real step
            recipe = make_recipe()
            try:
                flops, params = _real_step(recipe, batch, seed, device)
            except (RuntimeError, ValueError, IndexError) as exc:  # the run's first step would fail alike
                from gantrans.errors import GantransError
                from gantrans.training.engine import first_step_error

                if isinstance(exc, GantransError):
                    raise
                raise first_step_error(recipe, exc) from exc
    finally:
        restore_rng(rng)
    return flops / max(1, params)


def _meta_step(recipe: Recipe, batch: int, seed: int) -> tuple[float, int]:
    """Every phase of step 0, as :class:`~gantrans.training.engine.Engine` runs it, on meta tensors."""
    from torch.utils.flop_counter import FlopCounterMode

    from gantrans.training.bench import synthetic_batch
    from gantrans.training.engine import build_networks

    with torch.device("meta"):
        nets = build_networks(recipe, seed)
    recipe.attach(nets)
    data = {k: v.to("meta") if isinstance(v, torch.Tensor) else v
            for k, v in synthetic_batch(recipe.data, batch, seed).items()}
    owners = {spec.name: set(spec.networks) for spec in recipe.optimizers()}
    cache: dict = {}
    with FlopCounterMode(display=False) as counter:
        for phase in recipe.phases():
            for key, net in nets.items():
                net.requires_grad_(key in owners[phase.optimizer])
            terms = phase.loss(data, cache)
            if terms:
                sum(terms.values()).backward()
    return float(counter.get_total_flops()), sum(p.numel() for net in nets.values() for p in net.parameters())


def _real_step(recipe: Recipe, batch: int, seed: int, device: torch.device) -> tuple[float, int]:
    from gantrans.training.bench import count_step_flops, synthetic_batch
    from gantrans.training.engine import Engine, build_networks, move_batch

    engine = Engine(recipe, build_networks(recipe, seed), device, "fp32")
    probe = min(batch, 2)  # two where the run has them: batch norm on 1x1 maps needs two values
    data = move_batch(synthetic_batch(recipe.data, probe, seed), device)
    flops = (count_step_flops(engine, data, 0) or 0) * batch / probe
    return flops, sum(p.numel() for net in engine.nets.values() for p in net.parameters())


def pick_precision(spec: str, device: torch.device, make_recipe: Callable[[], Recipe], batch: int,
                   seed: int = 0) -> tuple[str, str]:
    """``devices.pick_precision``, except that ``auto`` on a bf16 CPU keeps fp32 where the step
    does too little arithmetic per weight for bf16 to pay off. Returns the precision and, when
    that rule decided, why (for the run's first line and ``bench train``)."""
    precision = devices.pick_precision(spec, device)
    if (spec or "auto").lower() != "auto" or device.type != "cpu" or precision != "bf16":
        return precision, ""
    intensity = step_flops_per_param(make_recipe, batch, seed, device)
    if intensity >= BF16_MIN_FLOPS_PER_PARAM:
        return "bf16", f"auto: {intensity:.0f} FLOPs per weight per step, bf16 pays off"
    return "fp32", (f"auto: {intensity:.0f} FLOPs per weight per step, under the "
                    f"{BF16_MIN_FLOPS_PER_PARAM:.0f} where bf16 beats fp32 on a CPU")
