"""Issue 17: small sets of real photos. The paper preset is pinned; the defaults beat doing nothing."""

from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from recipe_loop import run_steps  # noqa: E402

from gantrans.cli.train_cmd import recipe_help  # noqa: E402
from gantrans.data.builtin import get_builtin  # noqa: E402
from gantrans.evaluation import l1, psnr  # noqa: E402
from gantrans.recipe import DataSpec, get_recipe, preset_options  # noqa: E402

SMALL = {"generator": "resnet_6blocks", "ngf": 8, "ndf": 8}

# Losses of three seeded fp32 steps at commit 02d21b0 (before residual outputs and presets), from
# the same construction as _three_steps: the paper preset must reproduce them exactly.
BEFORE = {
    "pix2pix": [
        {"G_adv": 0.7462425827980042, "G_L1": 53.14631652832031, "D_real": 0.3583696186542511,
         "D_fake": 0.32933497428894043},
        {"G_adv": 0.8171468377113342, "G_L1": 52.91462707519531, "D_real": 0.3765038549900055,
         "D_fake": 0.2977103292942047},
        {"G_adv": 0.6952974796295166, "G_L1": 51.26470184326172, "D_real": 0.32869279384613037,
         "D_fake": 0.36201468110084534},
    ],
    "cyclegan": [
        {"G_A": 1.238602638244629, "G_B": 1.1061252355575562, "cycle_A": 5.371816635131836,
         "cycle_B": 5.397212982177734, "idt_A": 2.6947274208068848, "idt_B": 2.7179691791534424,
         "D_A_real": 0.8298153877258301, "D_A_fake": 0.022921761497855186, "D_B_real": 0.33112525939941406,
         "D_B_fake": 0.032421451061964035},
        {"G_A": 0.9632418155670166, "G_B": 1.0965394973754883, "cycle_A": 5.423121929168701,
         "cycle_B": 5.306338787078857, "idt_A": 2.682551383972168, "idt_B": 2.755586624145508,
         "D_A_real": 0.6032919883728027, "D_A_fake": 0.0638623833656311, "D_B_real": 0.630125880241394,
         "D_B_fake": 0.07173451781272888},
        {"G_A": 0.8661762475967407, "G_B": 0.7823402285575867, "cycle_A": 5.400151252746582,
         "cycle_B": 5.26876974105835, "idt_A": 2.629251480102539, "idt_B": 2.691135883331299,
         "D_A_real": 0.5889667868614197, "D_A_fake": 0.022657882422208786, "D_B_real": 0.4194522798061371,
         "D_B_fake": 0.09188253432512283},
    ],
}


def _three_steps(name: str, options: dict) -> list[dict[str, float]]:
    kind = "paired" if name == "pix2pix" else "unpaired"
    torch.manual_seed(0)
    recipe = get_recipe(name)({**SMALL, **options}, DataSpec(kind=kind, channels={"A": 3, "B": 3}, size=32))
    g = torch.Generator().manual_seed(1)
    batches = [{"A": torch.rand(1, 3, 32, 32, generator=g) * 2 - 1,
                "B": torch.rand(1, 3, 32, 32, generator=g) * 2 - 1} for _ in range(3)]
    return run_steps(recipe, batches, 3)


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan"])
def test_paper_preset_reproduces_the_losses_from_before(name):
    got = _three_steps(name, preset_options(get_recipe(name), "paper"))
    assert got == [pytest.approx(step, rel=1e-4) for step in BEFORE[name]]
    # Where the defaults differ from the paper they are a different model (the pin is not vacuous).
    cls = get_recipe(name)
    paper_defaults = all(cls.defaults[k] == v for k, v in preset_options(cls, "paper").items())
    same = _three_steps(name, {})[1] == pytest.approx(BEFORE[name][1], rel=1e-4)
    assert same == paper_defaults


def test_help_says_what_the_paper_preset_changes_and_why():
    text = "\n".join(recipe_help("pix2pix"))
    assert "paper: residual=False, augment_D=none" in text and "issue 17" in text
    assert re.search(r"residual +bool +default True", text) and "default 'translation'" in text


def test_unknown_preset_is_a_clear_error():
    from gantrans.errors import ConfigError

    with pytest.raises(ConfigError, match="no preset 'fast'.*presets: paper"):
        preset_options(get_recipe("pix2pix"), "fast")


def _tensor(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


@pytest.fixture(scope="module")
def warm_crops(tmp_path_factory) -> dict[str, torch.Tensor]:
    """photos-warm: 8 training crops of each domain and 12 held-out pairs."""
    from PIL import Image

    root = get_builtin("photos-warm").make(tmp_path_factory.mktemp("warm") / "warm", "paired")

    def load(split: str, letter: str, n: int) -> torch.Tensor:
        files = sorted((root / letter / split).glob("*.png"))[:n]
        return _tensor([np.asarray(Image.open(f).convert("RGB")) for f in files])

    return {"A": load("train", "A", 8), "B": load("train", "B", 8),
            "test_A": load("test", "A", 12), "test_B": load("test", "B", 12)}


def _proxy_score(name: str, options: dict, crops: dict[str, torch.Tensor]) -> tuple[float, float]:
    """Mean L1 and PSNR of the A -> B generator on the held-out photo after 30 steps, batch 1.
    CycleGAN sees A and B crops in different orders: unpaired."""
    kind, key, shift = ("paired", "G", 0) if name == "pix2pix" else ("unpaired", "G_A", 3)
    batches = [{"A": crops["A"][i:i + 1], "B": crops["B"][(i + shift) % 8:(i + shift) % 8 + 1]} for i in range(8)]
    torch.manual_seed(0)
    recipe = get_recipe(name)({**SMALL, **options}, DataSpec(kind=kind, channels={"A": 3, "B": 3}, size=64))
    run_steps(recipe, batches, 30)
    with torch.no_grad():
        out = recipe.export_module(key)(crops["test_A"])
    out, target = ((t.permute(0, 2, 3, 1).numpy() + 1) / 2 for t in (out, crops["test_B"]))
    return (float(np.mean([l1(o, t) for o, t in zip(out, target)])),
            float(np.mean([psnr(o, t) for o, t in zip(out, target)])))


# (L1 below, PSNR above): pix2pix's defaults must beat doing nothing (L1 0.052, 23.9 dB) clearly;
# CycleGAN's, unpaired and 30 steps in, must at least keep the photo, which the paper's settings
# do not.
BARS = {"pix2pix": (0.045, 25.0), "cyclegan": (0.06, 22.5)}


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan"])
def test_reduced_proxy_ours_pass_a_bar_the_paper_preset_misses(name, warm_crops):
    """The issue's proxy, reduced to tiny networks, 30 steps on 8 crops of photos-warm."""
    x, y = ((t.permute(0, 2, 3, 1).numpy() + 1) / 2 for t in (warm_crops["test_A"], warm_crops["test_B"]))
    identity_l1 = float(np.mean([l1(a, b) for a, b in zip(x, y)]))
    assert identity_l1 == pytest.approx(0.052, abs=0.005)
    default_l1, default_psnr = _proxy_score(name, {}, warm_crops)
    paper_l1, paper_psnr = _proxy_score(name, preset_options(get_recipe(name), "paper"), warm_crops)
    print(f"{name}: identity {identity_l1:.4f}; ours {default_l1:.4f} / {default_psnr:.1f} dB; "
          f"paper {paper_l1:.4f} / {paper_psnr:.1f} dB")
    max_l1, min_psnr = BARS[name]
    assert default_l1 < max_l1 and default_psnr > min_psnr
    assert not (paper_l1 < max_l1 and paper_psnr > min_psnr)


def test_preset_flag_sets_options_under_the_users():
    from gantrans.cli.main import build_parser
    from gantrans.cli.train_cmd import config_from_args
    from gantrans.errors import ConfigError

    def config(*extra: str):
        return config_from_args(build_parser().parse_args(["train", "pix2pix", "--data", "d", *extra]))

    assert config().model == {} and config().preset is None
    cfg = config("--preset", "paper")
    assert cfg.preset == "paper" and cfg.model == {"residual": False, "augment_D": "none"}
    assert config("--preset", "paper", "-o", "residual=true").model == {"residual": True, "augment_D": "none"}
    with pytest.raises(ConfigError, match="no preset 'nope'"):
        config("--preset", "nope")


@pytest.mark.parametrize("generator", ["resnet_6blocks", "unet_32"])
def test_zero_init_residual_generator_starts_as_the_identity_and_learns(generator):
    """``residual_zero_init``: a new generator returns its input exactly (a fresh residual one does
    not: its untrained output is not small), and the zeroed output layer still gets a gradient."""
    spec = DataSpec(kind="paired", channels={"A": 3, "B": 3}, size=32)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    torch.manual_seed(0)
    plain = get_recipe("pix2pix")({"generator": generator, "ngf": 8, "ndf": 8}, spec).build_networks()["G"]
    torch.manual_seed(0)
    nets = get_recipe("pix2pix")({"generator": generator, "ngf": 8, "ndf": 8, "residual_zero_init": True},
                                 spec).build_networks()
    G = nets["G"]
    assert (plain(x) - x).abs().mean() > 0.05
    out = G(x)
    assert torch.equal(out, x.clamp(-1, 1))
    (out - 0.5).abs().mean().backward()
    last = [m for m in G.net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))][-1]
    assert last.weight.grad is not None and last.weight.grad.abs().sum() > 0


def test_colour_map_starts_as_the_identity_and_learns_a_global_grade_fast():
    """``residual_colour_map``: every pixel's gradient lands on one affine colour map, so a global
    grade is learnt in steps where the convolutional path alone barely moves."""
    from gantrans.gan import ResidualOutput

    gains = torch.tensor([1.15, 1.0, 0.8]).view(1, 3, 1, 1)
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 1.6 - 0.8
    errors = {}
    for colour_map in (False, True):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                                  torch.nn.Conv2d(8, 3, 3, padding=1), torch.nn.Tanh())
        G = ResidualOutput(net, zero_init=True, colour_map=colour_map)
        assert torch.equal(G(x), x)
        opt = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.999))
        for _ in range(60):
            opt.zero_grad()
            (G(x) - x * gains).abs().mean().backward()
            opt.step()
        with torch.no_grad():
            errors[colour_map] = float((G(x) - x * gains).abs().mean())
    before = float((x - x * gains).abs().mean())
    print(f"mean error: untouched {before:.4f}, residual {errors[False]:.4f}, with the colour map {errors[True]:.4f}")
    assert errors[True] < 0.35 * before and errors[False] > 0.6 * before
