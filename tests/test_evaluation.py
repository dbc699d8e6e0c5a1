"""Scoring against ground truth (gantrans.evaluation), ``gantrans eval`` and the photos-* data sets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx_models import translate_model
from PIL import Image

from gantrans.cli.main import main
from gantrans.data.builtin import get_builtin, save_png
from gantrans.errors import DataError
from gantrans.evaluation import PSNR_CAP, Evaluation, contact_sheet, evaluate, find_test_pairs, l1, psnr, ssim


def _image(seed: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).random((size, size, 3)).astype(np.float32)


def test_metrics_on_known_cases():
    x = _image(0)
    assert l1(x, x) == 0 and psnr(x, x) == PSNR_CAP and ssim(x, x) == pytest.approx(1.0)
    y = np.clip(x, 0.2, 0.8)
    z = y + 0.1
    assert l1(z, y) == pytest.approx(0.1, abs=1e-6)
    assert psnr(z, y) == pytest.approx(20.0, abs=1e-4)  # MSE 0.01
    assert ssim(z, y) < 1 and ssim(_image(1), x) < 0.1  # unrelated noise is dissimilar
    with pytest.raises(ValueError, match="shape"):
        l1(x, x[:16])


def test_ssim_matches_scikit_image_when_installed():
    metrics = pytest.importorskip("skimage.metrics")
    x, y = _image(2, 48), np.clip(_image(2, 48) * 0.8 + 0.1 * _image(3, 48), 0, 1)
    want = metrics.structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                         data_range=1.0, channel_axis=-1)
    assert ssim(x, y) == pytest.approx(want, abs=1e-6)


def _u8(x: np.ndarray) -> np.ndarray:
    return (x * 255 + 0.5).astype(np.uint8)


def test_test_pairs_in_every_two_domain_form(tmp_path):
    a, b = _u8(_image(4)), _u8(_image(5))
    for name, layout in (("paired", ("A/test/p.png", "B/test/p.png")), ("unpaired", ("testA/p.png", "testB/p.png"))):
        save_png(a, tmp_path / name / layout[0])
        save_png(b, tmp_path / name / layout[1])
        save_png(b, tmp_path / name / layout[1].replace("p.png", "unmatched.png"))
        pairs = find_test_pairs(tmp_path / name)
        assert [p.name for p in pairs] == ["p"]
        result, _ = evaluate(lambda x: x, pairs)
        assert result.mean("model") == result.mean("identity")
    save_png(np.concatenate([a, b], axis=1), tmp_path / "aligned" / "test" / "p.png")
    (pair,) = find_test_pairs(tmp_path / "aligned")
    result, kept = evaluate(lambda x: np.full_like(x, 0.5), [pair], keep=1)
    assert kept[0][1].shape == (32, 32, 3) and result.model[0]["L1"] != result.identity[0]["L1"]
    with pytest.raises(DataError, match="no paired 'test' split"):
        find_test_pairs(tmp_path / "paired" / "A" / "test")


def test_contact_sheet_has_a_row_per_image(tmp_path):
    rows = [(f"i{k}", _image(k), _image(k + 10), _image(k + 20)) for k in range(3)]
    ev = Evaluation(names=[r[0] for r in rows], model=[{"L1": 0.1, "PSNR": 20.0, "SSIM": 0.5}] * 3,
                    identity=[{"L1": 0.2, "PSNR": 15.0, "SSIM": 0.4}] * 3)
    path = contact_sheet(rows, ev, tmp_path / "sheet.png", title="t", scale=2)
    with Image.open(path) as im:
        assert im.width > 3 * 64 and im.height > 3 * 64
        sheet = np.asarray(im.convert("RGB"))
    assert sheet.std() > 10  # images were pasted, not just a white canvas


def test_photos_sets_split_by_photo_with_exact_ground_truth(tmp_path):
    from gantrans_plugins.datasets import grades

    paired = get_builtin("photos-warm").make(tmp_path / "p", "paired")
    train, test = sorted((paired / "A" / "train").glob("*.png")), sorted((paired / "A" / "test").glob("*.png"))
    assert len(train) == 200 and len(test) == 40
    assert all(p.stem.endswith("_chelsea") for p in test)
    assert not any(p.stem.endswith(grades.TEST_PHOTOS) for p in train)
    a = np.asarray(Image.open(train[0]))
    b = np.asarray(Image.open(paired / "B" / "train" / train[0].name))
    assert a.shape == (64, 64, 3) and np.array_equal(grades.warm(a), b)  # a colour edit is per pixel
    unpaired = get_builtin("photos-sharpen").make(tmp_path / "u", "unpaired", seed=3)
    ua = np.asarray(Image.open(sorted((unpaired / "trainA").glob("*.png"))[0]))
    ub = np.asarray(Image.open(sorted((unpaired / "trainB").glob("*.png"))[0]))
    assert not np.array_equal(grades.sharpen(ua), ub)  # unpaired: B shows other crops than A
    assert len(find_test_pairs(unpaired)) == 40  # its test split is paired
    meta = json.loads((unpaired / "gantrans-data.json").read_text())
    assert meta["task"] == "sharpen" and meta["photos"]["test"] == ["chelsea"]


def test_shipped_photos_are_small_and_each_has_a_licence():
    from gantrans_plugins.datasets import grades

    files = sorted(grades.PHOTO_DIR.glob("*.png"))
    licences = (grades.PHOTO_DIR / "LICENCES.md").read_text(encoding="utf-8")
    assert {f.stem for f in files} == set(grades.TRAIN_PHOTOS + grades.TEST_PHOTOS)
    assert sum(f.stat().st_size for f in files) < 2_000_000
    for f in files:
        row = next(line for line in licences.splitlines() if line.startswith(f"| {f.name} |"))
        assert "public domain" in row or "CC0" in row


def test_eval_cli_scores_an_onnx_model_beside_identity_and_writes_a_sheet(tmp_path, capsys):
    data = get_builtin("photos-fade").make(tmp_path / "fade", "paired")
    model = translate_model(tmp_path / "id.onnx", identity=True)
    sheet = tmp_path / "out" / "sheet.png"
    assert main(["eval", str(model), "--data", str(data), "--sheet", str(sheet), "--sheet-rows", "2",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 40 and sheet.is_file()
    assert report["model"]["L1"] == pytest.approx(report["identity"]["L1"], abs=2e-3)  # an identity model
    assert report["beats_identity"]["L1"] is False
    from gantrans.jobs import Job

    job = Job(["eval", str(model), "--data", str(data), "--json"]).start()  # and in a stream, its result
    assert job.wait(timeout=300) == 0
    [result] = [e.data for e in job.received if e.event == "result"]
    assert result["figures"]["beats_identity"] == report["beats_identity"]
    assert len(result["figures"]["per_image"]) == 40
    assert main(["eval", str(model), "--data", str(tmp_path / "nowhere")]) == 1
    assert "nowhere: not a folder" in capsys.readouterr().err


def test_eval_never_replaces_a_file_unasked_and_reads_images_as_translate_does(tmp_path, capsys):
    model = translate_model(tmp_path / "id.onnx", identity=True)
    root = tmp_path / "e16"
    (root / "A" / "test").mkdir(parents=True)
    (root / "B" / "test").mkdir(parents=True)
    gray = (np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8)
    for k in range(2):  # the input is a 16-bit copy of its 8-bit target: identity scores L1 ~ 0
        Image.fromarray(gray.astype(np.uint16) * 257).save(root / "A" / "test" / f"{k}.png")
        Image.fromarray(gray).convert("RGB").save(root / "B" / "test" / f"{k}.png")
    notes = tmp_path / "notes.png"
    notes.write_text("my notes")
    assert main(["eval", str(model), "--data", str(root), "--sheet", str(notes)]) == 1
    assert f"{notes}: already exists; pass --overwrite to replace it" in capsys.readouterr().err
    assert notes.read_text() == "my notes"
    assert main(["eval", str(model), "--data", str(root), "--sheet", str(tmp_path / "sheet.txt")]) == 1
    assert "a contact sheet is written as PNG" in capsys.readouterr().err
    assert main(["eval", str(model), "--data", str(root), "--sheet", str(notes), "--overwrite", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["identity"]["L1"] < 1e-6 and Image.open(notes).format == "PNG"


def test_eval_of_a_run_leaves_its_export_list_alone(tmp_path, capsys):
    pytest.importorskip("torch")
    from gantrans.runs import RunDir

    data = get_builtin("photos-fade").make(tmp_path / "fade", "paired")
    assert main(["train", "pix2pix", "--data", str(data), "--name", "px", "--runs-dir", str(tmp_path / "runs"),
                  "--crop-size", "32", "--max-steps", "1", "--workers", "0", "--no-tensorboard",
                  "--generator", "unet_32", "-o", "ngf=8", "-o", "ndf=8"]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "runs" / "px"), "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 40
    assert RunDir(tmp_path / "runs" / "px").exports() == []


def test_eval_refuses_a_model_scored_the_wrong_way_round_or_a_generator(tmp_path, capsys):
    from onnx_models import generator_model

    root = tmp_path / "pairs"
    for side in ("A", "B"):
        (root / side / "test").mkdir(parents=True)
        Image.fromarray((_image(1 if side == "A" else 2) * 255).astype(np.uint8)).save(root / side / "test" / "0.png")
    backwards = translate_model(tmp_path / "b2a.onnx", identity=True, direction="B2A")  # domains B -> A
    assert main(["eval", str(backwards), "--data", str(root)]) == 1  # no domain names: the head name decides
    assert "the model's direction is B2A, but" in capsys.readouterr().err
    (root / "gantrans-data.json").write_text(json.dumps({"domains": ["A", "B"]}))
    assert main(["eval", str(backwards), "--data", str(root)]) == 1
    err = capsys.readouterr().err
    assert "the model translates B -> A, but" in err and "is scored A -> B; pass --reverse" in err
    assert main(["eval", str(backwards), "--data", str(root), "--reverse", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 1
    gen = generator_model(tmp_path / "g.onnx")
    assert main(["eval", str(gen), "--data", str(tmp_path / "no-pairs-here")]) == 1
    assert "a 'generate' model makes images from noise" in capsys.readouterr().err
    # a run of a recipe that takes no images: said as such, not as a missing 'A2B' head
    run = tmp_path / "runs" / "cg"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"recipe": "cgan"}))
    assert main(["eval", str(run), "--data", str(root)]) == 1
    err = capsys.readouterr().err
    assert f"{run}: a 'cgan' run makes images from noise, and 'gantrans eval' scores translation models" in err


def test_a_folder_of_single_images_or_classes_is_no_paired_split(tmp_path):
    """A vanilla set's test/ of faces was scored left half against right half; a class folder gave NaN."""
    single = tmp_path / "smileys" / "test"
    single.mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(single / "0.png")
    with pytest.raises(DataError, match=r"no paired 'test' split found .*; test/ holds single 32x32 images, not "
                                        r"A\|B pairs"):
        find_test_pairs(tmp_path / "smileys")
    classes = tmp_path / "classes" / "test" / "circle"
    classes.mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(classes / "0.png")
    with pytest.raises(DataError, match="test/ holds no images at its top"):
        find_test_pairs(tmp_path / "classes")
    aligned = tmp_path / "aligned" / "test"
    aligned.mkdir(parents=True)
    Image.new("RGB", (64, 32)).save(aligned / "0.png")
    assert [p.name for p in find_test_pairs(tmp_path / "aligned")] == ["0"]
