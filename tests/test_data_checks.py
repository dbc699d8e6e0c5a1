"""What ``gantrans data info`` and training say about a data set's files: pairs of two shapes,
a missing split folder named exactly, and ``--check`` decoding every image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gantrans.cli.main import main
from gantrans.data import open_dataset
from gantrans.data.formats import SkipReport
from gantrans.errors import ImageError
from gantrans.images import load_image


def _save(path: Path, size: tuple[int, int], seed: int = 0, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, **kw)
    return path


def _pair(root: Path, name: str, size_a: tuple[int, int], size_b: tuple[int, int], **kw_b) -> tuple[Path, Path]:
    return (_save(root / "A" / "train" / name, size_a),
            _save(root / "B" / "train" / name, size_b, seed=1, **kw_b))


def _turned_a_quarter() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees to show
    return exif.tobytes()


def _qa_folder(root: Path) -> tuple[Path, Path]:
    """QA's repro: 7 pairs of one size, one pair of two sizes of one shape, one of two shapes."""
    for k in range(7):
        _pair(root, f"{k}.png", (32, 24), (32, 24))
    _pair(root, "size.png", (120, 100), (60, 50))
    return _pair(root, "aspect.png", (640, 480), (480, 640))


def _info_json(args: list[str], capsys) -> dict:
    assert main(["data", "info", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# -- 1. pairs of two shapes ------------------------------------------------------------------------

def test_data_info_names_a_pair_of_two_shapes_once_and_keeps_it(tmp_path, capsys):
    a, b = _qa_folder(tmp_path)
    assert main(["data", "info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "split 'train': 9 items" in out  # kept: the user may mean it
    said = [line for line in out.splitlines() if line.startswith("  warning:")]
    assert said == [f"  warning: {a} is 640x480 but its partner {b} is 480x640: different shapes, so training "
                    f"stretches the partner to 640x480 and their pixels do not line up; crop or turn one to match "
                    f"the other (a photo that lost its EXIF rotation lies on its side), or remove the pair"]
    assert "size.png" not in out  # one shape, two sizes: resized, nothing to say
    info = _info_json([str(tmp_path)], capsys)
    assert info["items"] == 9 and info["warnings"] == []  # "warnings" are files skipped
    assert [n.split(" is ")[0] for n in info["notices"]] == [str(a)]


def test_training_is_told_at_the_start_and_does_not_count_the_pair_as_skipped(tmp_path, capsys):
    a, b = _qa_folder(tmp_path)
    report = SkipReport()  # what the trainer passes
    ds = open_dataset(tmp_path, accepted_kinds=["paired"], on_skip=report, load_size=36, crop_size=32)
    err = capsys.readouterr().err
    assert len(ds) == 9 and report.count == 0  # "0 unusable files skipped": none was
    assert err.count("gantrans: warning: ") == 1 and f"{a} is 640x480 but its partner {b} is 480x640" in err
    open_dataset(tmp_path, accepted_kinds=["paired"], on_skip=report, load_size=36, crop_size=32)
    assert capsys.readouterr().err == ""  # the same reporter (sample view, resume) says it once
    from gantrans.data.formats import DataNotice

    told: list[str] = []  # a plain reporter is told as well
    open_dataset(tmp_path, accepted_kinds=["paired"], on_skip=told.append, load_size=36, crop_size=32)
    assert len(told) == 1 and str(b) in told[0]
    with pytest.warns(DataNotice, match="480x640"):  # and without one, a warning
        open_dataset(tmp_path, accepted_kinds=["paired"], load_size=36, crop_size=32)


def test_the_shapes_compared_are_those_exif_orientation_gives(tmp_path, capsys):
    # stored 640x480 and turned a quarter by EXIF: 480x640 decoded, as its plain partner
    upright, turned = _pair(tmp_path / "same", "p.jpg", (480, 640), (640, 480), exif=_turned_a_quarter())
    assert load_image(turned).size == load_image(upright).size == (480, 640)
    assert _info_json([str(tmp_path / "same")], capsys)["notices"] == []
    # stored alike, one turned: decoded, they differ
    for ext in ("jpg", "png", "webp"):
        plain, turned = _pair(tmp_path / ext, f"p.{ext}", (640, 480), (640, 480), exif=_turned_a_quarter())
        assert load_image(turned).size == (480, 640)
        [said] = _info_json([str(tmp_path / ext)], capsys)["notices"]
        assert said.startswith(f"{plain} is 640x480 but its partner {turned} is 480x640 (stored 640x480, turned "
                               f"by its EXIF orientation): different shapes")


def test_many_pairs_of_two_shapes_are_named_up_to_five_then_counted(tmp_path, capsys):
    for k in range(8):
        _pair(tmp_path, f"{k}.png", (40, 30), (30, 40))
    notices = _info_json([str(tmp_path)], capsys)["notices"]
    assert len(notices) == 6 and all(" but its partner " in n for n in notices[:5])
    a, b = tmp_path / "A" / "train", tmp_path / "B" / "train"
    assert notices[5] == (f"{a}/ and {b}/: 3 more pair(s) of two different shapes (the first 5 are named above); "
                          f"make each pair one shape")


@pytest.mark.parametrize("a, b, same", [
    ((120, 100), (60, 50), True), ((640, 480), (480, 640), False), ((101, 51), (50, 25), True),
    ((7, 5), (4, 2), True), ((1024, 768), (1020, 768), True), ((1024, 768), (1000, 768), False),
    ((256, 256), (256, 200), False)])
def test_one_shape_allows_the_rounding_of_an_odd_side_and_no_more(a, b, same):
    from gantrans.data.formats import same_shape

    assert same_shape(a, b) is same and same_shape(b, a) is same


def test_a_pair_of_odd_sizes_halved_is_one_shape(tmp_path, capsys):
    _pair(tmp_path, "odd.png", (101, 51), (50, 25))
    assert _info_json([str(tmp_path)], capsys)["notices"] == []


# -- 2. a missing split folder, named exactly -----------------------------------------------------

def test_a_missing_split_folder_is_named_and_not_the_one_that_is_there(tmp_path, capsys):
    for side in ("trainA", "trainB", "testA"):
        _save(tmp_path / "u" / side / "0.png", (8, 8))
    assert main(["data", "info", str(tmp_path / "u"), "--split", "test"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"gantrans: error: {tmp_path / 'u'}: no testB/ folder for split 'test' (found: testA/, trainA/, "
                   f"trainB/); add what is missing, or use a split the folder has")
    # paired: A/test/ without B/test/
    _pair(tmp_path / "p", "0.png", (8, 8), (8, 8))
    _save(tmp_path / "p" / "A" / "test" / "0.png", (8, 8))
    assert main(["data", "info", str(tmp_path / "p"), "--split", "test"]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'p'}: no B/test/ folder for split 'test' (found: A/, B/, A/test/, A/train/, B/train/)" in err
    assert main(["data", "info", str(tmp_path / "p"), "--split", "val"]) == 1  # nothing of it: both layouts
    assert "no A/val/ and B/val/ folders (nor valA/ and valB/) for split 'val'" in capsys.readouterr().err
    # paired in the other layout (trainA/ trainB/ of matching names): testA/ without testB/
    assert main(["data", "info", str(tmp_path / "u"), "--format", "paired", "--split", "test"]) == 1
    assert f"{tmp_path / 'u'}: no testB/ folder for split 'test' (found: " in capsys.readouterr().err


# -- 3. --check decodes every image --------------------------------------------------------------

def _truncated_jpeg(path: Path) -> Path:
    """A JPEG whose header reads, and whose image data is cut short."""
    _save(path, (128, 128), seed=5, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    return path


def test_check_finds_a_truncated_jpeg_the_header_scan_counts_as_usable(tmp_path, capsys):
    for side in ("trainA", "trainB"):
        for k in range(3):
            _save(tmp_path / side / f"{k}.png", (16, 16), seed=k)
    bad = _truncated_jpeg(tmp_path / "trainA" / "truncated.jpg")
    with pytest.raises(ImageError) as exc:
        load_image(bad)
    training_says = f"skipping {exc.value}"  # what training says when it comes to the file

    assert main(["data", "info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "4 items" in out and "truncated.jpg" not in out  # the headers are fine
    assert "checked by their headers only; --check decodes each one to find truncated or corrupt files" in out
    assert _info_json([str(tmp_path)], capsys)["check"] is None

    assert main(["data", "info", str(tmp_path), "--check"]) == 0
    out = capsys.readouterr().out
    assert f"  warning: {training_says}\n" in out and "the image data is truncated" in training_says
    assert ("--check: 1 of 7 images cannot be decoded (named above); training skips them: replace or remove them"
            in out)
    check = _info_json([str(tmp_path), "--check"], capsys)["check"]
    assert check == {"decoded": 7, "unusable": [{"file": str(bad), "reason": str(exc.value).removeprefix(f"{bad}: ")}]}


def test_check_decodes_both_sides_of_the_pairs_and_says_when_all_decode(tmp_path, capsys):
    for k in range(3):
        _pair(tmp_path, f"{k}.png", (16, 16), (16, 16))
    assert main(["data", "info", str(tmp_path), "--check"]) == 0
    assert "--check: all 6 images decode" in capsys.readouterr().out
    _save(tmp_path / "A" / "train" / "t.jpg", (128, 128))
    bad = _truncated_jpeg(tmp_path / "B" / "train" / "t.jpg")  # a target: not among the sizes a pair takes
    check = _info_json([str(tmp_path), "--check"], capsys)["check"]
    assert check["decoded"] == 8 and [u["file"] for u in check["unusable"]] == [str(bad)]
