"""The plugin manager through its widgets, in a throw-away venv (as test_plugin_install does):
install the example plugin, see its recipe in the training form, uninstall it; a plugin whose
import raises is listed as failed and the window stays usable.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui_stubs import StubWindow, isolate_settings  # noqa: E402
from PySide6.QtWidgets import QTabWidget  # noqa: E402

from gantrans_gui.job_runner import PYTHON_ENV  # noqa: E402
from gantrans_gui.plugins_view import PluginsView  # noqa: E402
from gantrans_gui.training_view import TrainingView  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = Path(__file__).resolve().parent / "example_plugin"
OFFLINE = "--no-build-isolation --no-index"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("guivenv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # The interpreter's own site-packages before a venv's: a helper venv may carry an old
    # setuptools that torch's requirements reject, which pip would then try to replace offline.
    parents = sorted(site.getsitepackages(), key=lambda p: not p.startswith(sys.base_prefix))
    (Path(purelib) / "_gantrans_test_parent.pth").write_text("\n".join(parents) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-e", str(ROOT)], check=True, capture_output=True)
    return python


@pytest.fixture
def gui(qtbot, venv, tmp_path, monkeypatch):
    isolate_settings(monkeypatch, tmp_path)
    monkeypatch.setenv(PYTHON_ENV, str(venv))
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    window = StubWindow()
    tabs = QTabWidget()
    window.setCentralWidget(tabs)
    plugins, training = PluginsView(window), TrainingView(window)
    tabs.addTab(plugins, "Plugins")
    tabs.addTab(training, "New training")
    window.resize(1280, 800)
    window.show()
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: plugins.catalog.loaded, timeout=60000)
    return window, plugins, training


def _run_action(qtbot, view, fn, *args):
    loaded = []
    view.catalog.changed.connect(lambda: loaded.append(1))
    fn(*args)
    qtbot.waitUntil(lambda: view.last_exit is not None and bool(loaded), timeout=240000)
    return view.last_exit


def test_install_shows_the_recipe_in_the_form_and_uninstall_removes_it(qtbot, gui, tmp_path):
    window, plugins, training = gui
    assert "onesided" not in training.recipes() and "pix2pix" in training.recipes()
    src = tmp_path / "example_plugin"
    shutil.copytree(EXAMPLE, src)  # pip builds in place; keep the repository clean
    plugins.pip_args_edit.setText(OFFLINE)
    plugins.spec_edit.setText(str(src))
    code = _run_action(qtbot, plugins, plugins.install_button.click)
    assert code == 0, plugins.output.toPlainText()[-3000:]
    assert "Successfully installed gantrans-onesided-1.0.0" in plugins.output.toPlainText()  # pip, streamed
    assert "Installed" in plugins.notice.text() and "onesided" in plugins.notice.text()
    [row] = [p for p in plugins.plugins() if p.name == "onesided"]
    assert row.version == "1.0.0" and row.status == "ok" and "onesided" in row.registered["models"]
    assert plugins.tree.currentItem().text(0) == "onesided"  # the newcomer is selected and described
    assert "resize_resnet" in plugins.details.text()
    # what each of its networks and losses is, and the options it takes
    assert "ResNet generator upsampling by resize-convolution" in plugins.details.text()
    assert "n_blocks=6" in plugins.details.text() and "relativistic average standard GAN" in plugins.details.text()
    assert "onesided" in training.recipes()  # the shared catalog fed the training form
    assert training.select_recipe("onesided")
    assert training.options.editors  # its declared options became a form, with no GUI code
    assert all(w.toolTip() for w in training.options.editors.values())

    items = [plugins.tree.topLevelItem(k) for k in range(plugins.tree.topLevelItemCount())]
    plugins.tree.setCurrentItem(next(i for i in items if i.text(0) == "onesided"))
    assert plugins.uninstall_button.isEnabled()
    code = _run_action(qtbot, plugins, plugins.uninstall_button.click)
    assert code == 0, plugins.output.toPlainText()[-3000:]
    assert "onesided" not in {p.name for p in plugins.plugins()}
    assert "onesided" not in training.recipes()


def test_a_plugin_whose_import_raises_is_shown_failed_and_the_window_survives(qtbot, gui, tmp_path):
    window, plugins, training = gui
    src = tmp_path / "broken_plugin"
    shutil.copytree(EXAMPLE, src)
    pyproject = src / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("gantrans-onesided", "gantrans-broken-plugin")
                         .replace('onesided = "gantrans_onesided"', 'broken = "gantrans_onesided"'))
    init = src / "gantrans_onesided" / "__init__.py"
    init.write_text('raise RuntimeError("this plugin is broken on purpose")\n' + init.read_text())
    plugins.pip_args_edit.setText(OFFLINE)
    plugins.spec_edit.setText(str(src))
    try:
        busy = []
        plugins.runner.started.connect(lambda _d: busy.append(plugins.busy.isVisible()))
        code = _run_action(qtbot, plugins, plugins.install)
        assert code != 0  # the install says the plugin does not load
        assert busy == [True] and not plugins.busy.isVisible()  # at work while pip ran, then not
        # worded for this window: it is installed, selected, and its Uninstall button takes it out
        notice = plugins.notice.text()
        assert "Installed, but it does not load:" in notice and "press Uninstall to remove it" in notice
        assert "gantrans plugins uninstall" not in notice
        qtbot.waitUntil(lambda: plugins._selected() is not None and plugins._selected().name == "broken", timeout=5000)
        assert plugins.uninstall_button.isEnabled()
        assert plugins.output.toPlainText().count("broken on purpose") == 1  # said once, not once per channel
        [row] = [p for p in plugins.plugins() if p.name == "broken"]
        assert row.status == "failed" and "broken on purpose" in (row.error or "")
        # everything else still works: built-in recipes in the form, the view answers
        assert {"cyclegan", "pix2pix"} <= set(training.recipes())
        assert plugins.install_button.isEnabled() and plugins.refresh_button.isEnabled()
    finally:
        plugins.last_exit = None
        code = _run_action(qtbot, plugins, plugins.uninstall, "broken")
    assert code == 0, plugins.output.toPlainText()[-3000:]
    assert "broken" not in {p.name for p in plugins.plugins()}


def test_install_with_nothing_typed_says_what_to_type(qtbot, gui):
    window, plugins, training = gui
    plugins.spec_edit.setText("  ")
    plugins.install()
    assert not plugins.runner.running() and "Type what to install" in plugins.notice.text()


def test_a_plugin_that_only_adds_a_command_shows_it_as_registered(gui):
    window, plugins, training = gui
    items = [plugins.tree.topLevelItem(k) for k in range(plugins.tree.topLevelItemCount())]
    gui_row = next(i for i in items if i.text(0) == "gui")
    assert gui_row.text(3) == "ok" and gui_row.text(4) == "commands: gui"
    plugins.tree.setCurrentItem(gui_row)
    assert "<b>commands</b>: gui" in plugins.details.text()
