"""Take the README's screenshots from real use: the real window at 1280x800, real models, real images.

    QT_QPA_PLATFORM=offscreen python docs/screenshots/capture.py \\
        --folder gantrans-demo/exports --folder cyclegan/exports \\
        --image photos/shapes_mosaic_512.png --translate-model cyclegan/exports/shapes_A2B.onnx \\
        --compare cyclegan/exports/epoch2/shapes_A2B.onnx cyclegan/exports/shapes_A2B.onnx \\
                  cyclegan/exports/shapes_A2B.int8.onnx \\
        --batch-model gantrans-demo/exports/demo_A2B.onnx --batch-input batch-in --batch-output batch-out

Settings go to a temporary folder, so your own are not touched.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, QSize
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

OUT = Path(__file__).resolve().parent
SIZE = QSize(1280, 800)


def wait(cond, seconds: float = 600) -> None:
    for _ in range(int(seconds * 20)):
        QTest.qWait(50)
        if cond():
            return
    raise SystemExit("timed out waiting for the GUI")


def shot(window, name: str) -> None:
    QTest.qWait(150)
    path = OUT / f"{name}.png"
    window.grab().save(str(path))
    print("wrote", path)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--folder", action="append", default=[])
    p.add_argument("--image", required=True)
    p.add_argument("--translate-model", required=True)
    p.add_argument("--compare", nargs="+", required=True)
    p.add_argument("--batch-model", required=True)
    p.add_argument("--batch-input", required=True)
    p.add_argument("--batch-output", required=True)
    p.add_argument("--select", default=None, help="model whose card the Models view shows")
    p.add_argument("--bad-image", default=None, help="a broken image file, for the error dialog")
    p.add_argument("--dark", action="store_true", help="also the Translate view in the dark theme")
    args = p.parse_args()

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication(sys.argv[:1])
    from gantrans_gui import MainWindow

    w = MainWindow()
    w.resize(SIZE)
    w.show()
    wait(lambda: w.is_ready)
    for folder in args.folder:
        w.add_model_folder(folder)
    wait(lambda: len(w.library.entries) >= len(args.compare) + 1)

    lib = w.show_view("library")
    wait(lambda: lib.list_model.rowCount() > 0)
    lib.select_path(Path(args.select or args.translate_model).resolve())
    shot(w, "library")

    tv = w.show_view("translate")
    tv.select_model(Path(args.translate_model).resolve())
    tv.open_image(args.image)
    wait(lambda: tv.outcome is not None)
    tv.set_mode("split")
    tv.split_canvas.set_split(0.5)
    tv.zoom("fit")
    shot(w, "translate-split")
    tv.set_mode("side")
    tv.after_canvas.zoom("100")
    tv.after_canvas.zoom("in")
    tv.after_canvas.zoom("in")
    shot(w, "translate-side-by-side")
    tv.zoom("fit")
    tv.set_mode("split")

    cv = w.show_view("compare")
    cv.set_models([Path(m).resolve() for m in args.compare])
    wait(lambda: len(cv.results) == len(args.compare) and not cv.is_busy())
    shot(w, "compare")

    bv = w.show_view("batch")
    bv.picker.select_path(Path(args.batch_model).resolve())
    bv.input_edit.setText(args.batch_input)
    bv.output_edit.setText(args.batch_output)
    bv.recursive.setChecked(True)
    bv.run()
    wait(lambda: bv.report is not None and not bv.is_busy())
    shot(w, "batch")

    w.show_view("settings")
    shot(w, "settings")

    if args.bad_image:
        from gantrans_gui.error_dialog import ErrorDialog

        w.show_view("translate").open_image(args.bad_image)
        wait(lambda: w.last_error is not None)
        dialog = [d for d in w.findChildren(ErrorDialog) if d.isVisible()][-1]
        dialog.details_box.expand(animate=False)
        dialog.resize(720, 420)
        QTest.qWait(200)
        dialog.grab().save(str(OUT / "error-dialog.png"))
        print("wrote", OUT / "error-dialog.png")
        dialog.accept()

    if args.dark:
        sv = w.show_view("settings")
        sv.theme_combo.setCurrentIndex(sv.theme_combo.findData("dark"))
        tv = w.show_view("translate")
        tv.set_mode("split")
        tv.split_canvas.set_split(0.35)
        shot(w, "translate-dark")
    w.close()
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
