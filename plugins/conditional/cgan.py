"""Class-conditional GAN (Mirza & Osindero 2014) with DCGAN networks.

Both players see the class: the generator makes an image of class ``y`` from noise and ``y``,
the discriminator judges (image, ``y``) pairs — by default through a projection
(Miyato & Koyama 2018), optionally by concatenating a label map. Fakes are made for the labels
of the real batch, so the classes are shown in the data's proportions.

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
CONDITIONINGS = ("projection", "concat")


class ConditionalGAN(GANRecipe):
    name = "cgan"
    description = "Class-conditional DCGAN: (noise, class) -> image; the discriminator sees the class too."
    data_kinds = ("labelled",)
    # DCGAN (Radford et al. 2016) trained with mini-batches of 128. Its epochs are a few steps
    # on small data sets, so grids also come every 50 steps.
    training_defaults = {"batch_size": 128, "sample_every_steps": 50, "samples": 8}
    # The discriminator sees randomly shifted images (DiffAugment): on the built-in 240 shapes at
    # batch 128 an unaugmented one memorises the set and training collapses to noise after ~2000
    # steps. Colour is left alone: it may be what tells the classes apart.
    options = override(BASE_OPTIONS, generator="dcgan_conditional", discriminator="dcgan_discriminator_conditional",
                       loss="vanilla", norm="batch", augment_D="translation") + (
        Option("latent_size", int, 100, "length of the noise vector z"),
        Option("conditioning", str, "projection", "how the discriminator sees the class", CONDITIONINGS),
    )

    presets = (Preset("paper", {"augment_D": "none"},
                      "the discriminator sees the images as they are; with a few hundred images it "
                      "memorises them and training collapses (docs/small-data.md)"),)

    def __init__(self, config: Mapping[str, Any], data: DataSpec):
        super().__init__(config, data)
        self.int_option("latent_size", minimum=1)
        self.choice_option("conditioning", CONDITIONINGS)
        self.image_channels = self.channels("image")
        self.num_classes = len(data.class_names)
        if self.num_classes < 2:
            raise self.error(f"needs labelled data with at least 2 class names, got {self.num_classes}")

    def build_networks(self) -> dict[str, nn.Module]:
        c, size = self.config, self.data.size
        G = self.build("G", "generator", ("latent+label",), latent_size=c["latent_size"],
                       out_channels=self.image_channels, image_size=size, num_classes=self.num_classes)
        D = self.build("D", "discriminator", ("image+label",), in_channels=self.image_channels,
                       image_size=size, num_classes=self.num_classes, conditioning=c["conditioning"])
        self.check_size("D", size)
        return {"G": G, "D": D}

    def optimizers(self) -> list[OptimizerSpec]:
        return [self.adam("G", ["G"]), self.adam("D", ["D"])]

    def phases(self) -> list[Phase]:
        return [Phase("D", "D", self.discriminator_loss), Phase("G", "G", self.generator_loss)]

    def noise(self, n: int, like: torch.Tensor) -> torch.Tensor:
        import torch

        return torch.randn(n, self.config["latent_size"], device=like.device)

    def discriminator_loss(self, batch: Batch, cache: dict) -> dict[str, torch.Tensor]:
        G, D = self.nets["G"], self.nets["D"]
        real, labels = batch["image"], batch["label"]
        fake = G(self.noise(real.shape[0], real), labels).detach()
        d_real, d_fake = self.d_adv(D, real, fake, labels)
        terms = {"D_real": d_real, "D_fake": d_fake}
        gp = self.penalty(D, real, fake, labels)
        if gp is not None:
            terms["D_gp"] = gp
        return terms

    def generator_loss(self, batch: Batch, cache: dict) -> dict[str, torch.Tensor]:
        G, D = self.nets["G"], self.nets["D"]
        real, labels = batch["image"], batch["label"]
        fake = G(self.noise(real.shape[0], real), labels)
        return {"G_adv": self.g_adv(D, fake, real, labels)}

    def sample_rows(self, batch: Batch) -> list[tuple[str, torch.Tensor]]:
        """One row per class, the same noise in every row: columns show one z across classes.

        All rows come from one generator call: a batch-norm generator in training mode would
        otherwise normalise away a label shared by the whole batch.
        """
        import torch

        real = batch["image"]
        n = min(real.shape[0], SAMPLE_COLUMNS)
        k = self.num_classes
        z = fixed_noise(n, self.config["latent_size"], real).repeat(k, 1)
        labels = torch.arange(k, device=real.device).repeat_interleave(n)
        images = self.nets["G"](z, labels)
        return [(str(name), images[i * n:(i + 1) * n]) for i, name in enumerate(self.data.class_names)]

    def export_heads(self) -> list[ExportHead]:
        """The generator itself: ``latent+label`` generators take ``(z[N, latent], label[N])``."""
        spec = self.network_specs["G"]
        return [ExportHead(
            name="G", module=self.export_module("G"), task="generate-conditional",
            in_channels=self.image_channels, out_channels=self.image_channels,
            network=spec["name"], key="G", fixed_size=self.data.size,
            size_multiple=int(spec.get("size_multiple", 1) or 1), min_size=int(spec.get("min_size", 1) or 1),
            latent_size=self.config["latent_size"], class_names=[str(c) for c in self.data.class_names],
            tiling="unsupported",
        )]
