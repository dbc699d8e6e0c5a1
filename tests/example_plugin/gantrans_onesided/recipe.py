"""One-sided unpaired translation A -> B: one generator, one discriminator, an identity term, no cycle."""

from gantrans.options import Option, override
from gantrans.recipe import ExportHead, Phase
from gantrans.recipe_kit import BASE_OPTIONS, GANRecipe, same_channels


class OneSided(GANRecipe):
    name = "onesided"
    description = "Unpaired A -> B with one generator: adversarial + identity loss, no cycle."
    data_kinds = ("unpaired", "paired")
    options = override(BASE_OPTIONS, generator="resize_resnet", discriminator="patchgan", loss="rasgan",
                       norm="instance") + (
        Option("lambda_identity", float, 5.0, "weight of |G(b) - b|, which keeps colours and layout"),
        Option("pool_size", int, 50, "earlier fakes the discriminator also sees (0: none)"),
    )

    def __init__(self, config, data):
        super().__init__(config, data)
        from gantrans.gan import ImagePool  # torch is imported when a run starts, not when listing plugins

        self.pool = ImagePool(self.int_option("pool_size", minimum=0))

    def build_networks(self):
        a, b = self.channels("A"), self.channels("B")
        G = self.build("G", "generator", ("image",), in_channels=a, out_channels=b)
        D = self.build("D", "discriminator", ("image",), in_channels=b)
        self.check_size("G", self.data.size)
        self.probe("D", D, b)
        return {"G": G, "D": D}

    def optimizers(self):
        return [self.adam("G", ["G"]), self.adam("D", ["D"])]

    def phases(self):
        return [Phase("G", "G", self.generator_step), Phase("D", "D", self.discriminator_step)]

    def generator_step(self, batch, cache):
        G, D, real_A, real_B = self.nets["G"], self.nets["D"], batch["A"], batch["B"]
        fake_B = G(real_A)
        cache["fake_B"] = fake_B.detach()
        terms = {"G_adv": self.g_adv(D, fake_B, real_B)}
        if self.config["lambda_identity"] > 0 and real_A.shape[1] == real_B.shape[1]:
            terms["G_idt"] = (G(real_B) - real_B).abs().float().mean() * self.config["lambda_identity"]
        return terms

    def discriminator_step(self, batch, cache):
        D, real_B = self.nets["D"], batch["B"]
        fake_B = self.pool.query(cache["fake_B"])
        d_real, d_fake = self.d_adv(D, real_B, fake_B)
        terms = {"D_real": d_real, "D_fake": d_fake}
        gp = self.penalty(D, real_B, fake_B)
        if gp is not None:
            terms["D_gp"] = gp
        return terms

    def sample_rows(self, batch):
        fake_B = self.nets["G"](batch["A"])
        return same_channels([("real A", batch["A"]), ("fake B", fake_B), ("real B", batch["B"])])

    def export_heads(self):
        return [ExportHead("A2B", key="G", tiling=self.tiling())]

    def state_dict(self):
        return {"pool": self.pool.state_dict()}

    def load_state_dict(self, state):
        if "pool" in state:
            self.pool.load_state_dict(state["pool"])
