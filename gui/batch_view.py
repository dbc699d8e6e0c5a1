"""The Batch view: a whole folder (and its sub-folders) through one model, the tree mirrored.

The plan and the run are :mod:`gantrans.inference`'s own folder machinery (``collect_inputs``,
``plan_jobs``, ``Translator.translate_files``), the same code as ``gantrans translate``: inputs
are never overwritten, every file's failure is one row in the error table and never stops the
others, and Cancel stops within one model run with finished files written whole. This view
adds what a person needs around it: confirmation before writing into the input folder or over
existing files, count, rate and ETA, and a summary.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel

from gantrans.fileio import make_output_folder, not_a_folder
from gantrans_gui import workers
from gantrans_gui.inference_jobs import tile_option
from gantrans_gui.main_window import MainWindow, make_button
from gantrans_gui.model_picker import ModelPicker
from gantrans_gui.translate_view import tiling_combo

FORMATS = (("Same as input", None), ("PNG", "png"), ("JPEG", "jpg"), ("WebP", "webp"))


@dataclass
class BatchPlan:
    jobs: list  # gantrans.inference.FileJob
    existing: set  # destinations that already exist
    inside: bool
    notes: list = field(default_factory=list)  # what the walk left out (broken links, folders), a line each


def plan_batch(input_dir: str, output_dir: str, recursive: bool, fmt: str | None) -> BatchPlan:
    """Collect and plan (in a worker: a big tree takes a while to walk)."""
    from gantrans.inference import collect_inputs, plan_jobs

    inp, out = Path(input_dir), Path(output_dir)
    inside = out.resolve().is_relative_to(inp.resolve())
    notes: list[str] = []
    items = collect_inputs([inp], recursive=recursive, skip=out if inside else None, notes=notes)
    jobs = plan_jobs(items, out, fmt=fmt)
    if jobs:
        make_output_folder(out, "output folder")  # one line, not one per image, when it cannot be written
    existing = {j.dst for j in jobs if os.path.lexists(j.dst)}
    return BatchPlan(jobs, existing, inside, notes)


def run_batch(model: Path, jobs: list, overwrite: bool, tile: int | None, providers, threads, cancel, progress):
    """Translate the planned files; a cancel returns the partial report instead of raising."""
    from gantrans.errors import Cancelled
    from gantrans.inference import TranslateOptions, Translator, load_model

    translator = Translator(load_model(model, providers=providers, threads=threads),
                            options=TranslateOptions(tile=tile))
    try:
        report = translator.translate_files(jobs, overwrite=overwrite, cancel=cancel, progress=progress)
        return report, False, translator.model.providers
    except Cancelled as exc:
        return exc.report, True, translator.model.providers


def _absolute(edit: QLineEdit) -> str:
    """The folder typed in ``edit``, absolute and shown so: a relative one would land wherever the
    app happened to start, where nobody would look for the results."""
    text = edit.text().strip()
    if not text:
        return ""
    full = str(Path(text).expanduser().absolute())
    if full != text:
        edit.setText(full)
    return full


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "—"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class BatchView(QWidget):
    RUN_LABEL = "&Start batch"  # what Run > ... (Ctrl+Enter) does here

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window_ = window
        self.settings = window.settings
        self._cancel = None
        self._running = False
        self._notes: list[str] = []  # what the plan's walk left out, listed with the failures
        self._started = 0.0
        self._total = 0
        self._done = 0
        self.report = None
        self.cancelled = False

        setup = QGroupBox("Batch")
        form = QFormLayout(setup)
        self.picker = ModelPicker(window.library, label=False, settings_key="batch/model")
        form.addRow("Model:", self.picker)
        self.input_edit = QLineEdit(self.settings.value("batch/input", ""))
        self.input_edit.setAccessibleName("Input folder")
        self.input_edit.setPlaceholderText("Folder of images to translate")
        in_browse = make_button("Browse…", "mdi6.folder-open-outline", "Choose the input folder", "Browse input folder")
        in_browse.clicked.connect(lambda: self._browse(self.input_edit, "Input folder"))
        row = QHBoxLayout()
        row.addWidget(self.input_edit, 1)
        row.addWidget(in_browse)
        form.addRow("Input folder:", row)
        self.recursive = QCheckBox("Include sub-folders (the output mirrors the tree)")
        self.recursive.setAccessibleName("Include sub-folders")
        self.recursive.setChecked(self.settings.value("batch/recursive", "true") in (True, "true"))
        form.addRow("", self.recursive)
        self.output_edit = QLineEdit(self.settings.value("batch/output", ""))
        self.output_edit.setAccessibleName("Output folder")
        self.output_edit.setPlaceholderText("Where the results go (created if needed)")
        out_browse = make_button("Browse…", "mdi6.folder-open-outline", "Choose the output folder",
                                 "Browse output folder")
        out_browse.clicked.connect(lambda: self._browse(self.output_edit, "Output folder"))
        row = QHBoxLayout()
        row.addWidget(self.output_edit, 1)
        row.addWidget(out_browse)
        form.addRow("Output folder:", row)
        opts = QHBoxLayout()
        self.format_combo = QComboBox()
        self.format_combo.setAccessibleName("Output format")
        for text, value in FORMATS:
            self.format_combo.addItem(text, value)
        opts.addWidget(self.format_combo)
        opts.addSpacing(16)
        opts.addWidget(QLabel("Tiling:"))
        self.tiling = tiling_combo(self.settings.tiling)
        opts.addWidget(self.tiling)
        opts.addStretch(1)
        form.addRow("Format:", opts)

        self.start_button = make_button("Start", "mdi6.play", "Translate every image (Ctrl+Enter)", "Start batch")
        self.start_button.clicked.connect(self.run)
        self.cancel_button = make_button("Cancel", "mdi6.stop", "Stop after the current image (Esc)", "Cancel batch")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.open_output_button = QPushButton("Open output folder")
        self.open_output_button.setAccessibleName("Open output folder")
        self.open_output_button.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(self.output_edit.text())))
        self.open_output_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.open_output_button)

        self.progress = QProgressBar()
        self.progress.setAccessibleName("Batch progress")
        self.progress.setFormat("%v / %m")
        self.count_label = QLabel("—")
        self.count_label.setAccessibleName("Files done")
        self.rate_label = QLabel("—")
        self.rate_label.setAccessibleName("Rate")
        self.eta_label = QLabel("—")
        self.eta_label.setAccessibleName("Time left")
        self.current_label = QElidingLabel("")
        self.current_label.setAccessibleName("Current file")
        stats = QHBoxLayout()
        for title, label in (("Done:", self.count_label), ("Rate:", self.rate_label), ("Left:", self.eta_label)):
            stats.addWidget(QLabel(title))
            stats.addWidget(label)
            stats.addSpacing(18)
        stats.addWidget(self.current_label, 1)

        self.summary = QLabel("")
        self.summary.setAccessibleName("Batch summary")
        self.summary.setWordWrap(True)
        self.errors = QTableWidget(0, 2)
        self.errors.setAccessibleName("Files that failed or were left out")
        self.errors.setHorizontalHeaderLabels(["File", "Reason"])
        self.errors.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.errors.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.errors.verticalHeader().setVisible(False)
        self.errors.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.errors.setWordWrap(False)

        layout = QVBoxLayout(self)
        layout.addWidget(setup)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addLayout(stats)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("Files that failed or were left out:"))
        layout.addWidget(self.errors, 1)

        self.relay = workers.ProgressRelay(self)
        self.relay.progress.connect(self._progress)

    # -- inputs --------------------------------------------------------------------------------
    def _browse(self, edit: QLineEdit, title: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, title, edit.text() or str(Path.home()))
        if folder:
            edit.setText(folder)

    def confirm_output_inside(self, output: str, input_dir: str) -> bool:
        answer = QMessageBox.question(
            self, "Output inside the input folder?",
            f"The output folder {output} is inside the input folder {input_dir}.\n\nIts files will not be read as "
            f"inputs, but results will be written among your originals. Continue?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def ask_existing(self, count: int, total: int) -> str:
        """``overwrite``, ``skip`` or ``cancel`` when outputs already exist."""
        box = QMessageBox(QMessageBox.Icon.Question, "Files already exist",
                          f"{count} of the {total} output files already exist in {self.output_edit.text()}.",
                          QMessageBox.StandardButton.NoButton, self)
        skip = box.addButton("Skip them", QMessageBox.ButtonRole.AcceptRole)
        replace = box.addButton("Replace them", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(skip)
        box.exec()
        clicked = box.clickedButton()
        return "skip" if clicked is skip else "overwrite" if clicked is replace else "cancel"

    # -- running -------------------------------------------------------------------------------
    def run(self) -> None:
        if self._running:
            return
        self._clear_results()  # nothing of an earlier run stays on screen, whatever happens next
        entry = self.picker.current_entry()
        input_dir, output_dir = (_absolute(self.input_edit), _absolute(self.output_edit))
        if entry is None:
            self.window_.show_error("Choose a model first (the Models view lists them)")
            return
        if input_dir and Path(input_dir).is_file():
            self.window_.show_error(f"{input_dir}: is a file, not a folder; choose the folder of images to "
                                    f"translate (the Translate view opens a single image)")
            return
        if not input_dir or not Path(input_dir).is_dir():
            self.window_.show_error(f"{input_dir or 'The input folder'}: no such folder; choose the folder of "
                                    f"images to translate")
            return
        if not output_dir:
            self.window_.show_error("Choose an output folder (it is created if needed)")
            return
        not_folder = not_a_folder(output_dir)
        if not_folder is not None:
            self.window_.show_error(f"{not_folder}: is a file, not a folder; choose a folder for the results")
            return
        inp, out = Path(input_dir).resolve(), Path(output_dir).resolve()
        if inp == out:
            self.window_.show_error(f"{output_dir}: the output folder is the input folder; choose another one so "
                                    f"no original is touched")
            return
        if out.is_relative_to(inp) and not self.confirm_output_inside(output_dir, input_dir):
            return
        self.settings.set_value("batch/input", input_dir)
        self.settings.set_value("batch/output", output_dir)
        self.settings.set_value("batch/recursive", "true" if self.recursive.isChecked() else "false")
        self._set_running(True)
        self.summary.setText("Looking for images…")
        workers.run_in_thread(plan_batch, input_dir, output_dir, self.recursive.isChecked(),
                              self.format_combo.currentData(),
                              on_result=lambda plan: self._planned(entry.path, plan), on_error=self._failed,
                              owner=self)

    def _clear_results(self) -> None:
        """Back to the blank state of a view that has run nothing: counters, table, summary, buttons."""
        self.report, self.cancelled = None, False
        self._total, self._done, self._skipped = 0, 0, 0
        self._notes = []
        self.progress.reset()  # no value: the bar shows no "n / m"
        for label in (self.count_label, self.rate_label, self.eta_label):
            label.setText("—")
        self.current_label.setText("")
        self.summary.setText("")
        self.errors.setRowCount(0)
        self.open_output_button.setEnabled(False)

    def _planned(self, model: Path, plan: BatchPlan) -> None:
        if not plan.jobs:
            self._set_running(False)
            self.summary.setText(f"No images found in {self.input_edit.text()}"
                                 + ("" if self.recursive.isChecked() else " (sub-folders are not included)"))
            return
        jobs, overwrite = plan.jobs, False
        if plan.existing:
            choice = self.ask_existing(len(plan.existing), len(plan.jobs))
            if choice == "cancel":
                self._set_running(False)
                self.summary.setText("Nothing done: the output files already exist")
                return
            if choice == "skip":
                jobs = [j for j in jobs if j.dst not in plan.existing]
            else:
                overwrite = True
        from gantrans.inference import CancelToken

        self._cancel = CancelToken()
        from gantrans.inference.files import RECURSE_HINT

        # the walk's notes in the app's words: the Include sub-folders box, not the command line's -r
        self._notes = [n.replace(RECURSE_HINT, "tick Include sub-folders to translate them too") for n in plan.notes]
        self.count_label.setText(f"0 / {len(jobs)}")
        self.rate_label.setText("—")
        self._total, self._done = len(jobs), 0
        self._skipped = len(plan.jobs) - len(jobs)
        self._started = time.perf_counter()
        self.progress.setRange(0, max(1, self._total))
        self.progress.setValue(0)
        self.errors.setRowCount(0)
        self.summary.setText(f"Translating {self._total} image(s)…")
        self.window_.set_busy(True, 0, self._total)
        if not jobs:
            from gantrans.inference import BatchReport

            self._finished((BatchReport(), False, []))
            return
        workers.run_in_thread(run_batch, model, jobs, overwrite, tile_option(self.tiling.currentData()),
                              self.settings.providers(), self.settings.threads or None, self._cancel, self.relay,
                              on_result=self._finished, on_error=self._failed, owner=self)

    def _progress(self, p) -> None:
        if not self._running or not hasattr(p, "done"):
            return
        self._done = p.done
        self.progress.setValue(p.done)
        self.window_.set_busy(True, p.done, self._total)
        elapsed = time.perf_counter() - self._started
        self.count_label.setText(f"{p.done} / {p.total}")
        if p.done and elapsed > 0:
            rate = p.done / elapsed
            self.rate_label.setText(f"{rate:.1f} images/s" if rate >= 1 else f"{1 / rate:.1f} s/image")
            self.eta_label.setText(format_eta((p.total - p.done) / rate))
        if p.current:
            detail = f" (tile {p.tiles_done}/{p.tiles_total})" if p.phase == "tile" and p.tiles_total else ""
            self.current_label.setText(f"{p.phase}: {p.current}{detail}")

    def _finished(self, result) -> None:
        report, cancelled, providers = result
        self._set_running(False)
        self.report, self.cancelled = report, cancelled
        elapsed = time.perf_counter() - self._started
        written = len(report.written) if report else 0
        failed = list(report.failed) if report else []
        notes = self._notes
        self.errors.setRowCount(len(failed) + len(notes))
        for row, note in enumerate(notes, start=len(failed)):  # "PATH: why it was left out"
            where, _, why = note.partition(": ")
            self.errors.setItem(row, 0, QTableWidgetItem(where))
            item = QTableWidgetItem(f"left out: {why}")
            item.setToolTip(note)
            self.errors.setItem(row, 1, item)
        for row, (src, message) in enumerate(failed):
            prefix = f"{src}: "
            cause = report.causes.get(src)
            if cause is not None:  # the app's wording (a tile size under Tiling, not --tile)
                message = workers.one_line(cause)
            reason = message.removeprefix(prefix)
            self.errors.setItem(row, 0, QTableWidgetItem(str(src)))
            item = QTableWidgetItem(reason)
            item.setToolTip(prefix + reason)
            self.errors.setItem(row, 1, item)
        not_started = self._total - written - len(failed)
        parts = [f"{written} written to {self.output_edit.text()}"]
        if failed:
            parts.append(f"{len(failed)} failed (listed below)")
        if getattr(self, "_skipped", 0):
            parts.append(f"{self._skipped} skipped (already there)")
        if notes:
            parts.append(f"{len(notes)} left out (listed below)")
        if cancelled:
            parts.append(f"cancelled — {not_started} not started")
        rate = f" in {elapsed:.1f} s ({written / elapsed:.1f} images/s)" if elapsed > 0 and written else ""
        self.summary.setText(("Cancelled: " if cancelled else "Done: ") + ", ".join(parts) + rate)
        self.open_output_button.setEnabled(written > 0)
        self.current_label.setText("")
        self.eta_label.setText("—")
        if providers:
            self.window_.set_status(provider=providers[0], seconds=elapsed / written if written else None,
                                    per_image=True)
            self.window_.providers_in_use = list(providers)

    def _failed(self, exc: BaseException) -> None:
        self._set_running(False)
        self.summary.setText(f"Not started: {workers.one_line(exc)}")
        self.window_.show_error(workers.one_line(exc), workers.details(exc))

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if not running:
            self._cancel = None
            self.window_.set_busy(False)

    def cancel(self) -> None:
        if self._running and self._cancel is not None:
            self._cancel.cancel()
            self.summary.setText("Cancelling after the current image…")

    def is_busy(self) -> bool:
        return self._running

    def shutdown(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
