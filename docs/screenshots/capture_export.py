"""The Export dialog from real use: a run's kept epoch chosen, fp32 and int8, run to the end.

    QT_QPA_PLATFORM=offscreen python docs/screenshots/capture_export.py RUN_DIR OUT_DIR \\
        [--checkpoint epoch_0007]

The dialog drives ``gantrans export`` in a child process as the Runs view's *Export…* does;
the PNG (export-int8.png) is written beside this script. Settings go to a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

OUT = Path(__file__).resolve().parent


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("out")
    p.add_argument("--checkpoint", default="epoch_0007")
    args = p.parse_args()

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication(sys.argv[:1])  # noqa: F841 - the application must outlive the dialog
    from gantrans.runs import RunDir
    from gantrans_gui import MainWindow
    from gantrans_gui.export_dialog import ExportDialog

    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    dialog = ExportDialog(window, RunDir(Path(args.run)), parent=window)
    dialog.resize(760, 560)
    dialog.show()
    dialog.checkpoint.setCurrentIndex(max(0, dialog.checkpoint.findText(args.checkpoint)))
    dialog.int8.setChecked(True)
    dialog.overwrite.setChecked(True)
    dialog.out_dir.setText(args.out)
    dialog.start()
    for _ in range(6000):
        QTest.qWait(100)
        if dialog.exit_code is not None:
            break
    QTest.qWait(300)
    path = OUT / "export-int8.png"
    dialog.grab().save(str(path))
    print("wrote", path, "exit", dialog.exit_code)
    return 0 if dialog.exit_code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
