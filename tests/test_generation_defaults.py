"""Issue 16: vanilla and cgan augment what their discriminator sees by default; the paper
preset is the paper, pinned to the losses from before the change."""

from __future__ import annotations

import pytest
import torch
from recipe_loop import run_steps

from gantrans.cli.train_cmd import recipe_help
from gantrans.recipe import DataSpec, get_recipe, preset_options

# Three seeded fp32 steps of each recipe at commit 93fbdbe (before augment_D had a default),
# from the same construction as _three_steps.
BEFORE = {
    "cgan": [{"D_real": 0.09121314436197281, "D_fake": 5.0810322761535645, "G_adv": 1.0995677709579468},
             {"D_real": 0.8412604331970215, "D_fake": 4.377772808074951, "G_adv": 0.1842116266489029},
             {"D_real": 0.21067196130752563, "D_fake": 6.012969970703125, "G_adv": 0.7388438582420349}],
    "vanilla": [{"D_real": 0.5446439981460571, "D_fake": 0.9271135926246643, "G_adv": 0.58310467004776},
                {"D_real": 0.5412529110908508, "D_fake": 1.0851868391036987, "G_adv": 0.6186304688453674},
                {"D_real": 0.5433104634284973, "D_fake": 0.8758605122566223, "G_adv": 0.6462462544441223}],
}


def _three_steps(name: str, options: dict) -> list[dict[str, float]]:
    torch.manual_seed(0)
    labelled = name == "cgan"
    spec = DataSpec("labelled" if labelled else "single", {"image": 3}, 32,
                    class_names=["a", "b", "c"] if labelled else [])
    recipe = get_recipe(name)({"ngf": 8, "ndf": 8, "latent_size": 16, **options}, spec)
    g = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(3):
        batch = {"image": torch.rand(6, 3, 32, 32, generator=g) * 2 - 1}
        if labelled:
            batch["label"] = torch.arange(6) % 3
        batches.append(batch)
    return run_steps(recipe, batches, 3)


@pytest.mark.parametrize("name", ["cgan", "vanilla"])
def test_paper_preset_reproduces_the_losses_from_before_and_the_default_augments(name):
    cls = get_recipe(name)
    assert cls.defaults["augment_D"] == "translation"
    paper = _three_steps(name, preset_options(cls, "paper"))
    assert paper == [pytest.approx(step, rel=1e-5) for step in BEFORE[name]]
    default = _three_steps(name, {})
    assert default[0]["D_real"] != pytest.approx(BEFORE[name][0]["D_real"], rel=1e-3)


def test_help_says_what_the_paper_preset_changes():
    text = "\n".join(recipe_help("cgan"))
    assert "augment_D" in text and "paper: augment_D=none" in text and "memorises" in text
