"""gantrans export --int8: static QDQ per-channel quantization, calibrated on images, PSNR-gated."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from gantrans.errors import ExportError
from gantrans.metadata import ModelContract
from gantrans.recipe import DataSpec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_export import TINY_CYCLEGAN, make_run  # noqa: E402


def _smooth_images(folder: Path, n: int, seed: int) -> None:
    """Photo-like (smooth, varied) images so calibration ranges resemble real data."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[0:40, 0:48] / 40.0
    for i in range(n):
        img = np.stack([np.sin(xx * rng.uniform(2, 8) + rng.uniform(0, 6)), np.cos(yy * rng.uniform(2, 8)),
                        xx * yy * rng.uniform(0.5, 1.5)], -1)
        img = ((img - img.min()) / (np.ptp(img) + 1e-6) * 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i:02d}.png")


@pytest.fixture(scope="module")
def run_with_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("q")
    for sub, seed in (("trainA", 0), ("testA", 1), ("trainB", 2), ("testB", 3)):
        _smooth_images(root / "data" / sub, 8, seed)
    # Not the defaults' zero-started residual generator: an untrained one of those returns its
    # input, which int8 reproduces exactly (no PSNR to check).
    return make_run(root / "runs", "tiny", "cyclegan", dict(TINY_CYCLEGAN, ngf=8, residual=False),
                    DataSpec("unpaired", {"A": 3, "B": 3}, 32), data_path=str(root / "data"))


def test_int8_export_from_run_data(run_with_data: Path, tmp_path: Path) -> None:
    from gantrans.export import export_run

    lines: list[str] = []
    written = export_run(run_with_data, out_dir=tmp_path, heads="A2B", int8=True, exporter="torchscript",
                         progress=lines.append, min_psnr=20.0)
    assert [p.name for p in written] == ["tiny_A2B.onnx", "tiny_A2B.int8.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny_A2B.int8.onnx", "tiny_A2B.onnx"]
    # Calibrated through the run's data loader, on the test split of the source domain.
    assert any("held-out images of" in line and "(test split)" in line for line in lines)
    model = onnx.load(str(written[1]))
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    weight_scales = [i for i in model.graph.initializer if i.name.endswith("_scale") and len(i.dims) == 1]
    assert weight_scales, "per-channel quantization keeps one scale per output channel"
    sess = ort.InferenceSession(str(written[1]), providers=["CPUExecutionProvider"])
    c = ModelContract.from_metadata_props(sess.get_modelmeta().custom_metadata_map)
    assert c.provenance["quantization"] == "int8-qdq-per-channel"
    psnr = c.provenance["int8_psnr_db"]
    assert psnr >= 20.0 and any(f"PSNR {psnr:.2f} dB" in line for line in lines)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 44, 60)).astype(np.float32)
    assert sess.run(None, {"image": x})[0].shape == (2, 3, 44, 60)


def test_int8_after_an_fp32_export_keeps_that_file_when_it_is_this_checkpoints(run_with_data: Path,
                                                                                 tmp_path: Path) -> None:
    """``export`` then ``export --int8``: the int8 model is added, the fp32 file left as it is; an
    fp32 file of another training under the same run name is refused, not built on."""
    from gantrans.export import export_run

    kw = {"out_dir": tmp_path, "heads": "A2B", "exporter": "torchscript", "min_psnr": 20.0}
    [fp32] = export_run(run_with_data, progress=lambda m: None, **kw)
    before, inode = fp32.read_bytes(), fp32.stat().st_ino
    lines: list[str] = []
    assert export_run(run_with_data, int8=True, progress=lines.append, **kw) == [tmp_path / "tiny_A2B.int8.onnx"]
    assert fp32.read_bytes() == before and fp32.stat().st_ino == inode
    assert any("is already this checkpoint's export" in line for line in lines)
    with pytest.raises(ExportError, match="tiny_A2B.int8.onnx: already exists; pass --overwrite"):
        export_run(run_with_data, int8=True, progress=lambda m: None, **kw)
    # Same run name and step, other weights: the fp32 file is not this checkpoint's export.
    other = make_run(tmp_path / "again", "tiny", "cyclegan", dict(TINY_CYCLEGAN, ngf=8, residual=False),
                     DataSpec("unpaired", {"A": 3, "B": 3}, 32), seed=7,
                     data_path=json.loads((run_with_data / "config.json").read_text())["data"])
    (tmp_path / "tiny_A2B.int8.onnx").unlink()
    with pytest.raises(ExportError, match="tiny_A2B.onnx: already exists; pass --overwrite"):
        export_run(other, int8=True, progress=lambda m: None, **kw)
    assert fp32.read_bytes() == before and not (tmp_path / "tiny_A2B.int8.onnx").exists()


def test_int8_below_threshold_is_refused_unless_forced(run_with_data: Path, tmp_path: Path) -> None:
    from gantrans.export import export_run

    calib = tmp_path / "calib"
    _smooth_images(calib, 6, 5)
    out = tmp_path / "out"
    lines: list[str] = []
    kw = {"out_dir": out, "heads": "B2A", "int8": True, "calibration": calib, "exporter": "torchscript",
          "min_psnr": 500.0, "progress": lines.append}
    with pytest.raises(ExportError, match=r"head 'B2A': int8 model reaches only \d+\.\d\d dB PSNR.*--force"):
        export_run(run_with_data, **kw)
    assert sorted(p.name for p in out.iterdir()) == ["tiny_B2A.onnx"]  # fp32 kept, no int8, no temp files
    assert any("convs kept in fp32" in line for line in lines)  # tried keeping the edge convs in fp32
    import logging

    before = logging.getLogger().level
    written = export_run(run_with_data, force=True, overwrite=True, **kw)
    assert written[1].name == "tiny_B2A.int8.onnx" and written[1].is_file()
    # ONNX Runtime's quantization logs were quieted while it ran, not the process's warnings for good
    assert logging.getLogger().level == before != logging.ERROR


def test_int8_without_calibration_data(tmp_path: Path) -> None:
    from gantrans.export import export_run

    run = make_run(tmp_path, "nodata", "cyclegan", TINY_CYCLEGAN, DataSpec("unpaired", {"A": 3, "B": 3}, 32),
                   keep=("G_A",))
    with pytest.raises(ExportError, match="no such calibration folder"):
        export_run(run, out_dir=tmp_path / "o", int8=True, calibration=tmp_path / "missing", progress=lambda m: None)
    assert not (tmp_path / "o").exists()
    with pytest.raises(ExportError, match="pass --calibration DIR"):
        export_run(run, out_dir=tmp_path / "o", int8=True, exporter="torchscript", progress=lambda m: None)
    assert json.loads((run / "config.json").read_text())["data"] == ""
