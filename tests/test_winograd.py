"""Winograd convolutions in float32 training on the CPU (gantrans.training.winograd): the same
numbers as torch's convolution to float32 rounding, the pad layers before them taken over, and
used by the Engine only where it was asked for and pays off."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gantrans.gan.padding import ReflectionPad2d
from gantrans.training import winograd as W

pytestmark = pytest.mark.usefixtures("one_thread")


def _relative_errors(expected, got):
    return [float(((a - b).abs().max() / a.abs().max()).detach()) for a, b in zip(expected, got)]


@pytest.mark.parametrize("n,c,k,h,w,padding,bias", [
    (1, 8, 16, 10, 10, 0, True),      # one 2x2 tile... of 4x4 outputs, padded to fit
    (2, 8, 8, 19, 23, 0, True),       # sizes that are not multiples of the tile
    (1, 16, 12, 16, 16, 1, False),    # the convolution's own zero padding, no bias
    (3, 32, 32, 34, 34, 0, True),     # a CycleGAN residual block's shape at 128 px, fewer channels
])
def test_conv3x3_gives_torchs_convolution_and_gradients(n, c, k, h, w, padding, bias):
    torch.manual_seed(0)
    x = torch.randn(n, c, h, w, requires_grad=True)
    weight = (torch.randn(k, c, 3, 3) * 0.1).requires_grad_()
    b = torch.randn(k, requires_grad=True) if bias else None
    inputs = [x, weight] + ([b] if bias else [])
    expected = F.conv2d(x, weight, b, padding=padding)
    got = W.conv3x3(x, weight, b, padding)
    assert got.shape == expected.shape and got.grad_fn.name() == "_WinogradBackward"
    g = torch.randn_like(expected)
    errors = _relative_errors([expected, *torch.autograd.grad(expected, inputs, g)],
                              [got, *torch.autograd.grad(got, inputs, g)])
    assert max(errors) < 1e-5, errors
    # Only what is asked for: no input gradient for an image that needs none.
    x2 = x.detach()
    (dw,) = torch.autograd.grad(W.conv3x3(x2, weight, b, padding), [weight], g)
    (expected_dw,) = torch.autograd.grad(F.conv2d(x2, weight, b, padding=padding), [weight], g)
    assert max(_relative_errors([expected_dw], [dw])) < 1e-5


@pytest.mark.parametrize("pad", [ReflectionPad2d(1), nn.ReplicationPad2d(1), nn.ZeroPad2d(1), None])
def test_the_pad_layer_before_is_taken_over_and_its_output_not_kept(monkeypatch, pad):
    monkeypatch.setattr(W, "MIN_CHANNELS", 8)
    torch.manual_seed(1)
    conv = nn.Conv2d(8, 8, 3, padding=0 if pad is not None else 1)
    net = nn.Sequential(*([pad] if pad is not None else []), conv, nn.ReLU())
    x = torch.randn(2, 8, 16, 16, requires_grad=True)
    params = [x, conv.weight, conv.bias]
    expected = net(x)
    g = torch.randn_like(expected)
    with W.fast_convolutions(W.Workspace()):
        got = net(x)
    node = got.grad_fn.next_functions[0][0]
    assert node.name() == "_WinogradBackward"
    # straight to the input: the padded copy is neither a node of the graph nor kept for backward
    assert node.next_functions[0][0].variable is x
    assert [t.shape for t in node.saved_tensors] == [x.shape, conv.weight.shape]
    errors = _relative_errors([expected, *torch.autograd.grad(expected, params, g)],
                              [got, *torch.autograd.grad(got, params, g)])
    assert max(errors) < 1e-5, errors


def test_a_padded_tensor_used_twice_still_gets_both_gradients(monkeypatch):
    monkeypatch.setattr(W, "MIN_CHANNELS", 8)
    torch.manual_seed(2)
    x = torch.randn(1, 8, 16, 16, requires_grad=True)
    weight = torch.randn(8, 8, 3, 3, requires_grad=True)

    def net(x):
        p = F.pad(x, (1, 1, 1, 1), mode="reflect")
        return F.conv2d(p, weight) + p[:, :, 1:-1, 1:-1] * 2  # the pad's output read again

    expected = torch.autograd.grad(net(x).square().sum(), [x, weight])
    with W.fast_convolutions(W.Workspace()):
        y = net(x)
    assert "_WinogradBackward" in repr(y.grad_fn.next_functions)
    got = torch.autograd.grad(y.square().sum(), [x, weight])
    assert max(_relative_errors(expected, got)) < 1e-5


def test_pays_off_only_for_float32_3x3_convolutions_with_many_channels_and_tiles():
    x, w = torch.zeros(1, 256, 18, 18), torch.zeros(256, 256, 3, 3)
    assert W.pays_off(x, w)
    assert W.pays_off(torch.zeros(1, 256, 16, 16), w, padding=1)
    assert not W.pays_off(x.bfloat16(), w.bfloat16())
    assert not W.pays_off(x, w, stride=2)
    assert not W.pays_off(x, w, dilation=2)
    assert not W.pays_off(x, w, padding="same")
    assert not W.pays_off(x[:, :64], w[:64, :64])  # too few channels: the transforms cost more
    assert not W.pays_off(torch.zeros(1, 256, 10, 10), w)  # 8x8 outputs: 4 tiles
    assert not W.pays_off(torch.zeros(256, 256, 3, 3), torch.zeros(256, 256, 1, 1, 3))
    assert not W.pays_off(torch.zeros(1, 256, 20, 20), torch.zeros(256, 256, 5, 5))
    assert not W.pays_off(torch.zeros(1, 512, 18, 18), torch.zeros(256, 256, 3, 3), groups=2)


def test_outside_the_context_and_for_other_convolutions_torch_convolves():
    x, w = torch.randn(1, 256, 18, 18, requires_grad=True), torch.randn(256, 256, 3, 3)
    assert F.conv2d(x, w).grad_fn.name() == "ConvolutionBackward0"
    with W.fast_convolutions(None):
        assert F.conv2d(x, w).grad_fn.name() == "ConvolutionBackward0"
    with W.fast_convolutions(W.Workspace()):
        assert F.conv2d(x, w).grad_fn.name() == "_WinogradBackward"
        assert F.conv2d(x, w, stride=2).grad_fn.name() == "ConvolutionBackward0"


def test_the_engine_uses_it_in_float32_on_the_cpu_only(monkeypatch):
    from gantrans.recipe import get_recipe
    from gantrans.training.bench import synthetic_spec
    from gantrans.training.engine import Engine, build_networks

    def engine(recipe, precision, options=None, **kwargs):
        cls = get_recipe(recipe)
        rec = cls({"generator": "resnet_6blocks", "ngf": 4, "ndf": 4, **(options or {})}, synthetic_spec(cls, 32))
        return Engine(rec, build_networks(rec, 0), torch.device("cpu"), precision, **kwargs)

    assert engine("cyclegan", "fp32").winograd
    assert not engine("cyclegan", "fp32", winograd=False).winograd
    assert not engine("cyclegan", "bf16").winograd
    # a gradient penalty differentiates the backward again, which the written-out one is not for
    assert not engine("cyclegan", "fp32", {"loss": "wgan-gp"}).winograd
    monkeypatch.setenv("GANTRANS_WINOGRAD", "0")  # the user's switch
    assert not engine("cyclegan", "fp32").winograd
    assert engine("cyclegan", "fp32", winograd=True).winograd  # bench's explicit choice


def test_a_training_step_gets_the_gradients_of_torchs_convolution():
    """The Engine's CycleGAN step at 64 px (256-channel residual blocks at 16x16), with and
    without Winograd from the same weights and batch: every generator weight's gradient agrees.

    How closely: a first step's gradients are ill-conditioned (instance norm's backward subtracts
    near-equal terms). Against the step in float64 they are off by 4e-4 to 4e-3 of their largest
    value with torch's convolution, 8e-3 to 1.3e-2 with Winograd's, and 0.4 to 0.5 in bf16, the
    default precision; a wrong transform or index would be off by the whole gradient."""
    from gantrans.recipe import get_recipe, preset_options
    from gantrans.training.bench import synthetic_batch, synthetic_spec
    from gantrans.training.engine import Engine, build_networks

    cls = get_recipe("cyclegan")
    spec = synthetic_spec(cls, 64)
    batch = synthetic_batch(spec, 1, seed=3)
    grads = {}
    for winograd in (False, True):
        rec = cls({**preset_options(cls, "paper"), "generator": "resnet_6blocks", "ndf": 8}, spec)
        engine = Engine(rec, build_networks(rec, 5), torch.device("cpu"), "fp32", winograd=winograd)
        assert engine.winograd is winograd
        engine.step(batch, 0)  # G's gradients stay on the weights until G's next phase
        grads[winograd] = {f"{k}.{n}": p.grad.clone() for k in ("G_A", "G_B")
                           for n, p in engine.nets[k].named_parameters()}
        assert engine._conv_workspace.buffers if winograd else not engine._conv_workspace.buffers
    for name, direct in grads[False].items():
        if name.endswith(".bias"):  # before instance norm: zero but for rounding, in both
            continue
        err = float((grads[True][name] - direct).abs().max() / direct.abs().max())
        assert err < 3e-2, (name, err)
