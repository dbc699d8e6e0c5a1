"""CycleGAN (Zhu et al. 2017): unpaired translation between two domains with cycle consistency.

Names follow the reference implementation: ``G_A`` maps A to B and ``G_B`` B to A; ``D_A``
judges B-domain images (real B against ``G_A``'s fakes) and ``D_B`` A-domain images. Each
step first updates both generators — adversarial terms, cycle terms ``|G_B(G_A(a)) - a|`` and
``|G_A(G_B(b)) - b|`` weighted by ``lambda_A``/``lambda_B``, and the identity terms that keep
colours when fed an image of the target domain — then both discriminators on fakes drawn from
a history of 50 generated images (Shrivastava et al. 2017), each discriminator loss halved.
Kept from the paper: ResNet 9 blocks, instance norm in the generators, LSGAN loss, Adam beta1 0.5.
Where it departs from the paper (issue 17; ``--preset paper`` restores the paper exactly): the
generators are residual, start as the identity and add their input back through a learnt global
colour map; the discriminators see shifted images and have no normalisation layers (those hide
the global colour statistics a colour grade changes); the learning rate is halved, and the
identity term weighs a fifth of the paper's (it asks G_A to leave a B image alone, which a
colour grade applied twice does not: at 0.5 it held the generators at the identity on 'fade').
Trained on 200 crops of photos with a colour grade to learn (3000 steps, docs/small-data.md),
these defaults beat leaving the photos untouched on every grade, where the paper's settings
ruin them. The paper's settings remain the better choice for a translation that changes every pixel
(label maps to renders, the demo's), which residual generators do not leave the identity for
in a short run.

Importing this module is torch-free; torch is imported inside the methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gantrans.options import Option, Preset, override
from gantrans.recipe import Batch, DataSpec, ExportHead, OptimizerSpec, Phase
from gantrans.recipe_kit import BASE_OPTIONS, DIRECTIONS, RESIDUAL_OPTIONS, GANRecipe, same_channels

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


class CycleGAN(GANRecipe):
    name = "cyclegan"
    description = "Unpaired translation A <-> B: two ResNet generators, two PatchGANs, cycle + identity losses."
    data_kinds = ("unpaired", "paired")
    options = override(BASE_OPTIONS, generator="resnet_9blocks", discriminator="patchgan", loss="lsgan",
                       norm="instance", norm_D="none", dropout=False, lr=1e-4, augment_D="translation") + (
        Option("lambda_A", float, 10.0, "weight of the cycle loss A -> B -> A"),
        Option("lambda_B", float, 10.0, "weight of the cycle loss B -> A -> B"),
        Option("lambda_identity", float, 0.1, "weight of the identity loss, relative to lambda_A/lambda_B "
                                              "(0: none; paper: 0.5)"),
        Option("pool_size", int, 50, "generated images kept in each discriminator's history (0: none)"),
        Option("direction", str, "AtoB", "which data folder is the recipe's domain A", DIRECTIONS),
        *override(RESIDUAL_OPTIONS, residual=True, residual_zero_init=True, residual_colour_map=True),
    )
    presets = (Preset("paper", {"residual": False, "residual_zero_init": False, "residual_colour_map": False,
                                "augment_D": "none", "norm_D": None, "lr": 2e-4, "lambda_identity": 0.5},
                      "the paper's settings: generators that output the image itself, instance-normalised "
                      "discriminators on unshifted images, lr 2e-4, identity weight 0.5. On 200 photo crops with a colour grade "
                      "to learn they score worse than leaving the photos untouched (issue 17); for a "
                      "translation that changes every pixel (label maps -> renders, the demo) they learn "
                      "in a short run where the defaults stay the identity (docs/small-data.md)"),)

    def __init__(self, config: Mapping[str, Any], data: DataSpec):
        super().__init__(config, data)
        for key in ("lambda_A", "lambda_B", "lambda_identity"):
            self.float_option(key, low=0.0)
        self.int_option("pool_size", minimum=0)
        self.swap = self.choice_option("direction", DIRECTIONS) == "BtoA"
        # Recipe-internal domain A/B are the data's B/A when the direction is BtoA.
        self.data_letter = {"A": "B", "B": "A"} if self.swap else {"A": "A", "B": "B"}
        self.channels_A = self.channels(self.data_letter["A"])
        self.channels_B = self.channels(self.data_letter["B"])
        from gantrans.gan.pool import ImagePool

        self.fake_A_pool = ImagePool(self.config["pool_size"])
        self.fake_B_pool = ImagePool(self.config["pool_size"])

    @property
    def identity(self) -> bool:
        """The identity terms feed B to G_A (A -> B): only possible when both domains share channels."""
        return self.config["lambda_identity"] > 0 and self.channels_A == self.channels_B

    def build_networks(self) -> dict[str, nn.Module]:
        size = self.data.size
        nets = {
            "G_A": self.build("G_A", "generator", ("image",), in_channels=self.channels_A,
                              out_channels=self.channels_B),
            "G_B": self.build("G_B", "generator", ("image",), in_channels=self.channels_B,
                              out_channels=self.channels_A),
            "D_A": self.build("D_A", "discriminator", ("image",), in_channels=self.channels_B),
            "D_B": self.build("D_B", "discriminator", ("image",), in_channels=self.channels_A),
        }
        for key in nets:
            self.check_size(key, size)
        nets["G_A"] = self.residual_generator("G_A", nets["G_A"], self.channels_A, self.channels_B)
        nets["G_B"] = self.residual_generator("G_B", nets["G_B"], self.channels_B, self.channels_A)
        self.probe("D_A", nets["D_A"], self.channels_B)
        self.probe("D_B", nets["D_B"], self.channels_A)
        return nets

    def optimizers(self) -> list[OptimizerSpec]:
        return [self.adam("G", ["G_A", "G_B"]), self.adam("D", ["D_A", "D_B"])]

    def phases(self) -> list[Phase]:
        return [Phase("G", "G", self.generator_loss), Phase("D", "D", self.discriminator_loss)]

    def domains(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        return batch[self.data_letter["A"]], batch[self.data_letter["B"]]

    def generator_loss(self, batch: Batch, cache: dict) -> dict[str, torch.Tensor]:
        import torch
        import torch.nn.functional as F

        G_A, G_B, D_A, D_B = (self.nets[k] for k in ("G_A", "G_B", "D_A", "D_B"))
        c = self.config
        real_A, real_B = self.domains(batch)
        # The identity images come from the same generator calls as the fakes, and G_B's call
        # also rebuilds A from G_A's fakes: where the generators treat each image on its own,
        # three calls make all six images (the same numbers, less time than six or four).
        together = self.identity and self.batchable(G_A, G_B)
        if together:
            n_A, n_B = len(real_A), len(real_B)
            fake_B, idt_A = G_A(torch.cat((real_A, real_B))).split((n_A, n_B))
            fake_A, idt_B, rec_A = G_B(torch.cat((real_B, real_A, fake_B))).split((n_B, n_A, n_A))
            rec_B = G_A(fake_A)
        else:
            fake_B = G_A(real_A)
            rec_A = G_B(fake_B)
            fake_A = G_B(real_B)
            rec_B = G_A(fake_A)
        cache["fake_A"], cache["fake_B"] = fake_A.detach(), fake_B.detach()
        terms = {
            "G_A": self.g_adv(D_A, fake_B, real_B),
            "G_B": self.g_adv(D_B, fake_A, real_A),
            "cycle_A": F.l1_loss(rec_A.float(), real_A.float()) * c["lambda_A"],
            "cycle_B": F.l1_loss(rec_B.float(), real_B.float()) * c["lambda_B"],
        }
        if self.identity:
            lam = c["lambda_identity"]
            if not together:
                idt_A, idt_B = G_A(real_B), G_B(real_A)
            terms["idt_A"] = F.l1_loss(idt_A.float(), real_B.float()) * c["lambda_B"] * lam
            terms["idt_B"] = F.l1_loss(idt_B.float(), real_A.float()) * c["lambda_A"] * lam
        return terms

    def discriminator_loss(self, batch: Batch, cache: dict) -> dict[str, torch.Tensor]:
        import torch

        real_A, real_B = self.domains(batch)
        if "fake_A" not in cache or "fake_B" not in cache:
            with torch.no_grad():
                cache["fake_B"], cache["fake_A"] = self.nets["G_A"](real_A), self.nets["G_B"](real_B)
        fake_B = self.fake_B_pool.query(cache["fake_B"])
        fake_A = self.fake_A_pool.query(cache["fake_A"])
        terms: dict[str, torch.Tensor] = {}
        for name, D, real, fake in (("D_A", self.nets["D_A"], real_B, fake_B),
                                    ("D_B", self.nets["D_B"], real_A, fake_A)):
            d_real, d_fake = self.d_adv(D, real, fake)
            terms[f"{name}_real"], terms[f"{name}_fake"] = 0.5 * d_real, 0.5 * d_fake
            gp = self.penalty(D, real, fake)
            if gp is not None:
                terms[f"{name}_gp"] = gp
        return terms

    def sample_rows(self, batch: Batch) -> list[tuple[str, torch.Tensor]]:
        G_A, G_B = self.nets["G_A"], self.nets["G_B"]
        real_A, real_B = self.domains(batch)
        fake_B, fake_A = G_A(real_A), G_B(real_B)
        A, B = self.data.domains[0], self.data.domains[1]
        dA, dB = (B, A) if self.swap else (A, B)
        return same_channels([
            (f"real {dA}", real_A), (f"fake {dB}", fake_B), (f"rec {dA}", G_B(fake_B)),
            (f"real {dB}", real_B), (f"fake {dA}", fake_A), (f"rec {dB}", G_A(fake_A)),
        ])

    def export_heads(self) -> list[ExportHead]:
        domain_name = dict(zip(("A", "B"), self.data.domains))
        heads = []
        for key, src, dst, cin, cout in (("G_A", "A", "B", self.channels_A, self.channels_B),
                                         ("G_B", "B", "A", self.channels_B, self.channels_A)):
            spec = self.network_specs[key]
            src, dst = self.data_letter[src], self.data_letter[dst]
            heads.append(ExportHead(
                name=f"{src}2{dst}", module=self.export_module(key), task="translate",
                in_channels=cin, out_channels=cout, network=spec["name"], key=key,
                source_domain=domain_name[src], target_domain=domain_name[dst],
                size_multiple=int(spec.get("size_multiple", 1) or 1), min_size=int(spec.get("min_size", 1) or 1),
                tiling=self.tiling(),
            ))
        return sorted(heads, key=lambda h: h.name)

    def state_dict(self) -> dict[str, Any]:
        return {"fake_A_pool": self.fake_A_pool.state_dict(), "fake_B_pool": self.fake_B_pool.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for key, pool in (("fake_A_pool", self.fake_A_pool), ("fake_B_pool", self.fake_B_pool)):
            if key in state:
                pool.load_state_dict(state[key])
