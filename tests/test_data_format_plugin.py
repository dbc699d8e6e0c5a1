"""A data format written from docs/plugins.md alone works, and a broken one is named in one line.

The guide's example format is taken from the guide itself and registered as a plugin, so the
page cannot drift from what works.
"""

from __future__ import annotations

import re
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gantrans import hookimpl
from gantrans.checkpoint import load_checkpoint
from gantrans.cli.main import main
from gantrans.data import open_dataset
from gantrans.errors import DataError

ROOT = Path(__file__).resolve().parent.parent


def guide_example() -> types.ModuleType:
    """The code block of the guide's 'Writing a data format', run as a plugin module."""
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = guide.split("#### Writing a data format", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    module = types.ModuleType("prefix_plugin")
    exec(compile(code, "docs/plugins.md", "exec"), module.__dict__)  # noqa: S102 - our own documentation
    return module


def write_prefix_folder(root: Path, n_a: int = 3, n_b: int = 2) -> Path:
    rng = np.random.default_rng(0)
    (root / "train").mkdir(parents=True)
    for prefix, n in (("a_", n_a), ("b_", n_b)):
        for k in range(n):
            Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(root / "train" / f"{prefix}{k}.png")
    return root


class ReturnsAList:
    name, kind, description = "listy", "unpaired", "returns a list"

    def detect(self, root: Path) -> bool:
        return False

    def build(self, root, split, transform, **opts):
        return [{"A": 0}]


class BadKind:
    name, kind, description = "pairs", "pairs", "a kind that does not exist"

    def detect(self, root: Path) -> bool:
        return False

    def build(self, root, split, transform, **opts):
        raise AssertionError("never built")


class GreyB:
    """Says its data is three-channel, but gives B in one channel."""

    name, kind, description = "greyb", "unpaired", "B in grey"

    def detect(self, root: Path) -> bool:
        return False

    def build(self, root, split, transform, **opts):
        from gantrans.data.datasets import UnpairedDataset

        class Grey(UnpairedDataset):
            def _item(self, index, rng):
                item = super()._item(index, rng)
                return {**item, "B": item["B"][:1]}

        files = sorted(str(f) for f in (root / split).iterdir())
        return Grey(files, files, root=root, format_name=self.name, transform=transform, size=opts["size"])


class Broken:
    @hookimpl
    def register_data_formats(self, register):
        register(ReturnsAList())
        register(GreyB())
        register(BadKind())  # raises: the hook stops here


@pytest.fixture
def prefix(fresh_plugins):
    fresh_plugins.register(guide_example(), "prefix")
    fresh_plugins.register(Broken(), "broken")
    return fresh_plugins


def test_the_guides_data_format_opens_its_folder_and_trains(prefix, tmp_path):
    data = write_prefix_folder(tmp_path / "pdata")
    ds = open_dataset(data, accepted_kinds=["unpaired"], load_size=36, crop_size=32)
    assert ds.format_name == "prefix" and len(ds) == 3
    item = ds[1]
    assert item["A"].shape == item["B"].shape == (3, 32, 32) and float(item["A"].min()) >= -1
    assert Path(item["A_path"]).name == "a_1.png" and Path(item["B_path"]).name.startswith("b_")
    assert len(open_dataset(data, accepted_kinds=["unpaired"], crop_size=32, max_items=2)) == 2  # --max-items
    with pytest.raises(DataError, match="3 a_\\* and 2 b_\\* images; need at least 4 of each"):
        open_dataset(data, accepted_kinds=["unpaired"], crop_size=32, min_items=4)

    runs = tmp_path / "runs"
    assert main(["train", "cyclegan", "--data", str(data), "--runs-dir", str(runs), "--name", "p", "--crop-size", "32",
                 "--max-steps", "2", "--workers", "0", "--device", "cpu", "--precision", "fp32", "--samples", "0",
                 "--no-tensorboard", "-o", "ngf=4", "-o", "ndf=4", "-o", "generator=resnet_6blocks"]) == 0
    ckpt = load_checkpoint(runs / "p")
    assert ckpt["components"]["data_format"] == {"name": "prefix", "plugin": "prefix", "distribution": None,
                                                 "version": None}  # what --resume will need, and from where
    assert ckpt["components"]["loss"]["plugin"] == "networks"


def test_data_info_takes_the_trains_option_name(prefix, tmp_path, capsys):
    data = write_prefix_folder(tmp_path / "pdata")
    assert main(["data", "info", str(data), "--data-format", "prefix"]) == 0
    assert "format 'prefix' (unpaired data), split 'train': 3 items" in capsys.readouterr().out


def test_a_format_that_returns_no_data_set_or_has_no_kind_is_named(prefix, tmp_path):
    data = write_prefix_folder(tmp_path / "pdata")
    with pytest.raises(DataError) as err:
        open_dataset(data, accepted_kinds=["unpaired"], data_format="listy", crop_size=32)
    assert str(err.value) == (f"{data}: data format 'listy' (plugin 'broken') returned list, not a "
                              f"gantrans.data.datasets.GanDataset (docs/plugins.md, 'Writing a data format'); report it "
                              f"to the plugin's author")
    assert "pairs" not in prefix.registries.data_formats.names()
    [failure] = prefix.failures_of("broken")
    assert "data format 'pairs': kind must be one of unpaired, paired, labelled, single, got 'pairs'" in failure.error


def test_a_batch_that_breaks_its_own_spec_is_blamed_on_its_format(prefix, tmp_path, capsys):
    """Not on the networks' size rules, as a shape error deep in a network would suggest."""
    data = write_prefix_folder(tmp_path / "pdata")
    code = main(["train", "cyclegan", "--data", str(data), "--data-format", "greyb", "--runs-dir", str(tmp_path),
                 "--crop-size", "32", "--max-steps", "1", "--workers", "0", "--device", "cpu", "--precision", "fp32",
                 "--samples", "0", "--no-tensorboard", "-o", "ngf=4", "-o", "ndf=4"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1
    assert "data format 'greyb' (plugin 'broken') made the batch, and its 'B' images are 1x32x32 (channels x " \
           "height x width) where the data's spec says 3 channel(s); report it to the data format's author" in err
    assert "size rule" not in err


def test_a_folder_in_no_known_layout_lists_the_plugins_layouts_too(prefix, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as err:
        open_dataset(tmp_path / "empty", accepted_kinds=["unpaired"], crop_size=32)
    assert str(err.value).endswith("or a plugin's layout (--data-format NAME):\n  prefix (plugin 'prefix'): train/ "
                                   "(test/) of a_* and b_* images: two unpaired domains by file-name prefix\n"
                                   "  listy (plugin 'broken'): returns a list\n  greyb (plugin 'broken'): B in grey")


class DetectRaises:
    name, kind, description = "boom", "labelled", "a detect() with a bug"

    def detect(self, root: Path) -> bool:
        raise AttributeError("detect boom")

    def build(self, root, split, transform, **opts):
        raise AssertionError("never built")


class WithABuggyDetect:
    @hookimpl
    def register_data_formats(self, register):
        register(DetectRaises())


def test_a_format_whose_detect_raises_is_skipped_and_named_not_fatal(fresh_plugins, tmp_path):
    """One plugin's bug must not stop training on a folder the built-in formats read."""
    import warnings

    fresh_plugins.register(WithABuggyDetect(), "buggy")
    data = tmp_path / "u"
    for side in ("trainA", "trainB"):
        (data / side).mkdir(parents=True)
        for k in range(2):
            Image.new("RGB", (40, 40), (k * 90, 0, 0)).save(data / side / f"{k}.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = open_dataset(data, accepted_kinds=["unpaired"], crop_size=32)
    assert ds.format_name == "unpaired"
    [said] = [str(w.message) for w in caught if "detect() failed" in str(w.message)]
    assert said.startswith("data format 'boom' (plugin 'buggy'): detect() failed on") and \
        "(AttributeError: detect boom); the format was skipped; report it to the plugin's author" in said


def test_a_format_that_lists_its_files_checks_them_as_the_built_ins_do(tmp_path):
    """docs/plugins.md: usable_images, for a CSV or manifest of files."""
    from gantrans.data.formats import usable_images

    good = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(good)
    (tmp_path / "notes.png").write_text("not an image")
    told: list[str] = []
    kept = usable_images([good, tmp_path / "notes.png", tmp_path / "gone.png"], where=tmp_path / "pairs.csv",
                         on_skip=told.append)
    assert kept == [str(good)] and len(told) == 2 and any("notes.png" in t for t in told)
    with pytest.raises(DataError, match=r"pairs.csv: 1 usable image\(s\), 2 unreadable; need at least 2"):
        usable_images([good, tmp_path / "notes.png", tmp_path / "gone.png"], where=tmp_path / "pairs.csv",
                      min_items=2, on_skip=told.append)
