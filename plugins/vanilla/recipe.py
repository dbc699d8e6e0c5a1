"""Unconditional GAN: Goodfellow et al. (2014)'s algorithm with DCGAN networks (Radford et al. 2016).

Per step the discriminator learns to tell a real batch from fakes of fresh noise; every
``k_steps`` steps the generator then learns to fool it with another fresh noise batch — the
"k steps of the discriminator, one step of the generator" loop of the original paper (k = 1,
as in DCGAN, by default).

Importing this module is torch-free; torch is imported inside the methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gantrans.options import Option, Preset, override
from gantrans.recipe import Batch, DataSpec, ExportHead, OptimizerSpec, Phase
from gantrans.recipe_kit import BASE_OPTIONS, GANRecipe, fixed_noise

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

SAMPLE_COLUMNS = 8
SAMPLE_FAKE_ROWS = 3


class VanillaGAN(GANRecipe):
    name = "vanilla"
    description = "Unconditional DCGAN: noise -> image, k discriminator steps per generator step."
    data_kinds = ("single", "labelled")
    # DCGAN (Radford et al. 2016) trained with mini-batches of 128. Its epochs are a few steps
    # on small data sets, so grids also come every 50 steps.
    training_defaults = {"batch_size": 128, "sample_every_steps": 50, "samples": 8}
    # The discriminator sees randomly shifted images (DiffAugment), so it cannot memorise a few
    # hundred images; colour is left alone (see the cgan recipe).
    options = override(BASE_OPTIONS, generator="dcgan", discriminator="dcgan_discriminator", loss="vanilla",
                       norm="batch", augment_D="translation") + (
        Option("latent_size", int, 100, "length of the noise vector z"),
        Option("k_steps", int, 1, "discriminator steps per generator step"),
    )
    presets = (Preset("paper", {"augment_D": "none"},
                      "the discriminator sees the images as they are; with a few hundred images it "
                      "memorises them and training collapses (docs/small-data.md)"),)

    def __init__(self, config: Mapping[str, Any], data: DataSpec):
        super().__init__(config, data)
        self.int_option("latent_size", minimum=1)
        self.int_option("k_steps", minimum=1)
        self.image_channels = self.channels("image")

    def build_networks(self) -> dict[str, nn.Module]:
        c, size = self.config, self.data.size
        G = self.build("G", "generator", ("latent",), latent_size=c["latent_size"],
                       out_channels=self.image_channels, image_size=size)
        D = self.build("D", "discriminator", ("image",), in_channels=self.image_channels, image_size=size)
        self.check_size("D", size)
        self.probe("D", D, self.image_channels)
        return {"G": G, "D": D}

    def optimizers(self) -> list[OptimizerSpec]:
        return [self.adam("G", ["G"]), self.adam("D", ["D"])]

    def phases(self) -> list[Phase]:
        # D first: on steps where both run, G learns against the freshly updated D.
        return [Phase("D", "D", self.discriminator_loss),
                Phase("G", "G", self.generator_loss, every=self.config["k_steps"])]

    def noise(self, n: int, like: torch.Tensor) -> torch.Tensor:
        import torch

        return torch.randn(n, self.config["latent_size"], device=like.device)

    def discriminator_loss(self, batch: Batch, cache: dict) -> dict[str, torch.Tensor]:
        G, D = self.nets["G"], self.nets["D"]
        real = batch["image"]
        fake = G(self.noise(real.shape[0], real)).detach()
        d_real, d_fake = self.d_adv(D, real, fake)
        terms = {"D_real": d_real, "D_fake": d_fake}
        gp = self.penalty(D, real, fake)
        if gp is not None:
            terms["D_gp"] = gp
        return terms

    def generator_loss(self, batch: Batch, cache: dict) -> dict[str, torch.Tensor]:
        G, D = self.nets["G"], self.nets["D"]
        real = batch["image"]
        fake = G(self.noise(real.shape[0], real))
        return {"G_adv": self.g_adv(D, fake, real)}

    def sample_rows(self, batch: Batch) -> list[tuple[str, torch.Tensor]]:
        real = batch["image"]
        n = min(real.shape[0], SAMPLE_COLUMNS)
        fakes = self.nets["G"](fixed_noise(n * SAMPLE_FAKE_ROWS, self.config["latent_size"], real))
        rows = [("real", real[:n])]
        rows += [(f"fake {i + 1}", fakes[i * n:(i + 1) * n]) for i in range(SAMPLE_FAKE_ROWS)]
        return rows

    def export_heads(self) -> list[ExportHead]:
        """The generator itself: ``latent`` generators take ``z[N, latent_size]``."""
        spec = self.network_specs["G"]
        return [ExportHead(
            name="G", module=self.export_module("G"), task="generate",
            in_channels=self.image_channels, out_channels=self.image_channels, network=spec["name"], key="G",
            fixed_size=self.data.size, size_multiple=int(spec.get("size_multiple", 1) or 1),
            min_size=int(spec.get("min_size", 1) or 1), latent_size=self.config["latent_size"],
            tiling="unsupported",
        )]
