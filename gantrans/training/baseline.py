"""The reference implementation's training step, in plain PyTorch: the yardstick for our speed.

``gantrans bench train RECIPE --baseline`` times gantrans's :class:`~gantrans.training.engine.Engine`
against the loop that junyanz/pytorch-CycleGAN-and-pix2pix runs in
``models/cycle_gan_model.py`` and ``models/pix2pix_model.py`` (``optimize_parameters``),
interleaved in one process, so the ratio of the two holds on any machine and under any load.

What is the reference's here, on purpose: fp32 with no autocast, one ``torch.optim.Adam`` per
side over ``itertools.chain`` of the networks' parameters with torch's default implementation,
``requires_grad`` switched off and on around each update (``set_requires_grad``), ``nn.MSELoss``
/ ``nn.BCEWithLogitsLoss`` against a target tensor expanded to the prediction (``GANLoss``),
``nn.L1Loss`` for cycle, identity and L1 terms, the discriminator loss ``(real + fake) * 0.5``
with one backward, and an image pool drawing from Python's ``random`` (``util/image_pool.py``).
The same order of operations as the reference: CycleGAN makes its four images, then the two
identity images, the adversarial and cycle terms, steps G; then D_A and D_B on pooled fakes and
steps D. pix2pix updates D first, then G, on the same fake.

What is ours: the networks, built by the recipe through the network registry from the same
seed, so both loops start from identical weights (the registry's networks are the reference's,
layer for layer). Nothing else of gantrans runs in a step: no Engine, phases, cache, autocast,
fused optimiser or non-finite checks.

Only the recipe options that change the reference's arithmetic are read (loss, lambdas,
learning rate, betas, pool size, direction); losses other than ``lsgan`` and ``vanilla``
have no reference loop and are refused.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from gantrans.errors import ConfigError

#: Recipes with a reference loop.
RECIPES = ("cyclegan", "pix2pix")


class ReferenceGANLoss(nn.Module):
    """The reference's ``GANLoss``: a criterion against a constant target shaped like the prediction."""

    def __init__(self, mode: str, real_label: float = 1.0, fake_label: float = 0.0):
        super().__init__()
        if mode == "lsgan":
            self.loss: nn.Module = nn.MSELoss()
        elif mode == "vanilla":
            self.loss = nn.BCEWithLogitsLoss()
        else:
            raise ConfigError(f"the reference training loop has no '{mode}' loss (only lsgan and vanilla); "
                              f"run 'gantrans bench train' without --baseline")
        self.register_buffer("real_label", torch.tensor(real_label))
        self.register_buffer("fake_label", torch.tensor(fake_label))

    def forward(self, prediction: Tensor, target_is_real: bool) -> Tensor:
        target = self.real_label if target_is_real else self.fake_label
        return self.loss(prediction, target.expand_as(prediction))


class ReferenceImagePool:
    """The reference's image history: stores while filling, then swaps with probability 1/2.

    Randomness from Python's ``random`` module as in the reference; while the pool fills (the
    first ``size`` images) it draws nothing and returns its input, like gantrans's pool.
    """

    def __init__(self, size: int):
        self.size = int(size)
        self.images: list[Tensor] = []

    def query(self, images: Tensor) -> Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images:
            image = image.data.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                index = random.randint(0, self.size - 1)
                out.append(self.images[index].clone())
                self.images[index] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


def set_requires_grad(nets: Iterable[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad = flag


def _adam(nets: Iterable[nn.Module], config: Mapping[str, Any]) -> torch.optim.Adam:
    params = itertools.chain(*(net.parameters() for net in nets))
    return torch.optim.Adam(params, lr=float(config["lr"]), betas=(float(config["beta1"]), float(config["beta2"])))


class ReferenceCycleGAN:
    """``CycleGANModel.optimize_parameters`` of the reference, on networks ``G_A, G_B, D_A, D_B``."""

    def __init__(self, nets: Mapping[str, nn.Module], config: Mapping[str, Any], swap: bool = False):
        self.G_A, self.G_B, self.D_A, self.D_B = (nets[k] for k in ("G_A", "G_B", "D_A", "D_B"))
        self.config = config
        self.keys = ("B", "A") if swap else ("A", "B")
        self.criterionGAN = ReferenceGANLoss(config["loss"], float(config.get("real_label", 1.0)))
        self.criterionCycle = nn.L1Loss()
        self.criterionIdt = nn.L1Loss()
        self.optimizer_G = _adam((self.G_A, self.G_B), config)
        self.optimizer_D = _adam((self.D_A, self.D_B), config)
        self.fake_A_pool = ReferenceImagePool(int(config["pool_size"]))
        self.fake_B_pool = ReferenceImagePool(int(config["pool_size"]))

    def to(self, device: torch.device) -> ReferenceCycleGAN:
        self.criterionGAN.to(device)
        return self

    def step(self, batch: Mapping[str, Any]) -> dict[str, float]:
        """One training step; the loss terms under the reference's names."""
        real_A, real_B = batch[self.keys[0]], batch[self.keys[1]]
        c = self.config
        # forward()
        fake_B = self.G_A(real_A)
        rec_A = self.G_B(fake_B)
        fake_A = self.G_B(real_B)
        rec_B = self.G_A(fake_A)
        # G_A and G_B
        set_requires_grad((self.D_A, self.D_B), False)
        self.optimizer_G.zero_grad()
        lambda_idt, lambda_A, lambda_B = float(c["lambda_identity"]), float(c["lambda_A"]), float(c["lambda_B"])
        terms: dict[str, Tensor] = {}
        if lambda_idt > 0:
            idt_A = self.G_A(real_B)
            terms["idt_A"] = self.criterionIdt(idt_A, real_B) * lambda_B * lambda_idt
            idt_B = self.G_B(real_A)
            terms["idt_B"] = self.criterionIdt(idt_B, real_A) * lambda_A * lambda_idt
        terms["G_A"] = self.criterionGAN(self.D_A(fake_B), True)
        terms["G_B"] = self.criterionGAN(self.D_B(fake_A), True)
        terms["cycle_A"] = self.criterionCycle(rec_A, real_A) * lambda_A
        terms["cycle_B"] = self.criterionCycle(rec_B, real_B) * lambda_B
        loss_G = terms["G_A"] + terms["G_B"] + terms["cycle_A"] + terms["cycle_B"]
        if lambda_idt > 0:
            loss_G = loss_G + terms["idt_A"] + terms["idt_B"]
        loss_G.backward()
        self.optimizer_G.step()
        # D_A and D_B
        set_requires_grad((self.D_A, self.D_B), True)
        self.optimizer_D.zero_grad()
        terms["D_A"] = self._backward_D(self.D_A, real_B, self.fake_B_pool.query(fake_B))
        terms["D_B"] = self._backward_D(self.D_B, real_A, self.fake_A_pool.query(fake_A))
        self.optimizer_D.step()
        return {k: float(v.item()) for k, v in terms.items()}

    def _backward_D(self, net: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        loss_real = self.criterionGAN(net(real), True)
        loss_fake = self.criterionGAN(net(fake.detach()), False)
        loss = (loss_real + loss_fake) * 0.5
        loss.backward()
        return loss.detach()


class ReferencePix2Pix:
    """``Pix2PixModel.optimize_parameters`` of the reference, on networks ``G`` and ``D``.

    ``g_first`` runs gantrans's documented order instead (G's update, then D's on the same
    fake): the equivalence test uses it to compare every loss term step by step; the
    reference's own order (default) is what the benchmark times — the same work either way.
    """

    def __init__(self, nets: Mapping[str, nn.Module], config: Mapping[str, Any], swap: bool = False,
                 g_first: bool = False):
        self.G, self.D = nets["G"], nets["D"]
        self.config = config
        self.keys = ("B", "A") if swap else ("A", "B")
        self.g_first = g_first
        self.criterionGAN = ReferenceGANLoss(config["loss"], float(config.get("real_label", 1.0)))
        self.criterionL1 = nn.L1Loss()
        self.optimizer_G = _adam((self.G,), config)
        self.optimizer_D = _adam((self.D,), config)

    def to(self, device: torch.device) -> ReferencePix2Pix:
        self.criterionGAN.to(device)
        return self

    def step(self, batch: Mapping[str, Any]) -> dict[str, float]:
        real_A, real_B = batch[self.keys[0]], batch[self.keys[1]]
        fake_B = self.G(real_A)  # forward()
        terms: dict[str, Tensor] = {}
        for part in (("G", "D") if self.g_first else ("D", "G")):
            if part == "D":
                set_requires_grad((self.D,), True)
                self.optimizer_D.zero_grad()
                loss_fake = self.criterionGAN(self.D(torch.cat((real_A, fake_B), 1).detach()), False)
                loss_real = self.criterionGAN(self.D(torch.cat((real_A, real_B), 1)), True)
                loss_D = (loss_fake + loss_real) * 0.5
                loss_D.backward()
                self.optimizer_D.step()
                terms["D"] = loss_D.detach()
            else:
                set_requires_grad((self.D,), False)
                self.optimizer_G.zero_grad()
                terms["G_GAN"] = self.criterionGAN(self.D(torch.cat((real_A, fake_B), 1)), True)
                terms["G_L1"] = self.criterionL1(fake_B, real_B) * float(self.config["lambda_L1"])
                (terms["G_GAN"] + terms["G_L1"]).backward()
                self.optimizer_G.step()
        return {k: float(v.item()) for k, v in terms.items()}


def reference_loop(recipe: Any, nets: Mapping[str, nn.Module], device: torch.device,
                   **kwargs: Any) -> ReferenceCycleGAN | ReferencePix2Pix:
    """The reference loop for ``recipe`` (an instance of the cyclegan or pix2pix recipe) on ``nets``.

    ``nets`` are used as given (moved to ``device`` and put in training mode): build them with
    :func:`gantrans.training.engine.build_networks` and the same seed as the run compared with.
    """
    name = getattr(recipe, "name", "?")
    if name not in RECIPES:
        raise ConfigError(f"--baseline: no reference training loop for recipe '{name}' "
                          f"(there is one for {', '.join(RECIPES)})")
    config = recipe.config
    extras = {k: config[k] for k in ("residual", "augment_D") if config.get(k) not in (None, False, "none")}
    if extras:
        settings = ", ".join(f"{k}={v}" for k, v in extras.items())
        raise ConfigError(f"--baseline: the reference's step has no {settings}; compare the paper's settings "
                          f"(--preset paper, which 'bench train --baseline' applies under your -o options)")
    moved = {k: net.to(device).train() for k, net in nets.items()}
    swap = config.get("direction") == "BtoA"
    if name == "cyclegan":
        return ReferenceCycleGAN(moved, config, swap, **kwargs).to(device)
    return ReferencePix2Pix(moved, config, swap, **kwargs).to(device)


def gantrans_terms(recipe_name: str, terms: Mapping[str, float]) -> dict[str, float]:
    """gantrans's logged loss terms under the reference's names (D terms summed as it reports them)."""
    t = dict(terms)
    if recipe_name == "cyclegan":
        out = {k: t[k] for k in ("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B") if k in t}
        out["D_A"] = t["D_A_real"] + t["D_A_fake"]
        out["D_B"] = t["D_B_real"] + t["D_B_fake"]
        return out
    if recipe_name == "pix2pix":
        return {"G_GAN": t["G_adv"], "G_L1": t["G_L1"], "D": t["D_real"] + t["D_fake"]}
    raise ConfigError(f"no reference loop for recipe '{recipe_name}'")
