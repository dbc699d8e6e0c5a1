"""A reference CycleGAN/pix2pix ``.pth`` becomes a model in the library.

Two CLI steps in child processes, with progress: ``gantrans import`` (reads the state_dict,
writes a run) then ``gantrans export`` (writes the ONNX model). Both need torch, which the GUI
never imports; when the interpreter that runs them has no torch, one sentence says what to
install and nothing is started.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QVBoxLayout,
)

from gantrans_gui import view_support
from gantrans_gui.export_dialog import OUT_KEY, export_args
from gantrans_gui.job_runner import JobRunner, can_train

NO_TORCH = ("Importing a reference checkpoint needs PyTorch, which this installation does not have: "
            "install it with  pip install \"gantrans[train]\"  and try again.")
RUNS_KEY = "reference/runs_dir"


def safe_run_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-.") or "reference"


class ReferenceImportDialog(QDialog):
    done = Signal(list)  # models written

    def __init__(self, window: Any, path: str | Path, parent=None):
        super().__init__(parent)
        self.window_ = window
        self.path = Path(path)
        self.models: list[str] = []
        self.run_dir: Path | None = None
        self.stage = ""
        self.exit_code: int | None = None
        self.setWindowTitle(f"Import {self.path.name}")
        self.resize(620, 420)
        self.as_box = QComboBox(accessibleName="Import as")
        self.as_box.addItem("detect (U-Net: pix2pix, ResNet: CycleGAN A→B)", None)
        for choice in ("cyclegan-A2B", "cyclegan-B2A", "pix2pix"):
            self.as_box.addItem(choice, choice)
        self.name_edit = QLineEdit(safe_run_name(self.path))
        self.runs_dir = QLineEdit(str(view_support.settings().value(RUNS_KEY, str(Path("runs").resolve()))))
        self.out_dir = QLineEdit(str(view_support.settings().value(OUT_KEY, str(Path("exports").resolve()))))
        form = QFormLayout()
        form.addRow("Checkpoint", QLabel(str(self.path)))
        form.addRow("Import as", self.as_box)
        form.addRow("Run name", self.name_edit)
        form.addRow("Runs folder", self.runs_dir)
        form.addRow("Export to", self.out_dir)
        self.progress = QProgressBar()
        self.progress.setRange(0, 2)
        self.state = QLabel()
        self.state.setWordWrap(True)
        self.log = QPlainTextEdit(readOnly=True)
        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton("Import and export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Close).clicked.connect(self._close)
        self.start_button.clicked.connect(self.start)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.progress)
        lay.addWidget(self.state)
        lay.addWidget(self.log, 1)
        lay.addWidget(self.buttons)
        self.runner = JobRunner(self)
        self.runner.output.connect(self.log.appendPlainText)
        self.runner.message.connect(self.log.appendPlainText)
        self.runner.warning.connect(lambda t: self.log.appendPlainText(f"warning: {t}"))
        self.runner.error.connect(self._error)
        self.runner.result.connect(self._result)
        self.runner.finished.connect(self._finished)
        if not can_train():
            self.state.setText(NO_TORCH)
            self.start_button.setEnabled(False)

    def start(self) -> None:
        if not can_train():
            self.state.setText(NO_TORCH)
            return
        runs = Path(self.runs_dir.text().strip() or "runs").expanduser()
        view_support.settings().setValue(RUNS_KEY, str(runs))
        self.run_dir = runs / (self.name_edit.text().strip() or safe_run_name(self.path))
        args = ["import", str(self.path), "--name", self.run_dir.name, "--runs-dir", str(runs)]
        if self.as_box.currentData():
            args += ["--as", self.as_box.currentData()]
        self.stage, self.models, self.exit_code = "import", [], None
        self.progress.setValue(0)
        self.state.setText(f"Reading {self.path.name}…")
        self.start_button.setEnabled(False)
        self.runner.start(args)

    def _error(self, text: str) -> None:
        self.state.setText(f"<span style='color:#c62828'><b>{self.stage.capitalize()} failed:</b> {text}</span>")

    def _result(self, data: dict) -> None:
        files = [str(f) for f in data.get("files") or []]
        if self.stage == "import":
            dirs = [f for f in files if not f.endswith((".pt", ".pth", ".json"))]
            if dirs:
                self.run_dir = Path(dirs[0])
        else:
            self.models += [f for f in files if f.endswith(".onnx")]
            if data.get("figures"):
                from gantrans_gui.export_dialog import describe_figures

                self.log.appendPlainText(describe_figures(data["figures"]))

    def _finished(self, code: int) -> None:
        if code != 0:
            self.exit_code = code
            self.start_button.setEnabled(True)
            return
        if self.stage == "import":
            self.progress.setValue(1)
            self.stage = "export"
            self.state.setText(f"Exporting {self.run_dir.name} to ONNX (with a parity check)…")
            out = self.out_dir.text().strip() or "exports"
            self.runner.start(export_args(self.run_dir, out, int8=False))
            return
        self.exit_code = 0
        self.progress.setValue(2)
        for m in self.models:
            view_support.add_to_library(self.window_, m)
        self.state.setText("Added to the library: " + ", ".join(Path(m).name for m in self.models))
        self.done.emit(self.models)

    def _close(self) -> None:
        if self.runner.running():
            self.runner.cancel()
        self.reject()


def import_reference(window: Any, path: str | Path) -> ReferenceImportDialog:
    """Open the import dialog for a dropped ``.pth`` (the window's drop handler calls this)."""
    parent = window if hasattr(window, "windowHandle") else None
    dlg = ReferenceImportDialog(window, path, parent=parent)
    dlg.open()
    return dlg
