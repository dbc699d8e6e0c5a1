"""Data set formats, joint transforms, determinism for exact resume, and the built-in data sets."""

from __future__ import annotations

import pickle
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from gantrans.data import detect_format, open_dataset
from gantrans.data.datasets import GanDataset, item_seed
from gantrans.data.formats import DataWarning
from gantrans.data.transforms import build_transform
from gantrans.errors import ConfigError, DataError
from gantrans.plugins import get_registries

ALL_KINDS = ("unpaired", "paired", "labelled", "single")


def _img(seed: int, h: int = 40, w: int = 48) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _write(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def _unpaired(root: Path, n_a: int = 5, n_b: int = 3, split: str = "train") -> Path:
    for i in range(n_a):
        _write(root / f"{split}A" / f"a{i}.png", _img(i))
    for i in range(n_b):
        _write(root / f"{split}B" / f"b{i}.png", _img(100 + i))
    return root


def _aligned(root: Path, n: int = 4, h: int = 40, w: int = 40) -> Path:
    """A|B images whose B half is the negative of the A half (so B == -A after scaling)."""
    for i in range(n):
        a = _img(i, h, w)
        _write(root / "train" / f"{i}.png", np.concatenate([a, 255 - a], axis=1))
    return root


def _small(**kw):
    opts = {"load_size": 36, "crop_size": 32}
    opts.update(kw)
    return opts


# -- formats and detection ------------------------------------------------------------------------

def test_builtin_formats_are_registered():
    fmts = get_registries().data_formats
    assert [e.name for e in fmts][:5] == ["unpaired", "paired", "aligned", "labelled", "folder"]
    assert {e.name: e.obj.kind for e in fmts}["aligned"] == "paired"
    assert all(e.origin.plugin == "datasets" for e in fmts)


def test_detection_of_each_layout(tmp_path):
    _unpaired(tmp_path / "u")
    _aligned(tmp_path / "al")
    for d in ("A", "B"):
        _write(tmp_path / "p" / d / "x.png", _img(1))
    for c in ("cat", "dog"):
        _write(tmp_path / "l" / c / "1.png", _img(2))
    _write(tmp_path / "f" / "1.png", _img(3))
    expected = {"u": "unpaired", "al": "aligned", "p": "paired", "l": "labelled", "f": "folder"}
    for folder, name in expected.items():
        assert detect_format(tmp_path / folder).name == name, folder


def test_wrong_kind_says_what_is_needed_and_found(tmp_path):
    _unpaired(tmp_path)
    with pytest.raises(DataError, match=r"labelled \(cgan\) data is needed.*unpaired"):
        open_dataset(tmp_path, accepted_kinds=["labelled"], **_small())
    with pytest.raises(DataError, match="holds unpaired data"):
        open_dataset(tmp_path, accepted_kinds=["single"], data_format="unpaired", **_small())
    with pytest.raises(DataError, match="no images"):
        (tmp_path / "empty").mkdir()
        open_dataset(tmp_path / "empty", accepted_kinds=ALL_KINDS, **_small())


def test_missing_folder_and_unknown_name(tmp_path):
    with pytest.raises(DataError, match="no built-in data set"):
        open_dataset(tmp_path / "nope", accepted_kinds=ALL_KINDS)
    with pytest.raises(ConfigError, match="unknown data format"):
        open_dataset(tmp_path, accepted_kinds=ALL_KINDS, data_format="nope")


# -- unpaired -------------------------------------------------------------------------------------

def test_unpaired_items(tmp_path):
    ds = open_dataset(_unpaired(tmp_path), accepted_kinds=["unpaired"], **_small())
    assert isinstance(ds, GanDataset) and ds.format_name == "unpaired" and ds.root == tmp_path
    assert len(ds) == 5
    assert ds.spec.kind == "unpaired" and ds.spec.channels == {"A": 3, "B": 3} and ds.spec.size == 32
    item = ds[0]
    assert set(item) == {"A", "B", "A_path", "B_path"}
    for key in ("A", "B"):
        t = item[key]
        assert type(t) is torch.Tensor and t.dtype == torch.float32 and t.shape == (3, 32, 32)
        assert t.min() >= -1 and t.max() <= 1
    assert [Path(ds[i]["A_path"]).name for i in range(5)] == [f"a{i}.png" for i in range(5)]
    b_names = {Path(ds[i]["B_path"]).name for e in range(4) for i in range(5) if not ds.set_epoch(e)}
    assert len(b_names) == 3  # random partners reach every B
    serial = open_dataset(tmp_path, accepted_kinds=["unpaired"], serial=True, **_small())
    assert [Path(serial[i]["B_path"]).name for i in range(5)] == ["b0.png", "b1.png", "b2.png", "b0.png", "b1.png"]


def test_split_and_test_mode(tmp_path):
    _unpaired(tmp_path)
    with pytest.raises(DataError, match="testA"):
        open_dataset(tmp_path, accepted_kinds=["unpaired"], split="test", **_small())
    _unpaired(tmp_path, 2, 2, split="test")
    ds = open_dataset(tmp_path, accepted_kinds=["unpaired"], split="test", train=False, serial=True, **_small())
    assert len(ds) == 2
    first = ds[1]["A"]
    ds.set_epoch(7)
    assert torch.equal(ds[1]["A"], first)  # eval: no random crop or flip
    assert first.shape == (3, 32, 32)


def test_grayscale_channels(tmp_path):
    ds = open_dataset(_unpaired(tmp_path), accepted_kinds=["unpaired"], channels=1, **_small())
    assert ds[0]["A"].shape == (1, 32, 32) and ds.spec.channels == {"A": 1, "B": 1}


# -- paired and aligned: one crop and flip for both -----------------------------------------------

def test_aligned_split_and_joint_crop_flip(tmp_path):
    ds = open_dataset(_aligned(tmp_path, n=3, h=40, w=40), accepted_kinds=["paired"], preprocess="crop",
                      crop_size=24)
    assert ds.format_name == "aligned" and ds.spec.kind == "paired" and len(ds) == 3
    seen = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        item = ds[0]
        assert item["A"].shape == item["B"].shape == (3, 24, 24)
        assert torch.allclose(item["A"], -item["B"], atol=1e-6)  # same crop, same flip
        seen.add(item["A"][:, 0, 0].numpy().tobytes())
    assert len(seen) > 1  # the crop really is random


def test_an_image_that_is_no_side_by_side_pair_is_skipped_and_said(tmp_path):
    root = _aligned(tmp_path, n=3, h=40, w=40)
    _write(root / "train" / "square.png", _img(9, 40, 40))  # a stray: cut in half it would pair nonsense
    said = []
    ds = open_dataset(root, accepted_kinds=["paired"], on_skip=said.append, **_small())
    assert len(ds) == 3 and said == [f"skipping {root / 'train' / 'square.png'}: 40x40, not an A|B pair side by "
                                     f"side (about twice as wide as tall)"]


def test_joint_transform_with_resize(tmp_path):
    y, x = np.mgrid[0:40, 0:40]
    a = np.stack([x * 6, y * 6, (x + y) * 3], -1).astype(np.uint8)  # smooth: no overshoot when resizing
    _write(tmp_path / "train" / "0.png", np.concatenate([a, 255 - a], axis=1))
    ds = open_dataset(tmp_path, accepted_kinds=["paired"], load_size=36, crop_size=28)
    flips = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        it = ds[0]
        assert (it["A"] + it["B"]).abs().max() < 0.02
        flips.add(bool(it["A"][0, 0, -1] < it["A"][0, 0, 0]))  # red grows left to right unless flipped
    assert flips == {True, False}


def test_paired_folders_match_by_name(tmp_path):
    for i in range(3):
        a = _img(i)
        _write(tmp_path / "A" / f"{i}.png", a)
        _write(tmp_path / "B" / f"{i}.png", 255 - a)
    ds = open_dataset(tmp_path, accepted_kinds=["paired"], preprocess="crop", crop_size=32)
    assert ds.format_name == "paired" and len(ds) == 3
    it = ds[2]
    assert Path(it["A_path"]).name == Path(it["B_path"]).name == "2.png"
    assert torch.allclose(it["A"], -it["B"], atol=1e-6)


def test_paired_orphans_are_named(tmp_path):
    for i in range(3):
        _write(tmp_path / "A" / f"{i}.png", _img(i))
    _write(tmp_path / "B" / "0.png", _img(0))
    _write(tmp_path / "B" / "9.png", _img(9))
    with pytest.raises(DataError) as info:
        open_dataset(tmp_path, accepted_kinds=["paired"], **_small())
    msg = str(info.value)
    assert "A/1" in msg and "A/2" in msg and "B/9" in msg and "\n" not in msg


def test_paired_on_unpaired_layout_when_asked(tmp_path):
    for i in range(2):
        _write(tmp_path / "trainA" / f"{i}.png", _img(i))
        _write(tmp_path / "trainB" / f"{i}.jpg", _img(i))
    ds = open_dataset(tmp_path, accepted_kinds=["paired"], data_format="paired", **_small())
    assert len(ds) == 2 and Path(ds[1]["B_path"]).name == "1.jpg"
    # the layout help says trainA/ trainB/ with matching names is paired data: pix2pix reads it so
    # without being told, and CycleGAN (either kind) still reads it unpaired
    ds = open_dataset(tmp_path, accepted_kinds=["paired"], **_small())
    assert ds.format_name == "paired" and len(ds) == 2
    assert open_dataset(tmp_path, accepted_kinds=["unpaired", "paired"], **_small()).format_name == "unpaired"
    _write(tmp_path / "trainB" / "stray.png", _img(7))  # names that do not match: unpaired domains
    with pytest.raises(DataError, match=r"paired \(pix2pix\) data is needed, but this folder looks like unpaired"):
        open_dataset(tmp_path, accepted_kinds=["paired"], **_small())
    with pytest.raises(DataError, match=r"trainB/stray.png has no partner in .*trainA/"):  # asked: the strays
        open_dataset(tmp_path, accepted_kinds=["paired"], data_format="paired", **_small())


def test_an_unreadable_image_leaves_its_pair_out_not_its_partner_called_a_stray(tmp_path):
    for i in range(4):
        _write(tmp_path / "A" / "train" / f"{i}.png", _img(i))
        _write(tmp_path / "B" / "train" / f"{i}.png", _img(10 + i))
    (tmp_path / "A" / "train" / "2.png").write_text("garbage")
    (tmp_path / "B" / "train" / "3.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # cut short
    said = []
    ds = open_dataset(tmp_path, accepted_kinds=["paired"], on_skip=said.append, **_small())
    assert [Path(ds[k]["A_path"]).name for k in range(len(ds))] == ["0.png", "1.png"]
    partners = sorted(line for line in said if "its partner" in line)
    assert partners == [f"skipping {tmp_path / 'A' / 'train' / '3.png'}: its partner "
                        f"{tmp_path / 'B' / 'train' / '3.png'} is not a usable image",
                        f"skipping {tmp_path / 'B' / 'train' / '2.png'}: its partner "
                        f"{tmp_path / 'A' / 'train' / '2.png'} is not a usable image"]
    assert len(said) == 4  # and the two unreadable files themselves


# -- labelled and single --------------------------------------------------------------------------

def test_labelled_classes_in_sorted_order(tmp_path):
    for c, n in (("zebra", 2), ("ant", 3), ("moose", 1)):
        for i in range(n):
            _write(tmp_path / c / f"{i}.png", _img(i))
    ds = open_dataset(tmp_path, accepted_kinds=["labelled"], **_small())
    assert ds.spec.kind == "labelled" and ds.spec.class_names == ["ant", "moose", "zebra"]
    assert ds.spec.channels == {"image": 3}
    labels = [ds[i]["label"] for i in range(len(ds))]
    assert labels == [0, 0, 0, 1, 2, 2]
    assert set(ds[0]) == {"image", "label", "path"} and ds[0]["image"].shape == (3, 32, 32)
    batch = next(iter(DataLoader(ds, batch_size=6)))
    assert batch["label"].dtype == torch.int64 and batch["image"].shape == (6, 3, 32, 32)


def test_folder_of_images(tmp_path):
    for i in range(3):
        _write(tmp_path / f"{i}.png", _img(i))
    ds = open_dataset(tmp_path, accepted_kinds=["single"], **_small())
    assert ds.spec.kind == "single" and len(ds) == 3 and set(ds[0]) == {"image", "path"}


# -- bad files ------------------------------------------------------------------------------------

def test_bad_files_are_skipped_with_warnings(tmp_path):
    _unpaired(tmp_path, 4, 2)
    (tmp_path / "trainA" / "empty.png").write_bytes(b"")
    (tmp_path / "trainA" / "page.png").write_text("<html>404</html>")
    (tmp_path / "trainA" / "notes.txt").write_text("not an image, not counted")
    with pytest.warns(DataWarning) as record:
        ds = open_dataset(tmp_path, accepted_kinds=["unpaired"], **_small())
    messages = [str(w.message) for w in record]
    assert any("empty.png" in m for m in messages) and any("page.png" in m for m in messages)
    assert any("skipped 2 unreadable file(s) of 6" in m for m in messages)
    assert len(ds) == 4


def test_empty_domain_stops_before_training(tmp_path):
    _unpaired(tmp_path, 3, 0)
    (tmp_path / "trainB").mkdir()
    with pytest.raises(DataError, match="trainB"):
        open_dataset(tmp_path, accepted_kinds=["unpaired"], **_small())
    (tmp_path / "trainB" / "bad.png").write_bytes(b"\x00" * 10)
    with pytest.warns(DataWarning), pytest.raises(DataError, match="1 unreadable"):
        open_dataset(tmp_path, accepted_kinds=["unpaired"], **_small())
    _write(tmp_path / "trainB" / "ok.png", _img(5))
    with pytest.warns(DataWarning), pytest.raises(DataError, match="at least 2"):
        open_dataset(tmp_path, accepted_kinds=["unpaired"], min_items=2, **_small())


def test_file_that_fails_to_decode_is_replaced(tmp_path):
    for i in range(3):
        _write(tmp_path / f"{i}.png", _img(i))
    data = (tmp_path / "1.png").read_bytes()
    (tmp_path / "1.png").write_bytes(data[: len(data) // 2])  # header fine, pixels truncated
    ds = open_dataset(tmp_path, accepted_kinds=["single"], **_small())
    assert len(ds) == 3  # the header scan cannot tell
    with pytest.warns(DataWarning, match="1.png"):
        item = ds[1]
    assert Path(item["path"]).name == "2.png"


# -- determinism ----------------------------------------------------------------------------------

def _items(ds, indices):
    return [ds[i] for i in indices]


def _same(x, y) -> bool:
    return all(torch.equal(x[k], y[k]) if isinstance(x[k], torch.Tensor) else x[k] == y[k] for k in x)


def test_items_are_a_function_of_seed_epoch_index(tmp_path):
    _unpaired(tmp_path, 6, 6)
    one = open_dataset(tmp_path, accepted_kinds=["unpaired"], seed=3, **_small())
    two = open_dataset(tmp_path, accepted_kinds=["unpaired"], seed=3, **_small())
    state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    one.set_epoch(2)
    two.set_epoch(2)
    torch.manual_seed(999)  # global state must not matter ...
    a = _items(one, [4, 1])
    torch.manual_seed(5)
    b = _items(two, [1, 4])[::-1]  # ... nor the order of access
    assert all(_same(x, y) for x, y in zip(a, b))
    two.set_epoch(3)
    assert not all(_same(x, y) for x, y in zip(a, _items(two, [4, 1])))
    other_seed = open_dataset(tmp_path, accepted_kinds=["unpaired"], seed=4, **_small())
    other_seed.set_epoch(2)
    assert not _same(a[0], other_seed[4])
    torch.manual_seed(0)
    state = torch.get_rng_state()
    one[0]
    assert torch.equal(torch.get_rng_state(), state)  # and is not changed either
    assert np.array_equal(np.random.get_state()[1], np_state)
    assert item_seed(0, 1, 2) == item_seed(0, 1, 2) != item_seed(0, 2, 1)


def test_dataloader_workers_and_pickling(tmp_path):
    _unpaired(tmp_path, 6, 4)
    ds = open_dataset(tmp_path, accepted_kinds=["unpaired"], seed=1, **_small())
    clone = pickle.loads(pickle.dumps(ds))
    ds.set_epoch(1)
    clone.set_epoch(1)
    assert _same(ds[3], clone[3])

    def run(workers: int, persistent: bool = False, epochs=(1,)):
        loader = DataLoader(ds, batch_size=3, num_workers=workers, persistent_workers=persistent)
        out = []
        for e in epochs:
            ds.set_epoch(e)
            out.append(torch.cat([b["B"] for b in loader]))
        return out

    reference = run(0, epochs=(1, 2))
    with_workers = run(2, persistent=True, epochs=(1, 2))  # set_epoch reaches persistent workers
    assert torch.equal(reference[0], with_workers[0]) and torch.equal(reference[1], with_workers[1])
    assert not torch.equal(reference[0], reference[1])


# -- transforms -----------------------------------------------------------------------------------

def test_preprocess_modes(tmp_path):
    _write(tmp_path / "wide.png", _img(0, 30, 42))
    def first(**kw):
        return open_dataset(tmp_path, accepted_kinds=["single"], **kw)[0]["image"]
    assert first(load_size=40, crop_size=32).shape == (3, 32, 32)
    assert first(preprocess="scale_width_and_crop", load_size=40, crop_size=32).shape == (3, 32, 32)
    assert first(preprocess="scale_width_and_crop", crop_size=16, train=False).shape == (3, 16, 16)
    assert first(preprocess="scale_width", load_size=56, crop_size=32).shape == (3, 40, 56)  # 30x42 -> 40x56
    assert first(preprocess="scale_width", load_size=56, crop_size=32, train=False).shape == (3, 32, 32)
    assert first(preprocess="crop", crop_size=36).shape == (3, 36, 36)
    assert first(preprocess="none", size_multiple=4).shape == (3, 28, 40)
    assert first(preprocess="none", size_multiple=4, train=False).shape == (3, 28, 40)
    with pytest.raises(ConfigError, match="preprocess"):
        build_transform(preprocess="zoom")
    with pytest.raises(ConfigError, match="load_size"):
        build_transform(load_size=16, crop_size=32)



@pytest.mark.parametrize("size", [(1, 1), (1, 7), (3, 2), (16, 16), (10, 40)])
def test_crop_mode_mirrors_images_half_the_crop_or_smaller(size):
    """``--preprocess crop`` promises reflect padding for small images; torch cannot reflect by a
    side's whole length, so a 16 px image under a 32 px crop used to stop training mid-run."""
    from gantrans.data.transforms import apply

    h, w = size
    img = np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)
    torch.manual_seed(0)
    out, = apply(build_transform(preprocess="crop", crop_size=32, flip=False), img)
    assert out.shape == (3, 32, 32)
    values = set(((out.numpy() + 1) * 127.5).round().astype(int).ravel().tolist())
    assert values <= set(img.ravel().tolist())  # mirrored pixels of the image, never a fill colour


def test_crop_mode_leaves_images_over_half_the_crop_as_the_reference_does():
    from torchvision.transforms import v2

    from gantrans.data.transforms import apply

    img = np.random.default_rng(0).integers(0, 255, (20, 25, 3), dtype=np.uint8)
    reference = v2.Compose([v2.RandomCrop(32, pad_if_needed=True, padding_mode="reflect"),
                            v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5] * 3, [0.5] * 3)])
    torch.manual_seed(3)
    ours, = apply(build_transform(preprocess="crop", crop_size=32, flip=False), img)
    torch.manual_seed(3)
    theirs, = apply(reference, img)
    assert torch.equal(ours, theirs)

# -- built-in data sets ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("gantrans-data")
    mp = pytest.MonkeyPatch()
    mp.setenv("GANTRANS_DATA_DIR", str(path))
    yield path
    mp.undo()


def test_builtins_are_registered():
    sets = {e.name: e for e in get_registries().builtin_datasets}
    assert {"shapes", "shape-classes", "smileys"} <= set(sets)
    assert sets["shapes"].obj.forms[:2] == ("unpaired", "aligned")
    assert all(sets[n].origin.plugin == "datasets" for n in ("shapes", "shape-classes", "smileys"))


def test_builtin_two_domain_set_in_each_kind(data_dir, monkeypatch):
    unpaired = open_dataset("shapes", accepted_kinds=["unpaired", "paired"], load_size=64, crop_size=64)
    assert unpaired.format_name == "unpaired" and unpaired.root == data_dir / "shapes-unpaired-v1"
    assert unpaired.spec.domains == ("labels", "photos") and len(unpaired) == 160
    paired = open_dataset("shapes", accepted_kinds=["paired"], load_size=64, crop_size=64)
    assert paired.format_name == "aligned" and len(paired) == 160
    # the paired test split is the same scenes in every form, so quality can be measured on it
    test_a = np.asarray(Image.open(data_dir / "shapes-unpaired-v1" / "testA" / "0003.png"))
    test_b = np.asarray(Image.open(data_dir / "shapes-unpaired-v1" / "testB" / "0003.png"))
    ab = np.asarray(Image.open(data_dir / "shapes-aligned-v1" / "test" / "0003.png"))
    assert np.array_equal(ab, np.concatenate([test_a, test_b], axis=1))
    # A is a flat label map: only the class colours; B is a shaded photo: many colours
    assert len(np.unique(test_a.reshape(-1, 3), axis=0)) <= 4
    assert len(np.unique(test_b.reshape(-1, 3), axis=0)) > 200
    # the training split of the unpaired form is truly unpaired (B shows other scenes)
    a0 = np.asarray(Image.open(data_dir / "shapes-aligned-v1" / "train" / "0000.png"))[:, 64:]
    assert not np.array_equal(a0, np.asarray(Image.open(data_dir / "shapes-unpaired-v1" / "trainB" / "0000.png")))
    # reused, not rewritten
    shapes = get_registries().builtin_datasets.get("shapes").obj
    monkeypatch.setattr(type(shapes), "make", lambda *a, **k: pytest.fail("materialised twice"))
    assert len(open_dataset("shapes", accepted_kinds=["unpaired"], load_size=64, crop_size=64)) == 160


def test_builtin_labelled_and_single(data_dir):
    labelled = open_dataset("shape-classes", accepted_kinds=["labelled"], load_size=32, crop_size=32)
    assert labelled.spec.class_names == ["circle", "cross", "ring", "square", "star", "triangle"]
    assert len(labelled) == 240
    assert len(open_dataset("shape-classes", accepted_kinds=["labelled"], split="test", crop_size=32,
                            train=False)) == 48
    single = open_dataset("smileys", accepted_kinds=["single"], load_size=64, crop_size=64)
    assert single.spec.kind == "single" and len(single) == 240
    with pytest.raises(DataError, match="unpaired"):
        open_dataset("smileys", accepted_kinds=["unpaired"])


def test_builtin_make_is_deterministic(data_dir, tmp_path):
    ds = get_registries().builtin_datasets.get("shape-classes").obj
    first = open_dataset("shape-classes", accepted_kinds=["labelled"], crop_size=32).root  # seed 0
    again = ds.make(tmp_path / "again", "labelled", seed=0)
    files = sorted(p.relative_to(first) for p in first.rglob("*.png"))
    assert len(files) == 288 and files == sorted(p.relative_to(again) for p in again.rglob("*.png"))
    assert all((first / f).read_bytes() == (again / f).read_bytes() for f in files)
    from gantrans_plugins.datasets import _rng, draw

    assert not np.array_equal(draw.class_image("star", _rng(0, "train", 5, 4)),
                              draw.class_image("star", _rng(1, "train", 5, 4)))
    with pytest.raises(ConfigError, match="labelled"):
        ds.make(tmp_path / "d", "aligned")


def test_shape_classes_are_distinct_at_32px(data_dir, tmp_path):
    """The class check's descriptor tells every held-out real shape's class at 32 px."""
    from gantrans.class_check import SIZE, nearest_centroid_check

    root = open_dataset("shape-classes", accepted_kinds=["labelled"], crop_size=32).root
    assert SIZE == 32
    flat = tmp_path / "held-out"
    flat.mkdir()
    for folder in (root / "test").iterdir():
        for f in folder.glob("*.png"):
            shutil.copy(f, flat / f"{f.stem}_{folder.name}.png")
    check = nearest_centroid_check(root / "train", flat)
    assert check.count == 48 and check.accuracy > 0.95


def test_warnings_are_not_errors_by_default(tmp_path):
    """A clean data set emits no DataWarning at all."""
    _unpaired(tmp_path, 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        open_dataset(tmp_path, accepted_kinds=["unpaired"], **_small())[0]


def test_decoded_images_are_cached_read_only_and_not_pickled(tmp_path, monkeypatch):
    """A small set is decoded once; augmentation still varies, the cache never travels to workers."""
    import gantrans.data.datasets as datasets_module

    _unpaired(tmp_path, 3, 3)
    ds = open_dataset(tmp_path, accepted_kinds=["unpaired"], **_small())
    calls = []
    real = datasets_module.load_image
    monkeypatch.setattr(datasets_module, "load_image", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    first = [ds[i]["A"] for i in range(3)]
    again = [ds[i]["A"] for i in range(3)]
    assert len(set(calls)) == len(calls) and all(torch.equal(a, b) for a, b in zip(first, again))
    ds.set_epoch(1)
    assert any(not torch.equal(a, ds[i]["A"]) for i, a in enumerate(first))  # new crops, same pixels
    assert len(set(calls)) == len(calls)
    assert pickle.loads(pickle.dumps(ds))._decoded == {} and ds._decoded
    monkeypatch.setattr(datasets_module, "DECODED_CACHE_BYTES", 0)
    fresh = open_dataset(tmp_path, accepted_kinds=["unpaired"], **_small())
    fresh[0]
    assert fresh._decoded == {}


def test_a_class_folder_without_images_is_named_not_silently_dropped(tmp_path):
    for cls in ("cat", "dog"):
        for k in range(2):
            _write(tmp_path / "train" / cls / f"{k}.png", _img(k))
    (tmp_path / "train" / "owl").mkdir()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = open_dataset(tmp_path, accepted_kinds=["labelled"], **_small())
    assert ds.spec.class_names == ["cat", "dog"]
    assert any("left out 1 folder(s) with no images, so no class: owl/" in str(w.message) for w in caught)
    from gantrans.data.formats import SkipReport

    report = SkipReport(enabled=False)  # what training tells: said, and not counted as a skipped file
    open_dataset(tmp_path, accepted_kinds=["labelled"], on_skip=report, **_small())
    assert report.count == 0 and any("owl/" in line for line in report.noted)


def test_the_aligned_format_forced_on_single_images_is_refused(tmp_path):
    for k in range(2):
        _write(tmp_path / "train" / "circle" / f"{k}.png", _img(k, 40, 40))
        _write(tmp_path / "train" / "square" / f"{k}.png", _img(k + 5, 40, 40))
    with pytest.raises(DataError, match=r"its images are 40x40, not A\|B pairs side by side .*not 'aligned' data"):
        open_dataset(tmp_path, accepted_kinds=["paired"], data_format="aligned", **_small())
