"""Tiled inference: coverage, blending weights, parity with untiled runs, no seams."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gantrans.errors import Cancelled, ConfigError
from gantrans.inference import CancelToken, TranslateOptions, Translator
from gantrans.inference.tiling import ramp, run_tiled, tile_starts

sys.path.insert(0, str(Path(__file__).parent))
from onnx_models import translate_model  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(length=st.integers(1, 400), tile=st.integers(2, 128), overlap=st.integers(0, 64))
def test_tiles_cover_the_axis_with_the_overlap(length, tile, overlap):
    if overlap >= tile:
        if tile < length:
            with pytest.raises(ConfigError):
                tile_starts(length, tile, overlap)
        return
    starts = tile_starts(length, tile, overlap)
    t = min(tile, length)
    assert starts[0] == 0 and starts[-1] + t == length
    for a, b in zip(starts, starts[1:]):
        assert a < b and a + t - b >= overlap  # neighbours overlap by at least ``overlap``


@pytest.mark.parametrize("blend", ["linear", "cosine"])
def test_complementary_ramps_sum_to_one(blend):
    o = 16
    left = ramp(64, o, rise=False, fall=True, blend=blend)
    right = ramp(64, o, rise=True, fall=False, blend=blend)
    np.testing.assert_allclose(left[-o:] + right[:o], 1.0)
    assert np.all(left[:-o] == 1) and np.all(left[-o // 4:] == 0)  # the padded margin is ignored
    assert np.all(np.diff(right[:o]) >= 0)


def _image(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    rng = np.random.default_rng(0)
    base = np.stack([np.sin(6 * xx), np.cos(5 * yy), xx * yy], axis=2)
    return np.clip(0.5 + 0.4 * base + 0.05 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


@pytest.mark.parametrize("blend", ["linear", "cosine"])
def test_pointwise_model_tiled_equals_untiled(tmp_path, blend):
    path = translate_model(tmp_path / "p.onnx", kernel=1, multiple=4)
    img = _image(100, 90)
    whole = Translator(path, options=TranslateOptions(tile=0)).translate_array(img)
    tiled_tr = Translator(path, options=TranslateOptions(tile=32, tile_overlap=8, blend=blend))
    calls = []
    tiled = tiled_tr.translate_array(img, on_tile=lambda k, n: calls.append((k, n)))
    assert len(calls) == calls[-1][1] > 4  # really tiled
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def _seam_error(tmp_path, overlap: int) -> float:
    path = translate_model(tmp_path / "k5.onnx", kernel=5, seed=1)
    img = _image(96, 96)
    whole = Translator(path, options=TranslateOptions(tile=0)).translate_array(img)
    tiled = Translator(path, options=TranslateOptions(tile=40, tile_overlap=overlap)).translate_array(img)
    return float(np.abs(tiled - whole).max())


def test_blending_hides_seams(tmp_path):
    # A 5x5 conv sees zero padding at tile edges; without overlap that shows as a seam,
    # with a feathered overlap wider than the receptive field it is all but gone.
    hard = _seam_error(tmp_path, 0)
    soft = _seam_error(tmp_path, 16)
    assert hard > 0.05
    assert soft < 0.01 and soft < hard / 5


def test_cancel_between_tiles():
    token = CancelToken()
    calls = []

    def fn(x):
        calls.append(1)
        token.cancel()
        return x

    with pytest.raises(Cancelled):
        run_tiled(np.zeros((64, 64, 3), np.float32), fn, tile=16, overlap=4, cancel=token)
    assert len(calls) == 1


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 90), w=st.integers(1, 90), tile=st.integers(2, 40), overlap=st.integers(0, 30),
       blend=st.sampled_from(["linear", "cosine"]))
def test_every_pixel_gets_weight(h, w, tile, overlap, blend):
    # identity "network": any covering with positive total weight gives the input back exactly
    x = np.random.default_rng(0).random((h, w, 2)).astype(np.float32)
    out = run_tiled(x, lambda t: t, tile=tile, overlap=overlap, blend=blend)
    np.testing.assert_allclose(out, x, atol=1e-6)


def test_unsupported_tiling_refused(tmp_path):
    path = translate_model(tmp_path / "u.onnx", tiling="unsupported")
    with pytest.raises(ConfigError, match="does not support tiling"):
        Translator(path, options=TranslateOptions(tile=32)).translate_array(_image(64, 64))
