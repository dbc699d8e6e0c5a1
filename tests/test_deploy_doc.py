"""docs/deploy.md: its plain onnxruntime + NumPy + Pillow code gives the pixels gantrans gives."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from onnx_models import generator_model, translate_model
from PIL import Image

from gantrans.inference import Generator, Translator, processing

DOC = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"


@pytest.fixture(scope="module")
def doc_code() -> dict:
    """The doc's python blocks, run in order in one namespace."""
    namespace: dict = {}
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - the project's own documentation
    return namespace


@pytest.mark.parametrize(("channels", "value_range"), [(3, (-1.0, 1.0)), (1, (0.0, 1.0))])
def test_the_translate_function_matches_gantrans_translate(tmp_path, doc_code, channels, value_range):
    # a 3x3 convolution sees the padding, and the size rule (multiples of 4, at least 8) needs it
    model = translate_model(tmp_path / "m.onnx", channels=channels, kernel=3, multiple=4, min_size=8,
                            value_range=value_range)
    rng = np.random.default_rng(0)
    translator = Translator(model)
    for h, w in ((13, 10), (1, 6), (16, 24)):
        shape = (h, w, 3) if channels == 3 else (h, w)
        path = tmp_path / f"in_{h}x{w}.png"
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
        mine = np.asarray(doc_code["translate"](str(model), str(path)))
        ours = processing.from_unit_float(translator.translate_array(np.asarray(Image.open(path))))
        np.testing.assert_array_equal(mine, ours.reshape(mine.shape))


@pytest.mark.parametrize("classes", [None, ["circle", "square", "star"]])
def test_the_generate_function_matches_gantrans_generate(tmp_path, doc_code, classes):
    model = generator_model(tmp_path / "g.onnx", class_names=classes)
    generator = Generator(model)
    ours = generator.generate(5, seed=11)
    mine = np.stack([np.asarray(i).reshape(ours.shape[1:]) for i in doc_code["generate"](str(model), 5, 11)])
    np.testing.assert_array_equal(mine, ours)
    if classes:
        ours = generator.generate(3, seed=2, labels=2)
        mine = np.stack([np.asarray(i) for i in doc_code["generate"](str(model), 3, 2, labels=[2, 2, 2])])
        np.testing.assert_array_equal(mine, ours)
