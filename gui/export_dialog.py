"""Export a run's generators to ONNX (fp32, and int8 if asked) through ``gantrans export``.

Progress and the command's own lines stream into the dialog; the parity figure and the int8
PSNR from its result are shown, and each written model goes into the library at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from gantrans.fileio import OVERWRITE_HINT
from gantrans.runs import RunDir, epoch_of_checkpoint
from gantrans_gui import view_support
from gantrans_gui.job_runner import JobRunner

OUT_KEY = "export/out_dir"


def export_args(run: RunDir | str | Path, out_dir: str | Path, *, int8: bool, checkpoint: str = "latest",
                overwrite: bool = False, force: bool = False, calibration: str | Path | None = None) -> list[str]:
    path = run.path if isinstance(run, RunDir) else Path(run)
    args = ["export", str(path), "--out", str(out_dir), "--checkpoint", checkpoint]
    if int8:
        args.append("--int8")
        if calibration:
            args += ["--calibration", str(calibration)]
    if overwrite:
        args.append("--overwrite")
    if int8 and force:
        args.append("--force")
    return args


FIGURE_NAMES = {"parity_max_abs_diff": ("parity (max abs difference to PyTorch)", ""),
                "int8_psnr_db": ("int8 PSNR against fp32", " dB")}


def describe_figures(figures: dict[str, Any]) -> str:
    """One line per model and figure of the export's result (parity, int8 PSNR, ...)."""
    lines = []
    for key, value in figures.items():
        if key in FIGURE_NAMES and isinstance(value, dict):
            label, unit = FIGURE_NAMES[key]
            for path, v in value.items():
                lines.append(f"{Path(str(path)).name}: {label} {_fmt(v)}{unit}")
            continue
        if isinstance(value, dict):
            inner = ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
            lines.append(f"{key}: {inner}")
        else:
            lines.append(f"{key}: {_fmt(value)}")
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class ExportDialog(QDialog):
    exported = Signal(list)  # the files written

    def __init__(self, window: Any, run: RunDir, parent=None):
        super().__init__(parent)
        self.window_ = window
        self.run = run
        self.files: list[str] = []
        self.figures: dict[str, Any] = {}
        self.exit_code: int | None = None
        self.setWindowTitle(f"Export {run.name}")
        self.resize(640, 460)

        self.checkpoint = QComboBox(accessibleName="Checkpoint")
        self.checkpoint.addItem("latest", "latest")
        for c in run.checkpoints():
            epoch = epoch_of_checkpoint(c.path)  # what --checkpoint resolves: the file's name
            if epoch is not None:
                self.checkpoint.addItem(c.path.stem, str(epoch))
        self.fp32 = QCheckBox("fp32 (always written)")
        self.fp32.setChecked(True)
        self.fp32.setEnabled(False)
        self.int8 = QCheckBox("int8 (static QDQ, calibrated on the run's images, or on random z for a generator)")
        self.overwrite = QCheckBox("Replace existing exports")
        self.force = QCheckBox("Keep the int8 model even below 30 dB PSNR")
        self.calibration = QLineEdit(accessibleName="Calibration images")
        self.calibration.setPlaceholderText("the run's data set")
        self.calibration.setToolTip("A folder of images like the model's inputs to calibrate int8 on; "
                                    "empty: the run's own data set")
        calib_browse = QPushButton("Browse…", accessibleName="Choose the calibration images folder")
        calib_browse.clicked.connect(self._browse_calibration)
        calib_row = QHBoxLayout()
        calib_row.addWidget(self.calibration, 1)
        calib_row.addWidget(calib_browse)
        for w in (self.force, self.calibration, calib_browse):
            w.setEnabled(False)
            self.int8.toggled.connect(w.setEnabled)
        default_out = view_support.settings().value(OUT_KEY, str(Path("exports").resolve()))
        self.out_dir = QLineEdit(str(default_out))
        self._out = str(default_out)
        browse = QPushButton("Browse…", accessibleName="Choose the output folder")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_dir, 1)
        out_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Checkpoint", self.checkpoint)
        form.addRow("Precision", self.fp32)
        form.addRow("", self.int8)
        form.addRow("", self.force)
        form.addRow("Calibration images", calib_row)
        form.addRow("Output folder", out_row)
        form.addRow("", self.overwrite)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setVisible(False)
        self.figures_label = QLabel()
        self.figures_label.setWordWrap(True)
        self.log = QPlainTextEdit(readOnly=True)
        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.start_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.progress)
        lay.addWidget(self.figures_label)
        lay.addWidget(self.log, 1)
        lay.addWidget(self.buttons)

        self.runner = JobRunner(self)
        self.runner.started.connect(self._started)
        self.runner.progress.connect(self._progress)
        self.runner.message.connect(self.log.appendPlainText)
        self.runner.warning.connect(lambda t: self.log.appendPlainText(f"warning: {t}"))
        self.runner.output.connect(self.log.appendPlainText)
        self.runner.error.connect(self._error)
        self.runner.result.connect(self._result)
        self.runner.finished.connect(self._finished)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Export into", self.out_dir.text())
        if path:
            self.out_dir.setText(path)

    def _browse_calibration(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Calibrate int8 on the images in", self.calibration.text())
        if path:
            self.calibration.setText(path)

    def start(self) -> None:
        out = self._out = self.out_dir.text().strip() or "exports"
        self.files, self.figures, self.exit_code = [], {}, None
        self.log.clear()
        self.figures_label.clear()
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.start_button.setEnabled(False)
        self.runner.start(export_args(self.run, out, int8=self.int8.isChecked(),
                                      checkpoint=self.checkpoint.currentData(),
                                      overwrite=self.overwrite.isChecked(), force=self.force.isChecked(),
                                      calibration=self.calibration.text().strip() or None))

    def _started(self, data: dict) -> None:
        if data.get("total"):
            self.progress.setRange(0, int(data["total"]))

    def _progress(self, data: dict) -> None:
        if data.get("total"):
            self.progress.setRange(0, int(data["total"]))
            self.progress.setValue(int(data.get("done") or 0))

    def _error(self, text: str) -> None:
        text = text.replace(OVERWRITE_HINT, f"tick '{self.overwrite.text()}' to replace it")
        text = text.replace("pass --calibration DIR", "choose a folder under 'Calibration images'")
        self.log.appendPlainText(f"error: {text}")
        self.figures_label.setText(f"<b style='color:#c62828'>Export failed:</b> {text}")

    def _result(self, data: dict) -> None:
        self.files.extend(str(f) for f in data.get("files") or [])
        self.figures.update(data.get("figures") or {})

    def _finished(self, code: int) -> None:
        self.exit_code = code
        if code == 0:  # a folder that failed is not offered again next time
            view_support.settings().setValue(OUT_KEY, self._out)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if code == 0 else 0)
        self.start_button.setEnabled(True)
        if code != 0:
            return
        models = [f for f in self.files if f.endswith(".onnx")]
        for f in models:
            view_support.add_to_library(self.window_, f)
        text = "Exported " + ", ".join(Path(f).name for f in models)
        if self.figures:
            text += "\n" + describe_figures(self.figures)
        self.figures_label.setText(text)
        self.exported.emit(models)

    def reject(self) -> None:
        """Close, Esc and the window's close box all end here: an export still running is stopped
        (Ctrl+C: nothing half-written is kept), never left to write files behind a closed dialog."""
        if self.runner.running():
            self.runner.cancel()
        super().reject()
