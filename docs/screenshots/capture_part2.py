"""Screenshots of the training-side views (issue 15) at 1280x800, from real use.

    QT_QPA_PLATFORM=offscreen python docs/screenshots/capture_part2.py WORKDIR [--model GEN.onnx]

WORKDIR receives a runs folder, data, a throw-away venv for the plugin install and the
settings; the PNGs are written beside this script. Steps: a CycleGAN started from the
New training form and shown in the Runs view while it trains; the example plugin installed
through the Plugins view (into the venv) and its recipe's form; the Samples view on a
generation model (``--model``; a cgan export).
"""

from __future__ import annotations

import argparse
import os
import shutil
import site
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workdir")
    ap.add_argument("--model", help="a generate/generate-conditional .onnx for the Samples view")
    ap.add_argument("--train-seconds", type=float, default=150)
    ap.add_argument("--only", default="runs,plugins,samples,presets")
    args = ap.parse_args()
    work = Path(args.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(","))

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(work / "settings"))
    os.environ.setdefault("GANTRANS_DATA_DIR", str(work / "data"))
    app = QApplication([])  # noqa: F841
    from gantrans_gui import MainWindow

    def spin(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def until(cond, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            spin(100)
            if cond():
                return True
        return False

    def shot(window, name: str) -> None:
        spin(600)
        window.grab().save(str(HERE / name))
        print("wrote", HERE / name)

    def window_at(view_name: str):
        """A main window at the screenshots' size, showing one view once its catalog (if any) loaded."""
        w = MainWindow()
        w.resize(1280, 800)
        w.show()
        view = w.show_view(view_name)
        catalog = getattr(view, "catalog", None)
        if catalog is not None:
            until(lambda: catalog.loaded, 60)
        return w, view

    if "runs" in only:
        w, form = window_at("training")
        form.select_recipe("cyclegan")
        form.apply_preset("paper")  # labels -> renders: the README's advice for different kinds of image
        for key, value in (("generator", "resnet_6blocks"), ("ngf", 16), ("ndf", 16)):
            form.options.set_value(key, value)
        form.data_edit.setCurrentText("shapes")
        form.inspect_data("shapes")
        form.name_edit.setText("shapes-cyclegan")
        form.runs_dir_edit.setText(str(work / "runs"))
        form.crop_size.setValue(64)
        form.max_items.setValue(24)
        form.batch_size.setValue(1)
        form.workers.setValue(0)
        form.log_every.setValue(4)
        form.max_steps.setValue(5000)
        form.start_button.click()
        until(lambda: form.job.last_progress.get("done", 0) > 0, 180)
        shot(w, "training-progress.png")
        until(lambda: False, args.train_seconds)
        runs = w.show_view("runs")
        runs.select_run(work / "runs" / "shapes-cyclegan")
        runs.poll()
        shot(w, "runs-live.png")
        form.job.runner.cancel()
        until(lambda: not form.job.runner.running(), 120)
        w.close()

    if "plugins" in only:
        python = make_venv(work / "venv")
        os.environ["GANTRANS_GUI_PYTHON"] = str(python)
        w, view = window_at("plugins")
        src = work / "example_plugin"
        shutil.rmtree(src, ignore_errors=True)
        shutil.copytree(ROOT / "tests" / "example_plugin", src)
        view.pip_args_edit.setText("--no-build-isolation --no-index")
        view.spec_edit.setText(str(src))
        view.install()
        until(lambda: view.last_exit is not None, 300)
        until(lambda: any(p.name == "onesided" for p in view.plugins()), 60)
        shot(w, "plugins-after-install.png")
        form = w.show_view("training")
        form.select_recipe("onesided")
        shot(w, "training-plugin-recipe.png")
        view = w.show_view("plugins")
        view.uninstall("onesided")
        until(lambda: not view.runner.running(), 300)
        w.close()

    if "presets" in only:
        w, form = window_at("training")
        form.select_recipe("pix2pix")
        form.apply_preset("paper")
        shot(w, "training-preset-paper.png")
        w.close()

    if "samples" in only and args.model:
        w, view = window_at("samples")
        view.count.setValue(36)
        view.seed.setValue(7)
        view.open_model(args.model)
        until(lambda: view.grid is not None, 30)
        view.from_box.setValue(1)
        view.to_box.setValue(4)
        view.interpolate()
        until(lambda: view.frames is not None, 30)
        view.slider.setValue(16)
        shot(w, "samples.png")
        w.close()


def make_venv(root: Path) -> Path:
    python = root / "bin" / "python"
    if python.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    parents = sorted(site.getsitepackages(), key=lambda p: not p.startswith(sys.base_prefix))
    (Path(purelib) / "_gantrans_parent.pth").write_text("\n".join(parents) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-e", str(ROOT)], check=True)
    return python


if __name__ == "__main__":
    main()
