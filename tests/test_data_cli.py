"""``gantrans data list|make|info`` through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gantrans.cli.main import main


def test_list_text_and_json(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("shapes", "shape-classes", "smileys", "unpaired", "aligned", "labelled", "folder"):
        assert name in out
    assert main(["data", "list", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    sets = {s["name"]: s for s in info["datasets"]}
    assert sets["shapes"]["forms"] == ["unpaired", "aligned", "paired"]
    assert sets["shapes"]["plugin"] == "datasets" and "64x64" in sets["shapes"]["size"]
    assert {f["name"]: f["kind"] for f in info["formats"]}["aligned"] == "paired"


def test_make_refuses_non_empty_folder_unless_overwrite(tmp_path, capsys):
    dest = tmp_path / "smileys"
    assert main(["data", "make", "smileys", str(dest), "--seed", "3"]) == 0
    assert "256 images" in capsys.readouterr().out
    assert len(list((dest / "train").glob("*.png"))) == 240
    assert (dest / "gantrans-data.json").is_file()
    before = (dest / "train" / "0000.png").read_bytes()
    assert main(["data", "make", "smileys", str(dest)]) == 1
    assert "not empty" in capsys.readouterr().err
    assert (dest / "train" / "0000.png").read_bytes() == before
    (dest / "mine.txt").write_text("x")
    assert main(["data", "make", "smileys", str(dest), "--overwrite"]) == 0
    assert not (dest / "mine.txt").exists()
    assert (dest / "train" / "0000.png").read_bytes() != before  # seed 0 now, not 3
    assert [p.name for p in tmp_path.iterdir()] == ["smileys"]  # no temporary folders left


def test_overwrite_never_replaces_a_folder_it_did_not_write(tmp_path, capsys, monkeypatch):
    own = tmp_path / "thesis"
    own.mkdir()
    (own / "chapter1.txt").write_text("precious")
    assert main(["data", "make", "smileys", str(own), "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert f"{own}: not a data set 'gantrans data make' wrote (no gantrans-data.json)" in err
    assert (own / "chapter1.txt").read_text() == "precious" and sorted(p.name for p in own.iterdir()) == ["chapter1.txt"]
    # the current folder, even a data set of ours: refused, and no temporary folder left behind
    made = tmp_path / "made"
    assert main(["data", "make", "smileys", str(made)]) == 0
    monkeypatch.chdir(made)
    assert main(["data", "make", "smileys", ".", "--overwrite"]) == 1
    assert "is the current folder or holds it" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["made", "thesis"]
    assert not [p for p in made.iterdir() if p.name.endswith(".tmp")]


def test_make_form_and_errors(tmp_path, capsys):
    assert main(["data", "make", "shapes", str(tmp_path / "s"), "--form", "aligned"]) == 0
    assert len(list((tmp_path / "s" / "train").glob("*.png"))) == 160
    assert main(["data", "info", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "aligned" in out and "160 items" in out
    assert main(["data", "make", "shapes", str(tmp_path / "x"), "--form", "labelled"]) == 1
    assert "comes as unpaired, aligned, paired" in capsys.readouterr().err
    assert main(["data", "make", "nope", str(tmp_path / "y")]) == 1
    assert "unknown built-in data set 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_info_reports_skipped_files(tmp_path, capsys):
    from PIL import Image

    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        Image.new("RGB", (8, 8), (200, 0, 0)).save(tmp_path / c / "1.png")
    (tmp_path / "b" / "2.png").write_bytes(b"")
    assert main(["data", "info", str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "labelled" and info["class_names"] == ["a", "b"] and info["items"] == 2
    assert info["kinds"] == ["labelled"]  # what every detected format reads it as
    assert any("2.png" in w and "empty" in w for w in info["warnings"])
    assert main(["data", "info", str(tmp_path / "missing")]) == 1


def test_info_counts_each_side_of_unpaired_data(tmp_path, capsys):
    """An epoch is the larger side: 8 horses and 2 zebras read as '8 items' alone hid the 2."""
    from PIL import Image

    for side, n in (("trainA", 8), ("trainB", 2)):
        (tmp_path / side).mkdir()
        for k in range(n):
            Image.new("RGB", (8, 8)).save(tmp_path / side / f"{k}.png")
    assert main(["data", "info", str(tmp_path)]) == 0
    assert "8 items (A: 8 images, B: 2 images)" in capsys.readouterr().out
    assert main(["data", "info", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images_per_domain"] == {"A": 8, "B": 2}

def test_data_group_without_action_shows_help(capsys):
    assert main(["data"]) == 2
    assert "make" in capsys.readouterr().err


def test_parser_building_is_torch_free():
    code = ("import sys; from gantrans.cli.main import build_parser; build_parser(); "
            "assert 'torch' not in sys.modules, [m for m in sys.modules if m.startswith('torch')][:3]")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-500:]


def test_make_on_a_full_disk_names_the_folder_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import errno

    from PIL import Image

    real_save, calls = Image.Image.save, [0]

    def save(self, fp, *args, **kwargs):
        calls[0] += 1
        if calls[0] > 20:  # the disk fills up part-way through the set
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)
    dest = tmp_path / "smileys"
    assert main(["data", "make", "smileys", str(dest)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"gantrans: error: no space left on device while writing {dest}; nothing was written, {dest} is as it was"
    assert list(tmp_path.iterdir()) == []  # no partial folder


def test_unmatched_pairs_name_each_stray_file_and_the_folder_it_lacks_a_partner_in(tmp_path, capsys):
    from PIL import Image

    for side in ("A", "B"):
        (tmp_path / "pm" / side / "train").mkdir(parents=True)
        for name in ("0", "1", f"only{side}"):
            Image.new("RGB", (8, 8)).save(tmp_path / "pm" / side / "train" / f"{name}.png")
    assert main(["data", "info", str(tmp_path / "pm")]) == 1
    err = capsys.readouterr().err
    a, b = tmp_path / "pm" / "A" / "train", tmp_path / "pm" / "B" / "train"
    assert f"{a / 'onlyA.png'} has no partner in {b}/" in err and f"{b / 'onlyB.png'} has no partner in {a}/" in err
    assert "rename or remove the strays" in err


def test_two_inputs_written_to_one_output_get_advice_that_can_work(tmp_path):
    import pytest

    from gantrans.errors import ConfigError
    from gantrans.inference.files import plan_jobs

    items = [(tmp_path / "x.png", tmp_path.joinpath("x.png").relative_to(tmp_path)),
             (tmp_path / "x.tif", tmp_path.joinpath("x.tif").relative_to(tmp_path))]
    with pytest.raises(ConfigError, match="rename one of them, or translate them in separate runs") as info:
        plan_jobs(items, tmp_path / "out", suffix="_t", fmt="png")
    assert "--suffix" not in str(info.value)


def test_info_takes_a_built_in_name_as_its_help_says(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANTRANS_DATA_DIR", str(tmp_path / "data"))
    assert main(["data", "info", "smileys"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(str(tmp_path / "data")) and "format 'folder'" in out
    assert main(["data", "info", str(tmp_path / "nope")]) == 1
    assert "not a folder, nor a built-in data set (" in capsys.readouterr().err


def test_a_single_class_folder_is_said_to_be_one(tmp_path, capsys):
    from PIL import Image

    (tmp_path / "onecls" / "train" / "circle").mkdir(parents=True)
    for k in range(3):
        Image.new("RGB", (8, 8)).save(tmp_path / "onecls" / "train" / "circle" / f"{k}.png")
    assert main(["data", "info", str(tmp_path / "onecls")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'onecls' / 'train'} has one class folder (circle/): class-labelled data needs 2 or more" in err
    assert "expected layout:" in err


def test_an_image_beside_the_class_folders_is_named_when_classes_are_needed(tmp_path):
    from PIL import Image

    from gantrans.data import open_dataset
    from gantrans.errors import DataError

    for cls in ("blue sky", "rote Äpfel"):
        (tmp_path / "cg" / "train" / cls).mkdir(parents=True)
        for k in range(2):
            Image.new("RGB", (8, 8)).save(tmp_path / "cg" / "train" / cls / f"{k}.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "cg" / "train" / "stray.png")
    with pytest.raises(DataError) as info:
        open_dataset(tmp_path / "cg", accepted_kinds=["labelled"], crop_size=8, load_size=8)
    assert (f"{tmp_path / 'cg' / 'train'} has class folders (blue sky/, rote Äpfel/) and images outside them "
            f"(stray.png), which belong to no class: move them into a class folder or remove them") in str(info.value)


def test_data_make_into_a_folder_that_cannot_be_written_is_one_line(tmp_path, monkeypatch, capsys):
    """It was 'internal error: OSError: [Errno 30] Read-only file system' (train, translate and
    export said it in one line already)."""
    import errno

    from gantrans import fileio
    from gantrans.cli.main import main

    def read_only(target):
        raise OSError(errno.EROFS, "Read-only file system", str(target))

    monkeypatch.setattr(fileio, "temp_dir_for", read_only)
    assert main(["data", "make", "shapes", str(tmp_path / "new")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (f"gantrans: error: {tmp_path}: cannot write here (read-only file system); choose another "
                           f"folder; nothing was written")
    assert not (tmp_path / "new").exists()
