"""The built-in training recipes (vanilla, cgan, pix2pix, cyclegan) on tiny in-memory data.

Each recipe is trained for a few dozen steps by ``recipe_loop.run_steps`` (the trainer contract
on the CPU in fp32) on 32 px images made in memory, and must show the behaviour its losses are
there for: cycle reconstructions improve, pix2pix outputs approach their targets, conditional
samples follow their class, the vanilla generator moves towards the data and only every
``k_steps`` steps.
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from recipe_loop import ensure_built, make_optimizers, run_steps

from gantrans.errors import ConfigError
from gantrans.recipe import DataSpec, ExportHead, get_recipe, preset_options

SIZE = 32
TINY = {"ngf": 8, "ndf": 8}


@pytest.fixture(autouse=True)
def _one_thread_and_seed():
    """Tiny CPU nets run fastest single-threaded (no contention on a shared 2-core box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


# -- in-memory data ---------------------------------------------------------------------------


def discs(n: int, seed: int, fg: tuple[float, ...], bg: tuple[float, ...], size: int = SIZE) -> torch.Tensor:
    """``n`` images of one disc (random centre and radius) of colour ``fg`` on ``bg``, in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    fg_t, bg_t = torch.tensor(fg)[:, None, None], torch.tensor(bg)[:, None, None]
    images = []
    for _ in range(n):
        cy, cx = torch.randint(8, size - 8, (2,), generator=g).tolist()
        r = int(torch.randint(4, 9, (1,), generator=g))
        mask = (((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r).float()
        images.append(bg_t * (1 - mask) + fg_t * mask)
    return torch.stack(images)


def spec(kind: str, **channels: int) -> DataSpec:
    class_names = ["red", "green", "blue"] if kind == "labelled" else []
    return DataSpec(kind, channels or ({"image": 3} if kind in ("single", "labelled") else {"A": 3, "B": 3}),
                    SIZE, class_names=class_names, domains=("horse", "zebra"))


def build(name: str, data: DataSpec, **options):
    return get_recipe(name)({**TINY, **options}, data)


CLASS_COLOURS = torch.tensor([[0.8, -0.8, -0.8], [-0.8, 0.8, -0.8], [-0.8, -0.8, 0.8]])


def labelled_batch(step: int, n: int = 6) -> dict:
    g = torch.Generator().manual_seed(step)
    labels = torch.arange(n) % 3
    images = CLASS_COLOURS[labels][:, :, None, None] + 0.1 * torch.randn(n, 3, SIZE, SIZE, generator=g)
    return {"image": images.clamp(-1, 1), "label": labels}


# -- registration ---------------------------------------------------------------------------


def test_recipes_registered_by_their_plugins_without_importing_torch():
    code = ("import sys\n"
            "from gantrans.plugins import get_registries\n"
            "m = get_registries().models\n"
            "print(sorted((e.name, e.origin.plugin) for e in m), 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ("[('cgan', 'conditional'), ('cyclegan', 'cyclegan'), ('pix2pix', 'conditional'), "
                           "('vanilla', 'vanilla')] False")


@pytest.mark.parametrize("name", ["vanilla", "cgan", "pix2pix", "cyclegan"])
def test_shared_option_names_and_defaults(name):
    cls = get_recipe(name)
    defaults = cls.defaults
    for key in ("generator", "discriminator", "loss", "ngf", "ndf", "norm", "norm_D", "dropout", "init_type",
                "init_gain", "n_layers_D", "lr", "beta1", "beta2", "real_label"):
        assert key in defaults, key
    paper = {**defaults, **preset_options(cls, "paper")}  # the papers' optimiser (cyclegan's default lr is 1e-4)
    assert (paper["lr"], paper["beta1"], paper["beta2"], paper["real_label"]) == (2e-4, 0.5, 0.999, 1.0)


# -- cyclegan -------------------------------------------------------------------------------


PAPER_CYCLEGAN = preset_options(get_recipe("cyclegan"), "paper")
"""The reference's CycleGAN: the structure tests below pin its terms (the defaults differ, issue 17)."""


def cyclegan_batches(n_batches: int = 6, batch: int = 2) -> list[dict]:
    A = discs(n_batches * batch, 1, (1.0, -1.0, -1.0), (-1.0, -1.0, -1.0))
    B = discs(n_batches * batch, 2, (-1.0, -1.0, 1.0), (1.0, 1.0, 1.0))
    return [{"A": A[i:i + batch], "B": B[i:i + batch]} for i in range(0, len(A), batch)]


def test_cyclegan_cycle_loss_drives_reconstructions():
    # Without identity terms (which also pull G_B(G_A(a)) towards a) only the cycle terms do.
    recipe = build("cyclegan", spec("unpaired"), **{**PAPER_CYCLEGAN, "generator": "resnet_6blocks", "pool_size": 4,
                                                     "lambda_identity": 0})
    history = run_steps(recipe, cyclegan_batches(), 40)
    expected = {"G_A", "G_B", "cycle_A", "cycle_B", "D_A_real", "D_A_fake", "D_B_real", "D_B_fake"}
    assert all(set(h) == expected for h in history)
    for term in ("cycle_A", "cycle_B"):
        start = sum(h[term] for h in history[:3]) / 3
        end = sum(h[term] for h in history[-3:]) / 3
        assert end < 0.55 * start, (term, start, end)  # measured ~0.35; ~0.85 without its gradient
    # The pools filled (size 4) with the fakes of the D phases.
    assert len(recipe.fake_A_pool) == len(recipe.fake_B_pool) == 4


def test_cyclegan_reference_structure_and_terms():
    recipe = build("cyclegan", spec("unpaired"), **PAPER_CYCLEGAN, generator="resnet_6blocks")
    nets = ensure_built(recipe)
    assert set(nets) == {"G_A", "G_B", "D_A", "D_B"}
    assert {o.name: o.networks for o in recipe.optimizers()} == {"G": ["G_A", "G_B"], "D": ["D_A", "D_B"]}
    assert [(p.name, p.optimizer, p.every) for p in recipe.phases()] == [("G", "G", 1), ("D", "D", 1)]
    c = recipe.config
    assert (c["loss"], c["norm"], c["lambda_A"], c["lambda_B"], c["lambda_identity"], c["pool_size"]) == (
        "lsgan", "instance", 10, 10, 0.5, 50)
    history = run_steps(recipe, cyclegan_batches(2), 2)
    assert all(set(h) == {"G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B",
                          "D_A_real", "D_A_fake", "D_B_real", "D_B_fake"} for h in history)
    # The reference's formulas: cycle = lambda * L1, identity = lambda_idt * lambda * L1(G(target), target).
    batch = cyclegan_batches(1)[0]
    F = torch.nn.functional
    with torch.no_grad():
        terms = recipe.generator_loss(batch, {})
        cycle_A = F.l1_loss(nets["G_B"](nets["G_A"](batch["A"])), batch["A"]) * 10
        idt_A = F.l1_loss(nets["G_A"](batch["B"]), batch["B"]) * 10 * 0.5
        g_A = F.mse_loss(nets["D_A"](nets["G_A"](batch["A"])), torch.ones(1).expand(2, 1, 2, 2))
    for name, value in (("cycle_A", cycle_A), ("idt_A", idt_A), ("G_A", g_A)):
        assert terms[name].item() == pytest.approx(value.item(), rel=1e-5), name
    no_idt = build("cyclegan", spec("unpaired"), **{**PAPER_CYCLEGAN, "generator": "resnet_6blocks",
                                                    "lambda_identity": 0})
    ensure_built(no_idt)
    with torch.no_grad():
        assert not {"idt_A", "idt_B"} & set(no_idt.generator_loss(batch, {}))


def test_cyclegan_direction_and_channels():
    """BtoA swaps the domains; identity needs equal channels and is skipped otherwise."""
    data = spec("unpaired", A=1, B=3)
    recipe = build("cyclegan", data, generator="resnet_6blocks", direction="BtoA", pool_size=0)
    nets = ensure_built(recipe)
    # Recipe-internal A is the data's B (3 channels): G_A maps 3 -> 1 channels.
    batch = {"A": torch.rand(2, 1, SIZE, SIZE) * 2 - 1, "B": torch.rand(2, 3, SIZE, SIZE) * 2 - 1}
    assert nets["G_A"](batch["B"]).shape == (2, 1, SIZE, SIZE)
    history = run_steps(recipe, [batch], 1)
    assert "idt_A" not in history[0] and "cycle_A" in history[0]
    heads = {h.name: h for h in recipe.export_heads()}
    assert set(heads) == {"A2B", "B2A"}
    b2a = heads["B2A"]
    assert (b2a.source_domain, b2a.target_domain, b2a.in_channels, b2a.out_channels) == ("zebra", "horse", 3, 1)
    assert b2a.module(batch["B"]).shape == (2, 1, SIZE, SIZE)
    with torch.no_grad():
        rows = recipe.sample_rows(batch)
    assert len(rows) == 6 and {r.shape for _, r in rows} == {(2, 3, SIZE, SIZE)}


def test_cyclegan_pools_round_trip_through_a_checkpoint(tmp_path):
    recipe = build("cyclegan", spec("unpaired"), generator="resnet_6blocks", pool_size=3)
    run_steps(recipe, cyclegan_batches(2), 2)
    path = tmp_path / "state.pt"
    torch.save(recipe.state_dict(), path)
    restored = build("cyclegan", spec("unpaired"), generator="resnet_6blocks", pool_size=3)
    restored.load_state_dict(torch.load(path, weights_only=True))
    for name in ("fake_A_pool", "fake_B_pool"):
        before, after = getattr(recipe, name).images, getattr(restored, name).images
        assert len(after) == 3 and all(torch.equal(a, b) for a, b in zip(before, after))


def test_cyclegan_export_heads_contract():
    recipe = build("cyclegan", spec("unpaired"), generator="resnet_6blocks")
    nets = ensure_built(recipe)
    heads = recipe.export_heads()
    assert [h.name for h in heads] == ["A2B", "B2A"]
    assert [h.key for h in heads] == ["G_A", "G_B"]
    a2b = heads[0]
    assert isinstance(a2b, ExportHead)
    assert (a2b.task, a2b.source_domain, a2b.target_domain, a2b.network) == ("translate", "horse", "zebra",
                                                                              "resnet_6blocks")
    assert (a2b.size_multiple, a2b.min_size, a2b.tiling) == (4, 8, "discouraged")
    assert not a2b.module.training and a2b.module is not nets["G_A"]
    x = torch.rand(1, 3, 36, 44) * 2 - 1  # any multiple of 4
    with torch.no_grad():
        assert torch.allclose(a2b.module(x), nets["G_A"].eval()(x), atol=1e-6)
    assert recipe.network_specs["G_A"]["name"] == "resnet_6blocks"


# -- pix2pix ----------------------------------------------------------------------------------


def pix2pix_batches() -> list[dict]:
    A = discs(16, 1, (1.0, 1.0, 1.0), (-1.0, -1.0, -1.0))
    B = discs(16, 1, (1.0, -0.5, -1.0), (-1.0, 0.0, 1.0))  # same discs, colourised
    return [{"A": A[i:i + 4], "B": B[i:i + 4]} for i in range(0, 16, 4)]


def test_pix2pix_output_approaches_target():
    recipe = build("pix2pix", spec("paired"), generator="unet_32")
    assert recipe.config["dropout"] is True and recipe.config["lambda_L1"] == 100
    batches = pix2pix_batches()
    nets = ensure_built(recipe)

    def l1() -> float:
        with torch.no_grad():
            return sum(torch.nn.functional.l1_loss(nets["G"](b["A"]), b["B"]).item() for b in batches) / len(batches)

    start = l1()
    history = run_steps(recipe, batches, 40, lr=1e-3)
    assert all(set(h) == {"G_adv", "G_L1", "D_real", "D_fake"} for h in history)
    # Measured: about 0.16 of the start; without the L1 term's gradient about 0.56.
    assert l1() < 0.3 * start
    assert history[-1]["G_L1"] < 0.3 * history[0]["G_L1"]


def test_pix2pix_discriminator_sees_pairs_and_direction():
    data = spec("paired", A=1, B=3)
    recipe = build("pix2pix", data, generator="unet_32", direction="BtoA")
    nets = ensure_built(recipe)
    assert nets["D"].model[0].in_channels == 4  # concat(input, output)
    batch = {"A": torch.rand(2, 1, SIZE, SIZE) * 2 - 1, "B": torch.rand(2, 3, SIZE, SIZE) * 2 - 1}
    assert nets["G"](batch["B"]).shape == (2, 1, SIZE, SIZE)
    with torch.no_grad():
        rows = recipe.sample_rows(batch)
    assert [label for label, _ in rows] == ["input", "output", "target"]
    assert {r.shape for _, r in rows} == {(2, 3, SIZE, SIZE)}
    (head,) = recipe.export_heads()
    assert (head.name, head.source_domain, head.target_domain) == ("B2A", "zebra", "horse")
    assert (head.in_channels, head.out_channels, head.size_multiple, head.min_size) == (3, 1, 32, 32)
    assert head.tiling == "ok"
    terms = recipe.discriminator_loss(batch, {})
    assert set(terms) == {"D_real", "D_fake"}


# -- cgan ---------------------------------------------------------------------------------------


def test_cgan_samples_depend_on_the_label():
    recipe = build("cgan", spec("labelled"), latent_size=16)
    G = ensure_built(recipe)["G"].eval()
    z = torch.randn(4, 16)
    with torch.no_grad():
        a = G(z, torch.zeros(4, dtype=torch.long))
        b = G(z, torch.ones(4, dtype=torch.long))
    assert (a - b).abs().max() > 1e-4
    with torch.no_grad():
        rows = recipe.sample_rows(labelled_batch(0))
    assert [label for label, _ in rows] == ["red", "green", "blue"]
    assert {r.shape for _, r in rows} == {(6, 3, SIZE, SIZE)}
    assert not torch.allclose(rows[0][1], rows[1][1])


def test_cgan_class_samples_follow_class_colours():
    recipe = build("cgan", spec("labelled"), latent_size=16, loss="hinge")
    history = run_steps(recipe, labelled_batch, 200, lr=2e-3)
    assert set(history[0]) == {"D_real", "D_fake", "G_adv"}
    G = recipe.nets["G"].eval()
    with torch.no_grad():
        z = torch.randn(8, 16)
        means = torch.stack([G(z, torch.full((8,), c)).mean((0, 2, 3)) for c in range(3)])
    for c in range(3):
        others = [means[c, k].item() for k in range(3) if k != c]
        assert means[c, c].item() > max(others) + 0.3, means


def test_cgan_export_head_contract():
    recipe = build("cgan", spec("labelled"), latent_size=16)
    ensure_built(recipe)
    (head,) = recipe.export_heads()
    assert (head.task, head.latent_size, head.fixed_size, head.class_names) == (
        "generate-conditional", 16, SIZE, ["red", "green", "blue"])
    with torch.no_grad():
        out = head.module(torch.randn(5, 16), torch.tensor([0, 1, 2, 0, 1]))
    assert out.shape == (5, 3, SIZE, SIZE) and out.abs().max() <= 1


# -- vanilla -----------------------------------------------------------------------------------


def constant_colour_batch(step: int) -> dict:
    g = torch.Generator().manual_seed(step)
    colour = torch.tensor([0.8, -0.6, 0.2])[None, :, None, None]
    return {"image": (colour + 0.05 * torch.randn(4, 3, SIZE, SIZE, generator=g)).clamp(-1, 1)}


def test_vanilla_updates_generator_every_k_steps():
    recipe = build("vanilla", spec("single"), latent_size=16, k_steps=3)
    assert [(p.name, p.every) for p in recipe.phases()] == [("D", 1), ("G", 3)]
    nets = ensure_built(recipe)
    snapshots = {}

    def record(step: int, phase: str) -> None:
        snapshots[(step, phase)] = (torch.cat([p.detach().flatten() for p in nets["G"].parameters()]).clone(),
                                    torch.cat([p.detach().flatten() for p in nets["D"].parameters()]).clone())

    history = run_steps(recipe, constant_colour_batch, 7, on_phase=record)
    g_steps = sorted(step for step, phase in snapshots if phase == "G")
    assert g_steps == [0, 3, 6]
    assert [("G_adv" in h) for h in history] == [True, False, False, True, False, False, True]
    # G changes only in its own phase; D changes every step.
    for step in range(1, 7):
        previous = snapshots.get((step - 1, "G"), snapshots[(step - 1, "D")])
        now_d = snapshots[(step, "D")]
        assert torch.equal(previous[0], now_d[0])  # D phase left G alone
        assert not torch.equal(previous[1], now_d[1])  # ... and moved D
        if (step, "G") in snapshots:
            assert not torch.equal(now_d[0], snapshots[(step, "G")][0])
            assert torch.equal(now_d[1], snapshots[(step, "G")][1])


def test_vanilla_learns_the_data_colour():
    torch.manual_seed(0)
    recipe = build("vanilla", spec("single"), latent_size=16)
    G = ensure_built(recipe)["G"]
    target = torch.tensor([0.8, -0.6, 0.2])
    z = torch.randn(16, 16)

    def distance() -> float:
        with torch.no_grad():
            return (G(z).mean((0, 2, 3)) - target).norm().item()

    start = distance()
    optimizers = make_optimizers(recipe, lr=1e-3)
    # 60 steps sat on the threshold (0.62 x start with torch 2.14); by 150 the generator's
    # mean colour is within a few per cent of the data's, while an untrained one stays put.
    history = run_steps(recipe, constant_colour_batch, 150, optimizers=optimizers)
    d_loss = [h["D_real"] + h["D_fake"] for h in history]
    assert min(d_loss[:20]) < 0.5 * d_loss[0]  # D first learns to tell the fakes apart
    assert distance() < 0.3 * start


def test_vanilla_samples_and_export_head():
    recipe = build("vanilla", spec("single"), latent_size=16)
    ensure_built(recipe)
    batch = constant_colour_batch(0)
    with torch.no_grad():
        rows = recipe.sample_rows(batch)
        again = recipe.sample_rows(batch)
    assert [label for label, _ in rows][0] == "real" and len(rows) == 4
    assert {r.shape for _, r in rows} == {(4, 3, SIZE, SIZE)}
    recipe.nets["G"].eval()  # batch norm in eval: the same noise must give the same images
    with torch.no_grad():
        rows, again = recipe.sample_rows(batch), recipe.sample_rows(batch)
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(rows, again))
    (head,) = recipe.export_heads()
    assert (head.task, head.latent_size, head.fixed_size, head.tiling) == ("generate", 16, SIZE, "unsupported")
    assert head.in_channels == head.out_channels == 3
    # A copy carrying the trained weights under the same keys (the exporter finds "G" by them).
    trained = recipe.nets["G"].state_dict()
    copied = head.module.state_dict()
    assert head.module is not recipe.nets["G"] and copied.keys() == trained.keys()
    assert all(torch.equal(copied[k], trained[k]) for k in trained)
    with torch.no_grad():
        assert head.module(torch.randn(3, 16)).shape == (3, 3, SIZE, SIZE)


def test_vanilla_gradient_penalty_with_wgan_gp():
    recipe = build("vanilla", spec("labelled"), latent_size=16, loss="wgan-gp", norm_D="none")
    history = run_steps(recipe, labelled_batch, 2)
    assert set(history[0]) == {"D_real", "D_fake", "D_gp", "G_adv"}
    assert history[0]["D_gp"] > 0


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name,kind,options,message", [
    ("cyclegan", "unpaired", {"direction": "sideways"}, "direction"),
    ("cyclegan", "unpaired", {"pool_size": -1}, "pool_size"),
    ("cyclegan", "unpaired", {"lambda_A": -1}, "lambda_A"),
    ("cyclegan", "unpaired", {"lr": 0}, "lr"),
    ("cyclegan", "unpaired", {"beta1": 1.5}, "beta1"),
    ("cyclegan", "unpaired", {"ngf": 2.5}, "ngf"),
    ("cyclegan", "unpaired", {"dropout": "maybe"}, "dropout"),
    ("cyclegan", "unpaired", {"loss": "nonsense"}, "nonsense"),
    ("cyclegan", "unpaired", {"no_such_option": 1}, "no_such_option"),
    ("cyclegan", "labelled", {}, "unpaired or paired"),
    ("pix2pix", "paired", {"lambda_L1": -5}, "lambda_L1"),
    ("pix2pix", "unpaired", {}, "paired"),
    ("vanilla", "single", {"k_steps": 0}, "k_steps"),
    ("vanilla", "single", {"real_label": 0}, "real_label"),
    ("vanilla", "single", {"loss": "hinge", "real_label": 0.9}, "real_label"),
    ("cgan", "labelled", {"conditioning": "telepathy"}, "conditioning"),
])
def test_bad_options_raise_one_line_config_errors(name, kind, options, message):
    with pytest.raises(ConfigError, match=message) as info:
        build(name, spec(kind), **options)
    assert "\n" not in str(info.value)


def test_vanilla_size_must_suit_dcgan():
    recipe = get_recipe("vanilla")({}, DataSpec("single", {"image": 3}, 48))
    with pytest.raises(ConfigError, match=r"recipe 'vanilla'.*image_size \(the crop size, --crop-size\) must be a "
                                          r"power of two >= 8, got 48 \(nearest that fit: 32, 64\)"):
        recipe.build_networks()


def test_cgan_needs_class_names():
    with pytest.raises(ConfigError, match="class names"):
        get_recipe("cgan")({}, DataSpec("labelled", {"image": 3}, SIZE, class_names=["only"]))


@pytest.mark.parametrize("name,kind,options,message", [
    ("cyclegan", "unpaired", {"generator": "patchgan"}, "is a discriminator, not a generator"),
    ("cyclegan", "unpaired", {"discriminator": "unet_32"}, "is a generator, not a discriminator"),
    ("pix2pix", "paired", {"generator": "unet_32", "discriminator": "dcgan_discriminator_conditional"},
     "image\\+label input"),
    ("vanilla", "single", {"generator": "resnet_6blocks"}, "takes image input"),
    ("cgan", "labelled", {"discriminator": "dcgan_discriminator"}, "takes image input"),
    ("pix2pix", "paired", {"generator": "unet_256"}, "unet_256.*multiple of 256.*32 px"),
    ("cyclegan", "unpaired", {"generator": "no_such_net"}, "unknown network"),
    ("cyclegan", "unpaired", {"generator": "resnet_6blocks", "n_layers_D": 5}, "cannot judge 32 px.*n_layers_D=5"),
    ("vanilla", "single", {"n_layers_D": 5, "discriminator": "patchgan"}, "cannot judge 32 px"),
])
def test_networks_that_do_not_fit_raise_config_errors(name, kind, options, message):
    recipe = build(name, spec(kind), **options)
    with pytest.raises(ConfigError, match=message) as info:
        recipe.build_networks()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name,kind,options", [
    ("cyclegan", "unpaired", {"generator": "resnet_6blocks", "n_layers_D": 1}),
    ("pix2pix", "paired", {"generator": "unet_32", "n_layers_D": 1}),
    ("vanilla", "single", {"latent_size": 16}),
    ("cgan", "labelled", {"latent_size": 16}),
])
def test_every_builtin_recipe_trains_with_the_relativistic_loss(name, kind, options):
    """Built-in recipes use the two-logit form: the generator term sees the real logits."""
    recipe = build(name, spec(kind), loss="ralsgan", ngf=4, ndf=4, **options)
    ensure_built(recipe)
    calls = []
    original = recipe.loss.g_loss
    recipe.loss.g_loss = lambda fake, real=None: calls.append(real is not None) or original(fake, real)
    pair = {"A": discs(2, 1, (1, 0, 0), (0, 0, 0)), "B": discs(2, 2, (0, 1, 0), (0, 0, 0))}
    batches = {"single": constant_colour_batch, "labelled": labelled_batch}.get(kind, lambda step: pair)
    history = run_steps(recipe, batches, 2)
    assert calls and all(calls)
    assert all(math.isfinite(v) for h in history for v in h.values())


def test_a_duck_typed_one_logit_loss_still_works():
    """A third-party loss with only real_loss/fake_loss/generator_loss (no base class) keeps working."""

    class OneLogit:
        gradient_penalty_weight = 0.0

        def real_loss(self, logits):
            return ((logits.float() - 1) ** 2).mean()

        def fake_loss(self, logits):
            return (logits.float() ** 2).mean()

        def generator_loss(self, fake_logits):
            return ((fake_logits.float() - 1) ** 2).mean()

    recipe = build("vanilla", spec("single"), latent_size=16)
    recipe.loss = OneLogit()
    history = run_steps(recipe, constant_colour_batch, 2)
    assert {"D_real", "D_fake", "G_adv"} <= set(history[0])
    assert all(math.isfinite(v) for h in history for v in h.values())
