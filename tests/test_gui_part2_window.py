"""The part-2 views inside the real main window: listed, built lazily, and torch-free."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

PART2 = ("runs", "training", "samples", "plugins")


def test_views_are_registered():
    from gantrans_gui.view_registry import VIEWS

    keys = [v.key for v in VIEWS]
    assert set(PART2) <= set(keys)
    for spec in VIEWS:
        if spec.key in PART2:
            assert spec.load().__name__.endswith("View")


def test_driving_every_part2_view_imports_no_torch(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from PySide6.QtCore import QEventLoop, QSettings, QTimer
        from PySide6.QtWidgets import QApplication
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, {str(tmp_path)!r})
        app = QApplication([])
        from gantrans_gui import MainWindow
        w = MainWindow()
        w.resize(1280, 800)
        w.show()
        def spin(ms):
            loop = QEventLoop(); QTimer.singleShot(ms, loop.quit); loop.exec()
        for key in {PART2!r}:
            view = w.show_view(key)
            spin(200)
        training = w.view("training")
        for _ in range(300):
            if training.catalog.loaded:
                break
            spin(100)
        print("recipes", ",".join(training.recipes()))
        print("torch", "torch" in sys.modules)
        w.close()
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    assert {"cyclegan", "pix2pix", "cgan", "vanilla"} <= set(lines["recipes"].split(","))  # through the CLI
    assert lines["torch"] == "False"


def test_a_dropped_pth_offers_the_import_route(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    from gantrans_gui import MainWindow, reference_import

    monkeypatch.setattr(reference_import, "can_train", lambda: False)
    w = MainWindow()
    qtbot.addWidget(w)
    pth = tmp_path / "latest_net_G.pth"
    pth.write_bytes(b"x")
    w.open_paths([str(pth)])
    box = next(b for b in w.findChildren(QMessageBox) if b.accessibleName() == "Checkpoint advice")
    [button] = [b for b in box.buttons() if b.text().startswith("Import and export")]
    button.click()
    dlg = next(d for d in w.findChildren(reference_import.ReferenceImportDialog))
    assert dlg.path == pth and dlg.state.text() == reference_import.NO_TORCH


def test_every_view_drops_worker_results_once_it_is_gone():
    """A view's worker results arrive through the event loop after the work ends, maybe after the
    view was deleted (a closed window, a test's teardown): every view passes ``owner=`` so
    :func:`gantrans_gui.workers.run_in_thread` drops them instead of touching dead widgets."""
    import ast
    from pathlib import Path

    import gantrans_gui

    gui = Path(gantrans_gui.__file__).parent
    missing, seen = [], 0
    for path in sorted(gui.glob("*.py")):
        if path.name in ("workers.py", "main_window.py"):  # the window outlives all of its work
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                    "run_in_thread", "create_worker"):
                seen += 1
                if not any(k.arg == "owner" for k in node.keywords):
                    missing.append(f"{path.name}:{node.lineno}")
    assert seen >= 10 and not missing, missing
