"""A supervised (non-adversarial) paired recipe: the smallest useful recipe."""

from __future__ import annotations

from gantrans.recipe import ExportHead, OptimizerSpec, Phase, Recipe


class L1Recipe(Recipe):
    name = "example-l1"
    description = "paired A->B regression with an L1 loss (example plugin)"
    data_kinds = ("paired",)
    defaults = {"generator": "example_tiny", "ngf": 8, "lr": 1e-3}

    def build_networks(self):
        g = self.make_network("G", self.config["generator"], "generator",
                              in_channels=self.data.channels["A"], out_channels=self.data.channels["B"],
                              ngf=self.config["ngf"])
        return {"G": g}

    def optimizers(self):
        return [OptimizerSpec("G", ["G"], lr=self.config["lr"], betas=(0.9, 0.999))]

    def phases(self):
        return [Phase("G", "G", self._loss)]

    def _loss(self, batch, cache):
        fake = self.nets["G"](batch["A"])
        return {"L1": (fake - batch["B"]).abs().mean()}

    def sample_rows(self, batch):
        return [("input", batch["A"]), ("output", self.nets["G"](batch["A"])), ("target", batch["B"])]

    def export_heads(self):
        return [ExportHead(name="A2B", module=self.nets["G"], task="translate", network="G",
                           in_channels=self.data.channels["A"], out_channels=self.data.channels["B"])]
