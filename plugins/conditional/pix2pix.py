"""pix2pix (Isola et al. 2017): paired image-to-image translation with a conditional PatchGAN.

The generator maps A to B; the discriminator judges (A, B) pairs concatenated on channels,
patch by patch, and the generator is also pulled towards the target by an L1 term (weight 100)
that takes care of low frequencies. Networks and losses follow the reference implementation:
U-Net (``unet``: 8 down-samplings at the paper's 256 px, as the reference's ``unet_256``, and as
many as a smaller crop allows), batch norm, dropout, vanilla (BCE) loss, discriminator loss halved. Two defaults
differ from the paper because users train on a few hundred images, where the paper's settings
make photos worse than leaving them untouched (issue 17, docs/small-data.md): the generator's
output is residual (``residual``: it learns the edit, copying is free) and the discriminator sees
randomly shifted images (``augment_D=translation``: it cannot memorise the set).
``--preset paper`` restores the paper exactly.

Order of the phases: the reference updates D and then G on the same fake. Here G goes first
(its fake, detached, is reused by the D phase through the step cache) so the generator runs
forward once per step; the only difference is that G's adversarial term sees D as it was
before this step's D update rather than after.

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


class Pix2Pix(GANRecipe):
    name = "pix2pix"
    description = "Paired translation A -> B: U-Net generator, conditional PatchGAN, L1 to the target."
    data_kinds = ("paired",)
    options = override(BASE_OPTIONS + (
        Option("lambda_L1", float, 100.0, "weight of the L1 distance to the target"),
        Option("direction", str, "AtoB", "AtoB: translate the A folder into B; BtoA: the reverse", DIRECTIONS),
        *RESIDUAL_OPTIONS,
    ), generator="unet", discriminator="patchgan", loss="vanilla", norm="batch", dropout=True,
        residual=True, augment_D="translation")
    presets = (Preset("paper", {"residual": False, "augment_D": "none"},
                      "the paper's settings: a generator that outputs the image itself and a discriminator "
                      "shown the images as they are; on 200 photo crops (64 px, 3000 steps) they score worse "
                      "than leaving the photos untouched (teal-orange: 28.9 dB against 31.5), the defaults "
                      "42.6 dB (issue 17, docs/small-data.md)"),)

    def __init__(self, config: Mapping[str, Any], data: DataSpec):
        super().__init__(config, data)
        self.float_option("lambda_L1", low=0.0)
        self.swap = self.choice_option("direction", DIRECTIONS) == "BtoA"
        self.source, self.target = ("B", "A") if self.swap else ("A", "B")
        self.in_channels = self.channels(self.source)
        self.out_channels = self.channels(self.target)

    def build_networks(self) -> dict[str, nn.Module]:
        G = self.build("G", "generator", ("image",), in_channels=self.in_channels,
                       out_channels=self.out_channels)
        self.check_size("G", self.data.size)
        G = self.residual_generator("G", G, self.in_channels, self.out_channels)
        D = self.build("D", "discriminator", ("image",), in_channels=self.in_channels + self.out_channels)
        self.check_size("D", self.data.size)
        self.probe("D", D, self.in_channels + self.out_channels)
        return {"G": G, "D": D}

    def optimizers(self) -> list[OptimizerSpec]:
        return [self.adam("G", ["G"]), self.adam("D", ["D"])]

    def phases(self) -> list[Phase]:
        return [Phase("G", "G", self.generator_loss), Phase("D", "D", self.discriminator_loss)]

    def pair(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(input, target) of the configured direction."""
        return batch[self.source], batch[self.target]

    def generator_loss(self, batch: Batch, cache: dict) -> dict[str, torch.Tensor]:
        import torch
        import torch.nn.functional as F

        real_A, real_B = self.pair(batch)
        fake_B = self.nets["G"](real_A)
        cache["fake_B"] = fake_B.detach()
        g_adv = self.g_adv(self.nets["D"], torch.cat((real_A, fake_B), 1), torch.cat((real_A, real_B), 1))
        return {"G_adv": g_adv,
                "G_L1": F.l1_loss(fake_B.float(), real_B.float()) * self.config["lambda_L1"]}

    def discriminator_loss(self, batch: Batch, cache: dict) -> dict[str, torch.Tensor]:
        import torch

        D = self.nets["D"]
        real_A, real_B = self.pair(batch)
        fake_B = cache.get("fake_B")
        if fake_B is None:
            with torch.no_grad():
                fake_B = self.nets["G"](real_A)
        fake_AB = torch.cat((real_A, fake_B.detach()), 1)
        real_AB = torch.cat((real_A, real_B), 1)
        d_real, d_fake = self.d_adv(D, real_AB, fake_AB)
        terms = {"D_real": 0.5 * d_real, "D_fake": 0.5 * d_fake}
        gp = self.penalty(D, real_AB, fake_AB)
        if gp is not None:
            terms["D_gp"] = gp
        return terms

    def sample_rows(self, batch: Batch) -> list[tuple[str, torch.Tensor]]:
        real_A, real_B = self.pair(batch)
        return same_channels([("input", real_A), ("output", self.nets["G"](real_A)), ("target", real_B)])

    def export_heads(self) -> list[ExportHead]:
        spec = self.network_specs["G"]
        domains = dict(zip(("A", "B"), self.data.domains))
        return [ExportHead(
            name=f"{self.source}2{self.target}", module=self.export_module("G"), task="translate",
            in_channels=self.in_channels, out_channels=self.out_channels, network=spec["name"], key="G",
            source_domain=domains[self.source], target_domain=domains[self.target],
            size_multiple=int(spec.get("size_multiple", 1) or 1), min_size=int(spec.get("min_size", 1) or 1),
            tiling=self.tiling(),
        )]
