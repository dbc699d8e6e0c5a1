"""The "New training" form's data panel agrees with ``gantrans data info`` and training about a folder:
the same files considered (hidden ones and non-images left out), one verdict per file in gantrans's
words, and per-folder counts of usable images labelled as such, beside the split's item count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui_stubs import StubWindow, isolate_settings  # noqa: E402

from gantrans.cli.main import main  # noqa: E402
from gantrans.images import iter_images  # noqa: E402
from gantrans_gui.data_inspect import describe, image_summary  # noqa: E402

BAD = {"testA/zero.png": "the file is empty (0 bytes)",
       "trainA/really_png.jpg": "the file is a PNG image but is named .jpg; rename it to really_png.png",
       "trainA/zero.png": "the file is empty (0 bytes)",
       "trainB/notes.png": "not an image, it is a text file"}


def messy_folder(root: Path) -> Path:
    """trainA/ trainB/ testA/ of good PNGs, plus what a real folder collects: macOS AppleDouble
    files, a hidden folder of thumbnails, an empty file, a PNG named .jpg, text named .png."""
    from PIL import Image

    for folder, n, size in (("trainA", 3, (32, 32)), ("trainB", 2, (48, 32)), ("testA", 2, (32, 32))):
        (root / folder).mkdir(parents=True)
        for k in range(n):
            Image.new("RGB", size, (k * 60, 0, 0)).save(root / folder / f"img {k:03d}.png")
    (root / "trainA" / "._img 001.png").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    (root / "trainB" / "._img 000.png").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    (root / "trainA" / ".thumbs").mkdir()
    Image.new("RGB", (8, 8)).save(root / "trainA" / ".thumbs" / "img 000.png")  # a good image, hidden
    (root / "trainA" / "zero.png").write_bytes(b"")
    (root / "testA" / "zero.png").write_bytes(b"")
    Image.new("RGB", (32, 32)).save(root / "trainA" / "really_png.jpg", format="PNG")
    (root / "trainB" / "notes.png").write_text("some notes, not an image\n")
    (root / "trainB" / "readme.txt").write_text("not an image extension: not considered\n")
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    return root


def data_info(root: Path, capsys) -> dict:
    capsys.readouterr()
    assert main(["data", "info", str(root), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_scan_lists_the_files_training_lists(tmp_path):
    root = messy_folder(tmp_path / "data")
    s = image_summary(root)
    assert s["images"] == len(list(iter_images(root))) == 11 and s["usable"] == 7 and not s["truncated"]


def test_each_file_gets_the_verdict_data_info_gives_it(tmp_path, capsys):
    root = messy_folder(tmp_path / "data")
    s = image_summary(root)
    assert {Path(f).as_posix(): why for f, why in s["bad"]} == BAD  # no AppleDouble file, no hidden folder
    assert s["folders"] == {"testA": 2, "trainA": 3, "trainB": 2}  # usable images only
    assert s["sizes"] == [((32, 32), 5), ((48, 32), 2)]  # of the usable images (not the hidden 8x8)
    info = data_info(root, capsys)
    # the command reads the train split: its skips are the scan's verdicts on trainA/ and trainB/, word for word
    said = {w for w in info["warnings"] if w.startswith("skipping ")}
    assert said == {f"skipping {root / f}: {why}" for f, why in s["bad"] if f.startswith("train")}
    assert info["images_per_domain"] == {"A": s["folders"]["trainA"], "B": s["folders"]["trainB"]}


def test_the_panel_names_each_bad_file_once_beside_the_split_count(tmp_path, capsys):
    root = messy_folder(tmp_path / "data")
    text = describe(data_info(root, capsys), image_summary(root))
    assert "split 'train': <b>3</b> items (A: 3 images, B: 2 images)" in text
    assert "Usable images by folder, every split: testA/ 2, trainA/ 3, trainB/ 2" in text
    assert "Sizes: 32×32 (5), 48×32 (2)<br>" in text
    assert "4 bad file(s), left out:" in text
    for f, why in BAD.items():
        assert text.count(f"{f}: ") == 1 and f"• {f}: {why}" in text  # once: not again as the command's skip
    assert "skipped:" not in text and "unreadable file(s) of" not in text
    assert "._img" not in text and ".thumbs" not in text and "8×8" not in text and str(tmp_path) not in text
    assert "cannot identify" not in text


def test_a_skip_the_scan_does_not_name_is_still_shown(tmp_path, capsys):
    from PIL import Image

    root = tmp_path / "pairs"
    for side in ("A", "B"):
        (root / side).mkdir(parents=True)
        for k in (1, 2):
            Image.new("RGB", (16, 16)).save(root / side / f"{k}.png")
    (root / "B" / "2.png").write_bytes(b"")  # A/2.png is good, but left out with its unusable partner
    info = data_info(root, capsys)
    assert info["format"] == "paired" and info["items"] == 1
    text = describe(info, image_summary(root))
    assert "1 bad file(s), left out:<br>• B/2.png: the file is empty (0 bytes)" in text
    assert text.count("skipped:") == 1 and f"skipped: {root / 'A' / '2.png'}: its partner" in text
    # a line about files used all the same (or a folder left out) is not called a skip
    notice = f"{root / 'A' / '1.png'} is 16x16 but its partner {root / 'B' / '1.png'} is 8x8: different shapes"
    text = describe({**info, "warnings": [*info["warnings"], notice]}, image_summary(root))
    assert text.count("skipped:") == 1 and f">{notice}</span>" in text


def test_a_long_folder_is_counted_up_to_the_limit_and_says_so(tmp_path):
    root = messy_folder(tmp_path / "data")
    s = image_summary(root, limit=3)
    assert s["images"] == 3 and s["truncated"]
    assert "(of the first 3 image files only)" in describe(None, s)
    assert "only)" not in describe(None, image_summary(root, limit=11))  # exactly all of them


def test_an_image_over_the_pixel_limit_says_where_to_raise_it(tmp_path, monkeypatch):
    from PIL import Image

    (tmp_path / "big").mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "big" / "a.png")
    monkeypatch.setenv("GANTRANS_MAX_PIXELS", "100")
    [(f, why)] = image_summary(tmp_path)["bad"]
    assert Path(f).as_posix() == "big/a.png" and why.startswith("32x32 = 1024 pixels is over the limit of 100")
    assert why.endswith("raise Largest image under Settings to accept it")  # the app's words, not the CLI's


def test_the_training_form_shows_the_messy_folder_as_training_reads_it(qtbot, tmp_path, monkeypatch):
    from gantrans_gui.training_view import TrainingView

    isolate_settings(monkeypatch, tmp_path)
    root = messy_folder(tmp_path / "data")
    window = StubWindow()
    qtbot.addWidget(window)
    view = TrainingView(window)
    qtbot.addWidget(view)
    view.data_edit.setCurrentText(str(root))
    view.inspect_data(str(root))  # `gantrans data info --json` in a child + the scan in a thread
    qtbot.waitUntil(lambda: view.data_info is not None and view.data_summary is not None, timeout=60000)
    assert view.data_info["items"] == 3
    text = view.data_label.text()
    assert "(A: 3 images, B: 2 images)" in text and "trainA/ 3, trainB/ 2" in text and "4 bad file(s)" in text
    assert "skipped:" not in text and "._img" not in text  # the child's skips are the scan's, said once
