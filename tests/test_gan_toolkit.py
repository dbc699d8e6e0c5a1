"""gantrans.gan: losses, gradient penalty, image pool and weight init."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import gantrans.gan.pool as pool_module
from gantrans.errors import ConfigError
from gantrans.gan import (
    AdversarialLoss,
    HingeLoss,
    ImagePool,
    LSGANLoss,
    VanillaLoss,
    WGANGPLoss,
    gradient_penalty,
    init_weights,
    make_loss,
)
from gantrans.recipe import build_loss


def sp(x: float) -> float:  # softplus: BCE-with-logits of target 1 is softplus(-x)
    return math.log1p(math.exp(x))


X = torch.tensor([0.5, -2.0, 3.0])

# ---------------------------------------------------------------------------------- losses


def test_vanilla_hand_computed() -> None:
    loss = VanillaLoss()
    assert loss.real_loss(X).item() == pytest.approx((sp(-0.5) + sp(2.0) + sp(-3.0)) / 3, rel=1e-6)
    assert loss.fake_loss(X).item() == pytest.approx((sp(0.5) + sp(-2.0) + sp(3.0)) / 3, rel=1e-6)
    assert loss.generator_loss(X).item() == pytest.approx((sp(-0.5) + sp(2.0) + sp(-3.0)) / 3, rel=1e-6)
    assert loss.gradient_penalty_weight == 0


def test_lsgan_hand_computed() -> None:
    loss = LSGANLoss()
    assert loss.real_loss(X).item() == pytest.approx((0.25 + 9 + 4) / 3)
    assert loss.fake_loss(X).item() == pytest.approx((0.25 + 4 + 9) / 3)
    assert loss.generator_loss(torch.tensor([[1.0, 0.0]])).item() == pytest.approx(0.5)


def test_wgan_gp_hand_computed() -> None:
    loss = WGANGPLoss()
    assert loss.real_loss(X).item() == pytest.approx(-0.5)
    assert loss.fake_loss(X).item() == pytest.approx(0.5)
    assert loss.generator_loss(X).item() == pytest.approx(-0.5)
    assert loss.gradient_penalty_weight == 10


def test_hinge_hand_computed() -> None:
    loss = HingeLoss()
    assert loss.real_loss(X).item() == pytest.approx((0.5 + 3.0 + 0.0) / 3)
    assert loss.fake_loss(X).item() == pytest.approx((1.5 + 0.0 + 4.0) / 3)
    assert loss.generator_loss(X).item() == pytest.approx(-0.5)


def test_losses_on_patch_shaped_logits_and_forward_convention() -> None:
    logits = torch.randn(2, 1, 6, 6)
    for loss in (VanillaLoss(), LSGANLoss(), WGANGPLoss(), HingeLoss()):
        assert loss.real_loss(logits).shape == ()
        torch.testing.assert_close(loss(logits, True), loss.real_loss(logits))
        torch.testing.assert_close(loss(logits, False), loss.fake_loss(logits))


def test_one_sided_label_smoothing() -> None:
    smooth = LSGANLoss(real_label=0.9)
    assert smooth.real_loss(X).item() == pytest.approx(((0.5 - 0.9) ** 2 + 2.9**2 + 2.1**2) / 3)
    torch.testing.assert_close(smooth.fake_loss(X), LSGANLoss().fake_loss(X))  # fake targets stay 0
    torch.testing.assert_close(smooth.generator_loss(X), LSGANLoss().generator_loss(X))  # G aims at 1
    v = VanillaLoss(real_label=0.9)
    expected = sum(0.9 * sp(-x) + 0.1 * sp(x) for x in X.tolist()) / 3
    assert v.real_loss(X).item() == pytest.approx(expected, rel=1e-6)
    torch.testing.assert_close(v.generator_loss(X), VanillaLoss().generator_loss(X))
    with pytest.raises(ConfigError):
        HingeLoss(real_label=0.9)
    with pytest.raises(ConfigError):
        WGANGPLoss(real_label=0.9)


@pytest.mark.parametrize("name", ["vanilla", "lsgan", "wgan-gp", "hinge"])
def test_losses_compute_in_float32(name: str) -> None:
    loss = make_loss(name)
    logits = torch.randn(4, 1, 3, 3)
    low = logits.to(torch.bfloat16)
    for method in (loss.real_loss, loss.fake_loss, loss.generator_loss):
        out = method(low)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, method(low.float()))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert method(low).dtype == torch.float32


def test_losses_through_registry() -> None:
    loss = build_loss("lsgan", real_label=0.9)
    assert isinstance(loss, AdversarialLoss) and loss.real_label == 0.9
    assert build_loss("wgan-gp").gradient_penalty_weight == 10
    assert build_loss("wgan-gp", gradient_penalty_weight=5.0).gradient_penalty_weight == 5
    assert isinstance(build_loss("hinge"), HingeLoss)
    with pytest.raises(ConfigError):
        make_loss("nope")


# ---------------------------------------------------------------------------------- penalty


def _linear_d(w: torch.Tensor):
    return lambda x: x.flatten(1) @ w


@pytest.mark.parametrize("norm", [0.3, 1.0, 2.5])
def test_gradient_penalty_linear_exact(norm: float) -> None:
    torch.manual_seed(0)
    w = torch.randn(3 * 4 * 4)
    w = (w / w.norm() * norm).requires_grad_(True)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gp = gradient_penalty(_linear_d(w), real, fake)
    assert gp.dtype == torch.float32
    assert gp.item() == pytest.approx((norm - 1) ** 2, abs=1e-6)
    gp.backward()
    expected_grad = 2 * (norm - 1) * w.detach() / norm
    torch.testing.assert_close(w.grad, expected_grad, rtol=1e-5, atol=1e-6)
    assert gradient_penalty(_linear_d(w), real, fake, weight=10.0).item() == pytest.approx(10 * (norm - 1) ** 2,
                                                                                        abs=1e-5)


def test_gradient_penalty_under_bf16_autocast() -> None:
    torch.manual_seed(0)
    d = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 1, bias=False))
    with torch.no_grad():
        d[1].weight.mul_(2.0 / d[1].weight.norm())  # ||w|| = 2 exactly (in float32)
    w_norm = d[1].weight.norm().item()
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert d(real).dtype == torch.bfloat16  # autocast is really on
        gp = gradient_penalty(d, real.bfloat16(), fake.bfloat16())
    assert gp.dtype == torch.float32
    assert gp.item() == pytest.approx((w_norm - 1) ** 2, rel=1e-5)
    gp.backward()
    w = d[1].weight.detach()
    torch.testing.assert_close(d[1].weight.grad, 2 * (w_norm - 1) * w / w_norm, rtol=1e-4, atol=1e-6)


def test_gradient_penalty_passes_extra_inputs_and_uses_global_rng() -> None:
    torch.manual_seed(0)
    d = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1))

    def conditional(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return d(x).squeeze(1) * (labels.float() + 1)

    real, fake, labels = torch.randn(3, 3, 2, 2), torch.randn(3, 3, 2, 2), torch.tensor([0, 1, 2])
    torch.manual_seed(7)
    a = gradient_penalty(conditional, real, fake, labels)
    torch.manual_seed(7)
    b = gradient_penalty(conditional, real, fake, labels)
    c = gradient_penalty(conditional, real, fake, labels)
    assert a.item() == b.item()
    assert a.item() != c.item()
    a.backward()
    assert d[0 + 1].weight.grad is not None and d[1].weight.grad.abs().sum() > 0


# ---------------------------------------------------------------------------------- pool


def _img(value: float) -> torch.Tensor:
    return torch.full((1, 1, 2, 2), value)


def test_pool_size_zero_passes_through() -> None:
    pool = ImagePool(0)
    x = torch.randn(3, 1, 2, 2)
    assert pool.query(x) is x
    assert len(pool) == 0


def test_pool_fills_then_swaps(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = ImagePool(2)
    first = pool.query(torch.cat([_img(0), _img(1)]))
    assert first[:, 0, 0, 0].tolist() == [0, 1] and len(pool) == 2

    draws = iter([0.9, 0.1])  # first image: swap with slot 1; second image: pass through
    monkeypatch.setattr(pool_module.torch, "rand", lambda *a, **k: torch.tensor(next(draws)))
    monkeypatch.setattr(pool_module.torch, "randint", lambda *a, **k: torch.tensor(1))
    out = pool.query(torch.cat([_img(2), _img(3)]))
    assert out[:, 0, 0, 0].tolist() == [1, 3]
    assert [float(img.flatten()[0]) for img in pool.images] == [0, 2]
    out[0].fill_(99)  # the returned stored image is a copy
    assert all(float(img.max()) < 99 for img in pool.images)


def test_pool_returns_new_or_stored_about_half_the_time() -> None:
    torch.manual_seed(0)
    pool = ImagePool(4)
    pool.query(torch.arange(4.0).view(4, 1, 1, 1))
    fresh = 0
    for step in range(200):
        value = 100.0 + step
        out = pool.query(torch.full((1, 1, 1, 1), value))
        fresh += float(out) == value
        assert len(pool) == 4
    assert 70 < fresh < 130


def test_pool_state_roundtrip_is_reproducible() -> None:
    torch.manual_seed(1)
    pool = ImagePool(3)
    pool.query(torch.randn(3, 1, 2, 2))
    state, rng = pool.state_dict(), torch.get_rng_state()
    assert all(t.device.type == "cpu" for t in state["images"])
    batches = [torch.randn(2, 1, 2, 2) for _ in range(5)]
    torch.set_rng_state(rng)
    first = [pool.query(b) for b in batches]
    restored = ImagePool(3)
    restored.load_state_dict(state)
    torch.set_rng_state(rng)
    second = [restored.query(b) for b in batches]
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError):
        ImagePool(1).load_state_dict(state)


def test_pool_detaches() -> None:
    x = torch.randn(2, 1, 2, 2, requires_grad=True)
    assert not ImagePool(2).query(x * 2).requires_grad


# ---------------------------------------------------------------------------------- init


def test_init_normal_and_batchnorm() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(16, 64, 3), nn.BatchNorm2d(256), nn.Linear(64, 64), nn.Embedding(10, 4))
    emb = net[3].weight.detach().clone()
    assert init_weights(net, "normal", 0.02) is net
    assert net[0].weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert net[0].bias.abs().sum() == 0 and net[2].bias.abs().sum() == 0
    assert net[1].weight.mean().item() == pytest.approx(1.0, abs=0.01)
    assert net[1].weight.std().item() == pytest.approx(0.02, rel=0.2)
    assert net[1].bias.abs().sum() == 0
    torch.testing.assert_close(net[3].weight, emb)  # the reference leaves embeddings alone


def test_init_other_schemes() -> None:
    torch.manual_seed(0)
    lin = init_weights(nn.Sequential(nn.Linear(32, 16)), "orthogonal", 0.5)[0]
    torch.testing.assert_close(lin.weight @ lin.weight.T, 0.25 * torch.eye(16), atol=1e-5, rtol=0)
    conv = init_weights(nn.Sequential(nn.Conv2d(64, 64, 3)), "kaiming")[0]
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.05)
    conv = init_weights(nn.Sequential(nn.Conv2d(64, 64, 3)), "xavier", 1.0)[0]
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (2 * 64 * 9)), rel=0.05)
    with pytest.raises(ConfigError):
        init_weights(nn.Linear(2, 2), "uniform")


def test_two_logit_form_defaults_to_the_one_logit_methods() -> None:
    real, fake = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    for loss in (VanillaLoss(), LSGANLoss(), WGANGPLoss(), HingeLoss()):
        d_real, d_fake = loss.d_loss(real, fake)
        torch.testing.assert_close(d_real, loss.real_loss(real))
        torch.testing.assert_close(d_fake, loss.fake_loss(fake))
        torch.testing.assert_close(loss.g_loss(fake, None), loss.generator_loss(fake))
        assert not loss.needs_real_logits


def test_ralsgan_matches_its_definition_and_needs_both_logits() -> None:
    from gantrans.errors import ConfigError
    from gantrans.gan import RaLSGANLoss

    loss = make_loss("ralsgan")
    assert isinstance(loss, RaLSGANLoss) and loss.needs_real_logits
    real = torch.tensor([1.0, 2.0, 3.0])
    fake = torch.tensor([-1.0, 0.0, 1.0])  # means: real 2, fake 0
    d_real, d_fake = loss.d_loss(real, fake)
    assert d_real.item() == pytest.approx(((1 - 0 - 1) ** 2 + (2 - 0 - 1) ** 2 + (3 - 0 - 1) ** 2) / 3)
    assert d_fake.item() == pytest.approx(((-1 - 2 + 1) ** 2 + (0 - 2 + 1) ** 2 + (1 - 2 + 1) ** 2) / 3)
    g = loss.g_loss(fake, real)
    want = ((-1 - 2 - 1) ** 2 + (0 - 2 - 1) ** 2 + (1 - 2 - 1) ** 2) / 3 + \
        ((1 - 0 + 1) ** 2 + (2 - 0 + 1) ** 2 + (3 - 0 + 1) ** 2) / 3
    assert g.item() == pytest.approx(want)
    # A generator that closes the gap lowers the discriminator's advantage.
    assert loss.g_loss(real.clone(), real).item() < g.item()
    with pytest.raises(ConfigError, match="relativistic"):
        loss.g_loss(fake)
    with pytest.raises(ConfigError, match="relativistic"):
        loss.real_loss(real)
    assert loss.d_loss(real.half(), fake.half())[0].dtype == torch.float32


# -- DiffAugment ------------------------------------------------------------------------------------

def test_diffaugment_translation_shifts_with_zero_fill_and_cutout_zeroes_a_quarter() -> None:
    from gantrans.gan.diffaugment import cutout, translation

    torch.manual_seed(0)
    x = torch.arange(64.0).reshape(1, 1, 8, 8).repeat(16, 1, 1, 1) + 1  # no zeros of its own
    shifted = translation(x)
    for img in shifted[:, 0]:
        rows, cols = torch.nonzero(img, as_tuple=True)
        top, left = int(rows.min()), int(cols.min())
        dy, dx = int(img[rows[0], cols[0]] - 1) // 8 - int(rows[0]), int(img[rows[0], cols[0]] - 1) % 8 - int(cols[0])
        assert abs(dy) <= 1 and abs(dx) <= 1  # 1/8 of 8 px
        kept = img[top:int(rows.max()) + 1, left:int(cols.max()) + 1]
        assert torch.equal(kept, x[0, 0, top + dy:top + dy + kept.shape[0], left + dx:left + dx + kept.shape[1]])
    # the discriminator gets the layout it was given: a contiguous 3-channel image stays contiguous
    # (channels last, its convolutions reordered weights and copied gradients at every call)
    rgb = torch.randn(2, 3, 16, 16)
    assert translation(rgb).is_contiguous()
    nhwc = rgb.contiguous(memory_format=torch.channels_last)
    assert translation(nhwc).is_contiguous(memory_format=torch.channels_last) and not translation(nhwc).is_contiguous()
    torch.manual_seed(1)
    a = translation(rgb)
    torch.manual_seed(1)
    assert torch.equal(a, translation(nhwc))  # the same numbers either way
    holes = cutout(torch.ones(400, 1, 16, 16))
    assert torch.all((holes == 0).sum(dim=(1, 2, 3)) <= 64)  # an 8 x 8 square, clipped at the border
    assert 0.12 < float((holes == 0).float().mean()) < 0.25


def test_diffaugment_is_differentiable_per_sample_and_reproducible_from_the_global_rng() -> None:
    from gantrans.gan import diff_augment

    x = torch.randn(6, 3, 16, 16, requires_grad=True)
    torch.manual_seed(3)
    y = diff_augment(x, "color,translation,cutout")
    y.square().sum().backward()
    assert y.shape == x.shape and x.grad is not None and float(x.grad.abs().sum()) > 0
    torch.manual_seed(3)
    assert torch.equal(y, diff_augment(x, ("color", "translation", "cutout")))
    assert not torch.equal(y[0], y[1]) and torch.equal(diff_augment(x, "none"), x)


def test_augment_option_reaches_every_discriminator_call_and_rejects_unknown_policies(monkeypatch) -> None:
    from gantrans.recipe import DataSpec, get_recipe

    spec = DataSpec("labelled", {"image": 3}, 16, class_names=["a", "b"])
    cls = get_recipe("cgan")
    with pytest.raises(ConfigError, match="augment_D.*unknown augmentation 'blur'"):
        cls({"augment_D": "color,blur"}, spec)
    recipe = cls({"augment_D": "translation", "ngf": 8, "ndf": 8}, spec)
    recipe.attach(recipe.build_networks())
    seen = []
    D = recipe.nets["D"]
    monkeypatch.setattr(D, "forward", lambda x, labels: seen.append(x) or x.flatten(1).mean(1))
    real, fake = torch.ones(4, 3, 16, 16), torch.ones(4, 3, 16, 16)
    labels = torch.tensor([0, 1, 0, 1])
    recipe.d_adv(D, real, fake, labels)
    recipe.g_adv(D, fake, real, labels)
    assert len(seen) == 3 and any(bool((s == 0).any()) for s in seen)  # zero-filled shifts

# ---------------------------------------------------------------------------------- padding


@pytest.mark.parametrize("layer, reference", [("ReflectionPad2d", nn.ReflectionPad2d),
                                               ("ReplicationPad2d", nn.ReplicationPad2d)])
def test_padding_keeps_bf16_under_cpu_autocast_and_is_the_torch_layer_otherwise(layer, reference) -> None:
    import gantrans.gan as toolkit

    pad, ref = getattr(toolkit, layer)(2), reference(2)
    x = torch.randn(2, 3, 6, 7).to(torch.bfloat16).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours, theirs = pad(x), ref(x)
    assert theirs.dtype == torch.float32  # autocast's own policy widens the pad ...
    assert ours.dtype == torch.bfloat16  # ... ours keeps the input's precision, and the numbers
    assert torch.equal(ours.float(), theirs)
    (grad,) = torch.autograd.grad(ours.float().sum(), x)
    assert grad.dtype == torch.bfloat16 and grad.shape == x.shape
    y = torch.randn(1, 3, 5, 5)
    assert torch.equal(pad(y), ref(y)) and not pad.state_dict()


def test_resnet_generator_under_bf16_autocast_matches_torch_padding_bit_for_bit() -> None:
    from gantrans_plugins.networks.resnet import ResnetGenerator

    torch.manual_seed(0)
    net = ResnetGenerator(ngf=8, n_blocks=2)
    plain = ResnetGenerator(ngf=8, n_blocks=2)
    for m in plain.modules():  # the same network with torch's own pads
        for name, child in m.named_children():
            if type(child).__name__ == "ReflectionPad2d" and type(child) is not nn.ReflectionPad2d:
                setattr(m, name, nn.ReflectionPad2d(child.padding))
    plain.load_state_dict(net.state_dict())
    assert any(type(m) is nn.ReflectionPad2d for m in plain.modules())
    assert not any(type(m) is nn.ReflectionPad2d for m in net.modules())
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(net(x), plain(x))


def test_instance_norm_gives_the_right_input_gradient_for_a_channels_last_gradient():
    """torch 2.14's instance norm is wrong for a batch of one when the gradient reaching it is
    channels-last, as in a ResNet block trained in channels_last; gantrans's layer is right, and
    with it the built-in generator's weight gradients do not depend on the memory format."""
    import copy

    from gantrans.gan import InstanceNorm2d
    from gantrans.recipe import get_recipe, preset_options
    from gantrans.training.bench import synthetic_spec
    from gantrans.training.engine import build_networks

    torch.manual_seed(0)
    x = torch.randn(1, 16, 8, 8, dtype=torch.double)
    g = torch.randn(1, 16, 8, 8, dtype=torch.double)
    expected = torch.autograd.grad(nn.InstanceNorm2d(16)(x.requires_grad_()), [x], g)[0]
    for inp in (x, x.contiguous(memory_format=torch.channels_last)):
        inp = inp.detach().requires_grad_()
        got = torch.autograd.grad(InstanceNorm2d(16)(inp), [inp], g.contiguous(memory_format=torch.channels_last))[0]
        assert torch.allclose(got, expected, rtol=0, atol=1e-12)

    cls = get_recipe("cyclegan")
    rec = cls({**preset_options(cls, "paper"), "generator": "resnet_6blocks", "ngf": 8}, synthetic_spec(cls, 32))
    net = build_networks(rec, 1)["G_A"].double()
    assert any(type(m) is InstanceNorm2d for m in net.modules())
    net_cl = copy.deepcopy(net).to(memory_format=torch.channels_last)
    image = torch.rand(1, 3, 32, 32, dtype=torch.double) * 2 - 1
    out = net(image)
    grad_out = torch.randn_like(out)
    plain = torch.autograd.grad(out, list(net.parameters()), grad_out)
    cl = torch.autograd.grad(net_cl(image.contiguous(memory_format=torch.channels_last)), list(net_cl.parameters()),
                             grad_out)
    for a, b in zip(plain, cl):
        if a.dim() > 1:  # weights; the biases before a norm have a zero gradient, noise in both
            assert float((a - b).abs().max() / a.abs().max()) < 1e-10
