"""A tiny recipe and an in-memory data set for the trainer tests.

They are registered in-process as a plugin, which also proves the trainer knows no model
family. ``python tests/trainer_fixtures.py ARGS...`` runs ``gantrans train ARGS`` with them
installed (for the subprocess tests: SIGINT, SIGKILL, torchrun).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gantrans import hookimpl
from gantrans.gan import ImagePool
from gantrans.recipe import DataSpec, ExportHead, OptimizerSpec, Phase, Recipe

PLUGIN_NAME = "trainer-test"


class TinyG(nn.Module):
    def __init__(self, width: int = 4, dropout: float = 0.5):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Conv2d(width, 3, 3, padding=1), nn.Tanh())

    def forward(self, x):
        return self.body(x)


class TinyD(nn.Module):
    def __init__(self, width: int = 4):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(width, 1, 4, padding=1))

    def forward(self, x):
        return self.body(x)


class TinyRecipe(Recipe):
    """Translate A to B with a least-squares GAN and an L1 term; optionally NaN at one G call."""

    name = "tinygan"
    description = "test recipe"
    data_kinds = ("unpaired", "paired")
    defaults = {"width": 4, "pool_size": 2, "nan_at": -1, "d_every": 1, "generator": "tiny_g",
                "discriminator": "tiny_d", "loss": "lsgan", "lr": 2e-3, "d_nan_at": -1,
                "inf_buffer_at": -1}

    def build_networks(self):
        w = self.config["width"]
        self.pool = ImagePool(self.config["pool_size"])
        self.g_calls = 0
        return {"G": self.make_network("G", self.config["generator"], "generator", width=w),
                "D": self.make_network("D", self.config["discriminator"], "discriminator", width=w)}

    def optimizers(self):
        lr = float(self.config["lr"])
        return [OptimizerSpec("G", ["G"], lr=lr), OptimizerSpec("D", ["D"], lr=lr)]

    def phases(self):
        return [Phase("G", "G", self._g_loss), Phase("D", "D", self._d_loss, every=self.config["d_every"])]

    def _g_loss(self, batch, cache):
        G, D = self.nets["G"], self.nets["D"]
        fake = G(batch["A"])
        cache["fake"] = fake
        self.g_calls += 1
        gan = F.mse_loss(D(fake).float(), torch.ones(()).expand_as(D(fake)).float())
        l1 = F.l1_loss(fake.float(), batch["B"].float())
        if self.g_calls == self.config["nan_at"]:
            gan = gan * float("nan")
        return {"G_gan": gan, "G_l1": l1}

    def _d_loss(self, batch, cache):
        D = self.nets["D"]
        fake = self.pool.query(cache["fake"].detach())
        real = D(batch["B"]).float()
        fake_logits = D(fake).float()
        if self.g_calls == self.config["d_nan_at"]:  # after G has stepped in this batch
            fake_logits = fake_logits * float("nan")
        if self.g_calls == self.config["inf_buffer_at"]:  # a running statistic overflows, the loss stays finite
            with torch.no_grad():
                self.nets["G"].body[1].running_var.fill_(float("inf"))
        return {"D_real": F.mse_loss(real, torch.ones_like(real)),
                "D_fake": F.mse_loss(fake_logits, torch.zeros_like(fake_logits))}

    def sample_rows(self, batch):
        return [("real A", batch["A"]), ("fake B", self.nets["G"](batch["A"])), ("real B", batch["B"])]

    def export_heads(self):
        return [ExportHead("G", self.nets["G"], "translate", 3, 3, "tiny_g")]

    def state_dict(self):
        return {"pool": self.pool.state_dict(), "g_calls": self.g_calls}

    def load_state_dict(self, state):
        if state:
            self.pool.load_state_dict(state["pool"])
            self.g_calls = int(state["g_calls"])


class MemoryDataset:
    """``mem:N`` — N random pairs; item i is a pure function of (seed, epoch, i)."""

    def __init__(self, n: int, size: int, seed: int, train: bool, flip: bool):
        self.n, self.size, self.seed, self.train, self.flip = n, size, seed, train, flip
        self.epoch = 0
        self.spec = DataSpec("unpaired", {"A": 3, "B": 3}, size)

    def __len__(self) -> int:
        return self.n

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, i: int) -> dict[str, Any]:
        g = torch.Generator().manual_seed(1000 * self.seed + i)
        a = torch.rand(3, self.size, self.size, generator=g) * 2 - 1
        b = (a.flip(0) * 0.5 + 0.1 * torch.randn(3, self.size, self.size, generator=g)).clamp(-1, 1)
        if self.train and self.flip:
            g2 = torch.Generator().manual_seed(7 * self.seed + 1009 * self.epoch + i)
            if torch.rand((), generator=g2) < 0.5:
                a, b = a.flip(-1), b.flip(-1)
        return {"A": a, "B": b, "A_path": f"mem/{i}_A.png", "B_path": f"mem/{i}_B.png"}


def open_memory(data: str, *, accepted_kinds=(), crop_size: int = 32, seed: int = 0, train: bool = True,
                flip: bool = True, **_: Any) -> MemoryDataset:
    assert data.startswith("mem:"), data
    assert "unpaired" in accepted_kinds
    return MemoryDataset(int(data[4:]), crop_size, seed, train, flip)


class TestPlugin:
    @hookimpl
    def register_networks(self, register):
        register("tiny_g", TinyG, kind="generator")
        register("tiny_d", TinyD, kind="discriminator")

    @hookimpl
    def register_models(self, register):
        register(TinyRecipe)


def install() -> None:
    from gantrans.plugins import get_plugin_manager

    manager = get_plugin_manager()
    if not manager.pm.has_plugin(PLUGIN_NAME):
        manager.register(TestPlugin(), PLUGIN_NAME)


def uninstall() -> None:
    from gantrans.plugins import get_plugin_manager

    manager = get_plugin_manager()
    if manager.pm.has_plugin(PLUGIN_NAME):
        manager.unregister(PLUGIN_NAME)


def base_args(tmp_path, name: str = "run", *extra: str) -> list[str]:
    """``gantrans train`` arguments for a 16-item, 32-px tiny run writing under ``tmp_path``."""
    return ["tinygan", "--data", "mem:16", "--runs-dir", str(tmp_path), "--name", name, "--crop-size", "32",
            "--batch-size", "4", "--workers", "0", "--device", "cpu", "--precision", "fp32", "--log-every", "1",
            "--no-tensorboard", "--samples", "2", *extra]


def train(argv: list[str]) -> int:
    """``gantrans train ARGV`` in this process, reading ``mem:N`` data from memory."""
    from gantrans.cli import train_cmd
    from gantrans.cli.main import build_parser

    return train_cmd.run(build_parser().parse_args(["train", *argv]), open_dataset=open_memory)


def main(argv: list[str]) -> int:
    """Run the train CLI with the fixtures installed (subprocess tests)."""
    torch.set_num_threads(1)
    install()
    from gantrans.cli import train_cmd
    from gantrans.cli.main import build_parser

    dump = os.environ.get("TRAINER_TEST_DUMP")
    if dump:  # each rank saves its initial and final weights (distributed test)
        from gantrans.training import trainer as trainer_mod

        original_setup, original_run = trainer_mod.Trainer._setup, trainer_mod.Trainer._run

        def setup(self):
            original_setup(self)
            torch.save({k: v.state_dict() for k, v in self.engine.nets.items()}, f"{dump}/init{self.dist.rank}.pt")

        def run(self):
            result = original_run(self)
            torch.save({k: v.state_dict() for k, v in self.engine.nets.items()}, f"{dump}/final{self.dist.rank}.pt")
            return result

        trainer_mod.Trainer._setup, trainer_mod.Trainer._run = setup, run
    if "--progress" in argv:  # the whole CLI (JSON stream, error handling), reading mem:N data
        from gantrans.cli.main import main as cli_main

        trainer_mod = sys.modules.get("gantrans.training.trainer") or __import__(
            "gantrans.training.trainer", fromlist=["default_opener"])
        trainer_mod.default_opener = lambda: open_memory
        return cli_main(["train", *argv])
    args = build_parser().parse_args(["train", *argv])
    return train_cmd.run(args, open_dataset=open_memory)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
