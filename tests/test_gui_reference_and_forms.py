"""The training form generated from declared options (contract C), and the reference import."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui_stubs import StubWindow, isolate_settings  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QSpinBox  # noqa: E402

from gantrans_gui import reference_import  # noqa: E402
from gantrans_gui.options_form import OptionsForm, option_args  # noqa: E402
from gantrans_gui.plugin_catalog import parse_catalog  # noqa: E402

LISTING = {"plugins": [
    {"name": "cyclegan", "distribution": "gantrans", "version": "0.1.0", "status": "ok", "error": None,
     "registered": {"models": [{"name": "cyclegan", "description": "CycleGAN", "options": [
         {"name": "generator", "type": "str", "default": "resnet_9blocks", "help": "generator network",
          "choices": None},
         {"name": "lambda_A", "type": "float", "default": 10.0, "help": "cycle weight A", "choices": None},
         {"name": "pool_size", "type": "int", "default": 50, "help": "image pool", "choices": None},
         {"name": "norm_D", "type": "str", "default": None, "help": "follows norm", "choices": None}]}]}},
    {"name": "networks", "distribution": "gantrans", "version": "0.1.0", "status": "ok", "error": None,
     "registered": {"networks": [
         {"name": "resnet_9blocks", "kind": "generator", "input": "image", "size_multiple": 4, "min_size": 4,
          "description": "ResNet", "options": [
              {"name": "ngf", "type": "int", "default": 64, "help": "filters", "choices": None},
              {"name": "dropout", "type": "bool", "default": False, "help": "dropout", "choices": None}]},
         {"name": "resnet_6blocks", "kind": "generator", "input": "image", "size_multiple": 4, "min_size": 4,
          "description": "ResNet 6", "options": [
              {"name": "ngf", "type": "int", "default": 64, "help": "filters", "choices": None},
              {"name": "padding", "type": "str", "default": "reflect", "help": "pad",
               "choices": ["reflect", "zeros"]}]}],
         "losses": [{"name": "lsgan", "description": "least squares"}]}},
    {"name": "bad", "distribution": "bad-plugin", "version": "0.0.1", "status": "failed",
     "error": "RuntimeError: boom", "registered": {}},
]}


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    isolate_settings(monkeypatch, tmp_path)


def test_catalog_parses_the_contract_listing():
    cat = parse_catalog(LISTING)
    assert set(cat.recipes) == {"cyclegan"} and set(cat.networks) == {"resnet_9blocks", "resnet_6blocks"}
    assert [o.name for o in cat.recipes["cyclegan"].options] == ["generator", "lambda_A", "pool_size", "norm_D"]
    [bad] = [p for p in cat.plugins if p.status == "failed"]
    assert bad.error == "RuntimeError: boom"


def test_options_form_types_defaults_tooltips_and_arguments(qtbot):
    form = OptionsForm()
    qtbot.addWidget(form)
    form.set_options(parse_catalog(LISTING).recipes["cyclegan"].options)
    assert isinstance(form.editors["generator"], QLineEdit)  # no choices declared: free text
    assert isinstance(form.editors["lambda_A"], QLineEdit) and isinstance(form.editors["pool_size"], QSpinBox)
    assert "cycle weight A" in form.editors["lambda_A"].toolTip() and "10.0" in form.editors["lambda_A"].toolTip()
    assert form.changed_values() == {}  # defaults are not repeated on the command line
    form.set_value("lambda_A", "2.5")
    form.set_value("pool_size", 0)
    form.set_value("generator", "resnet_6blocks")
    assert form.changed_values() == {"generator": "resnet_6blocks", "lambda_A": 2.5, "pool_size": 0}
    assert option_args(form.changed_values()) == ["-o", "generator=resnet_6blocks", "-o", "lambda_A=2.5",
                                                  "-o", "pool_size=0"]
    form.reset()
    assert form.changed_values() == {}


def _training_form(qtbot, monkeypatch, listing: dict):
    """A training form over ``listing`` (a ``plugins list --json`` answer), not a child process's."""
    from gantrans_gui import plugin_catalog as pc
    from gantrans_gui.training_view import TrainingView

    monkeypatch.setattr(pc.PluginCatalog, "refresh", lambda self: None)
    window = StubWindow()
    qtbot.addWidget(window)
    view = TrainingView(window)
    qtbot.addWidget(view)
    view.catalog.catalog, view.catalog.loaded = parse_catalog(listing), True
    view.catalog.changed.emit()
    return view


def test_training_form_offers_registered_networks_and_their_own_options(qtbot, monkeypatch):
    view = _training_form(qtbot, monkeypatch, LISTING)
    assert view.recipes() == ["cyclegan"]
    gen = view.options.editors["generator"]
    assert isinstance(gen, QComboBox)
    assert [gen.itemText(k) for k in range(gen.count())] == ["resnet_6blocks", "resnet_9blocks"]
    assert view.network_info == {"generator": "resnet_9blocks"}
    # options the recipe declares itself stay in its form (this listing's recipe has no ngf)
    assert set(view.role_forms["generator"].editors) == {"ngf", "dropout"}
    view.options.set_value("generator", "resnet_6blocks")  # another network: its own options in turn
    assert view.network_info == {"generator": "resnet_6blocks"}
    form = view.role_forms["generator"]
    assert set(form.editors) == {"ngf", "padding"} and form.editors["padding"].toolTip().startswith("pad")
    box = view.network_box.itemAt(0).widget()
    assert "multiple of 4" in box.findChild(QLabel).text()
    form.set_value("padding", "zeros")
    view.options.set_value("pool_size", 10)
    view.data_edit.setCurrentText("/data/horses")
    view.name_edit.setText("h2z")
    args = view.train_args()
    assert args[:4] == ["train", "cyclegan", "--data", "/data/horses"]
    assert args[args.index("--name") + 1] == "h2z"
    assert args[-6:] == ["-o", "generator=resnet_6blocks", "-o", "pool_size=10", "-o", "generator.padding=zeros"]
    assert "--channels" not in args and "--crop-size" not in args  # colour, and the images' size: the CLI's defaults
    assert view.crop_size.text() == "the images' size, ≤ 256"
    view.channels_box.setCurrentText("greyscale")
    args = view.train_args()
    assert args[args.index("--channels") + 1] == "1"


def test_a_preset_fills_the_form_with_its_values_and_they_travel_as_options(qtbot, monkeypatch, capsys):
    """The real catalog (``gantrans plugins list --json``): pix2pix's paper preset switches off the
    residual output and the discriminator augmentation; "Defaults" brings them back."""
    import json

    from gantrans.cli.main import main

    assert main(["plugins", "list", "--json"]) == 0
    view = _training_form(qtbot, monkeypatch, json.loads(capsys.readouterr().out))
    assert view.select_recipe("pix2pix")
    box = view.preset_box
    assert [box.itemText(k) for k in range(box.count())] == ["defaults", "preset: paper"]
    assert "residual=False" in box.itemData(1, Qt.ItemDataRole.ToolTipRole)
    assert view.option_values() == {}
    view.options.set_value("lambda_L1", 50.0)  # a preset starts from the defaults
    box.setCurrentIndex(1)
    box.activated.emit(1)
    assert view.option_values() == {"residual": False, "augment_D": "none"}
    view.data_edit.setCurrentText("/data/pairs")
    assert view.train_args()[-4:] == ["-o", "augment_D=none", "-o", "residual=false"]
    view.reset_button.click()
    assert view.option_values() == {} and box.currentIndex() == 0
    assert view.select_recipe("cyclegan") and box.count() == 2
    view.apply_preset("paper")
    assert view.option_values()["lr"] == pytest.approx(2e-4) and view.option_values()["residual_zero_init"] is False


def test_reference_import_without_torch_says_what_to_install(qtbot, monkeypatch, tmp_path):
    monkeypatch.setattr(reference_import, "can_train", lambda: False)
    window = StubWindow()
    qtbot.addWidget(window)
    (tmp_path / "latest_net_G.pth").write_bytes(b"x")
    dlg = reference_import.ReferenceImportDialog(window, tmp_path / "latest_net_G.pth")
    qtbot.addWidget(dlg)
    assert dlg.state.text() == reference_import.NO_TORCH and "gantrans[train]" in dlg.state.text()
    assert not dlg.start_button.isEnabled()
    dlg.start()
    assert dlg.runner.running() is False


@pytest.mark.slow
def test_a_dropped_reference_checkpoint_ends_in_the_library(qtbot, reference_dir, tmp_path):
    window = StubWindow()
    qtbot.addWidget(window)
    dlg = reference_import.import_reference(window, reference_dir / "G_resnet_6blocks_ngf8_instance.pth")
    dlg.runs_dir.setText(str(tmp_path / "runs"))
    dlg.out_dir.setText(str(tmp_path / "exports"))
    dlg.start_button.click()
    qtbot.waitUntil(lambda: dlg.exit_code is not None, timeout=240000)
    assert dlg.exit_code == 0, dlg.log.toPlainText()[-2000:]
    assert dlg.progress.value() == 2
    assert window.library.paths and all(p.is_file() and p.suffix == ".onnx" for p in window.library.paths)
    assert (tmp_path / "runs" / "G_resnet_6blocks_ngf8_instance").is_dir()


def test_export_figures_read_per_model():
    from gantrans_gui.export_dialog import describe_figures, export_args

    text = describe_figures({"parity_max_abs_diff": {"/x/exports/run_A2B.onnx": 2.1e-06},
                             "int8_psnr_db": {"/x/exports/run_A2B.int8.onnx": 38.25}})
    assert text.splitlines() == ["run_A2B.onnx: parity (max abs difference to PyTorch) 2.1e-06",
                                 "run_A2B.int8.onnx: int8 PSNR against fp32 38.25 dB"]
    assert export_args("runs/a", "out", int8=True, force=True)[-2:] == ["--int8", "--force"]
    assert "--force" not in export_args("runs/a", "out", int8=False, force=True)


def test_data_panel_counts_sizes_and_bad_files(tmp_path):
    from PIL import Image

    from gantrans_gui.data_inspect import describe, image_summary

    for domain, n in (("trainA", 3), ("trainB", 2)):
        (tmp_path / domain).mkdir()
        for k in range(n):
            Image.new("RGB", (48, 32)).save(tmp_path / domain / f"{k}.png")
    (tmp_path / "trainB" / "<b>broken.png").write_bytes(b"not a png")
    s = image_summary(tmp_path)
    assert s["images"] == 6 and s["folders"] == {"trainA": 3, "trainB": 2}  # usable images only
    assert s["sizes"] == [((48, 32), 5)] and [f for f, _ in s["bad"]] == ["trainB/<b>broken.png"]
    text = describe({"format": "unpaired", "kind": "unpaired", "items": 3, "domains": ["A", "B"]}, s)
    assert "48×32 (5)" in text and "1 bad file(s)" in text and "&lt;b&gt;broken.png" in text
    Image.new("RGB", (48, 32)).save(tmp_path / "loose.png")  # beside the sub-folders: named, not '.'
    text = describe({"format": "images", "kind": "unpaired", "items": 7, "warnings": ["skipping notes.png: not an image"]},
                    image_summary(tmp_path))
    assert "Usable images by folder, every split: top folder 1, trainA/ 3, trainB/ 2" in text and "skipped: notes.png: not an image" in text
    # a file both the command and the scan found unreadable is listed once, without the count line
    text = describe({"format": "unpaired", "kind": "unpaired", "items": 3, "warnings": [
        f"skipping {tmp_path / 'trainB' / '<b>broken.png'}: not an image",
        f"{tmp_path / 'trainB'}: skipped 1 unreadable file(s) of 3"]}, s)
    assert "skipped:" not in text and "1 bad file(s)" in text and "unreadable file(s) of" not in text


def test_choosing_a_data_folder_shows_its_format_before_anything_starts(qtbot, tmp_path):
    from PIL import Image

    from gantrans_gui.training_view import TrainingView

    for domain in ("trainA", "trainB"):
        (tmp_path / "data" / domain).mkdir(parents=True)
        for k in range(3):
            Image.new("RGB", (40, 40), (k * 40, 0, 0)).save(tmp_path / "data" / domain / f"{k}.png")
    (tmp_path / "data" / "trainA" / "bad.png").write_bytes(b"not a png")
    window = StubWindow()
    qtbot.addWidget(window)
    view = TrainingView(window)
    qtbot.addWidget(view)
    view.data_edit.setCurrentText(str(tmp_path / "data"))
    view.inspect_data(str(tmp_path / "data"))  # `gantrans data info --json` + a Pillow scan
    qtbot.waitUntil(lambda: view.data_info is not None and view.data_summary is not None, timeout=60000)
    assert view.data_info["format"] == "unpaired" and view.data_info["items"] == 3
    text = view.data_label.text()
    assert "unpaired" in text and "40×40 (6)" in text and "bad.png" in text
    assert view.jobs.running() == []  # nothing was started
