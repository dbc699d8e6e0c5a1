"""Runs: every training run under the runs folders the user added, live.

The list shows each run's state and progress; the selected run shows loss curves that grow
while it trains (one pyqtgraph plot per loss group, with smoothing), its epoch sample grids with
their row labels, checkpoints, exports and resolved config. Everything is read through
:mod:`gantrans.runs` and kept current by polling small files and tailing the metrics log.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QImage, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel

from gantrans.runs import (
    CONFIG_FILE,
    EPOCH_PREFIX,
    METRICS_FILE,
    STEP_GRID_PREFIX,
    RunDir,
    RunStatus,
    is_run_dir,
    list_runs,
)
from gantrans_gui import job_runner, view_support, workers
from gantrans_gui.image_widgets import ScaledImageLabel
from gantrans_gui.job_runner import TRAIN_INSTALL
from gantrans_gui.run_watch import RunWatch, run_status, smooth
from gantrans_gui.theme import state_colour
from gantrans_gui.training_jobs import last_job_log, report_job_failure, training_jobs

FOLDERS_KEY = "runs/folders"
#: a metrics log larger than this is read in a worker thread when its run is shown (15,000 rows,
#: a long run's, took 1.6 s to read and parse; a few hundred rows are read at once, no flicker)
BACKGROUND_METRICS_BYTES = 256 * 1024
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h} h {m:02d} min"
    return f"{m} min {s:02d} s" if m else f"{s} s"


def progress_text(st: dict[str, Any]) -> str:
    step, total = st.get("step"), st.get("total_steps")
    if step is None:
        return ""
    text = f"step {step}" + (f"/{total}" if total else "")
    if st.get("epoch") is not None:
        text += f" · epoch {RunStatus.from_dict(st).epoch_text()}"
    return text


def progress_short(st: dict[str, Any]) -> str:
    """The run list's narrow column: a percentage where the length is known, else the step."""
    step, total = st.get("step"), st.get("total_steps")
    if step is None:
        return ""
    return f"{min(100, int(100 * step / total))} %" if total else f"step {step}"


class CurvesPanel(QWidget):
    """One plot per loss group; curves are updated in place as rows arrive."""

    def __init__(self):
        super().__init__()
        self.plots = pg.GraphicsLayoutWidget()
        self.smoothing = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=99, value=60,
                                 accessibleName="Curve smoothing")
        self.smoothing_label = QLabel()
        self.empty = QLabel("No metrics logged yet.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Smoothing"))
        bar.addWidget(self.smoothing, 1)
        bar.addWidget(self.smoothing_label)
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(self.empty)
        lay.addWidget(self.plots, 1)
        self.watch: RunWatch | None = None
        self.items: dict[str, pg.PlotDataItem] = {}
        self.raw_items: dict[str, pg.PlotDataItem] = {}
        self.group_plots: dict[str, pg.PlotItem] = {}
        self._spare: dict[str, pg.PlotItem] = {}  # plots of an earlier run, by group, to show the next
        self.smoothing.valueChanged.connect(self._smoothing_changed)
        self._apply_palette()
        self._smoothing_changed(self.smoothing.value())

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # the theme changed: re-tint the plots
            self._apply_palette()

    def _colours(self) -> tuple[QColor, QColor]:
        pal = self.palette()
        return pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text)

    def _apply_palette(self) -> None:
        bg, _fg = self._colours()
        self.plots.setBackground(bg)
        for group, plot in self.group_plots.items():
            self._style_plot(plot, group)

    def _style_plot(self, plot: pg.PlotItem, group: str) -> None:
        bg, fg = self._colours()
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(fg)  # the grid is drawn with the axis pen, faded
            axis.setTextPen(fg)
        plot.setTitle(group, color=fg.name())
        plot.setLabel("bottom", "step", color=fg.name())
        legend = plot.legend
        if legend is not None:
            back = QColor(bg)
            back.setAlpha(190)
            legend.setBrush(pg.mkBrush(back))
            legend.setLabelTextColor(fg)  # for entries to come; the drawn ones are redrawn:
            for _sample, label in legend.items:
                label.setText(label.text, color=fg)

    def set_watch(self, watch: RunWatch | None, loading: bool = False) -> None:
        """Show ``watch``'s curves; ``loading``: its log is being read in a worker (say so, not
        "no metrics")."""
        self.watch = watch
        self.empty.setText("Reading the logged losses…" if loading else "No metrics logged yet.")
        for group, plot in self.group_plots.items():  # kept for the next run: building a plot is slow
            plot.clear()
            self.plots.removeItem(plot)
            self._spare[group] = plot
        self.items.clear()
        self.raw_items.clear()
        self.group_plots.clear()
        self.redraw()

    def _smoothing_changed(self, v: int) -> None:
        self.smoothing_label.setText(f"{v / 100:.2f}")
        self.redraw()

    def redraw(self) -> None:
        w = self.watch
        has = bool(w and w.series)
        self.empty.setVisible(not has)
        self.plots.setVisible(has)
        if not has:
            return
        weight = self.smoothing.value() / 100
        for group, keys in w.groups().items():
            plot = self.group_plots.get(group)
            if plot is None and group in self._spare:  # this group's plot of a run shown before
                plot = self._spare.pop(group)
                self.plots.addItem(plot, row=len(self.group_plots) // 2, col=len(self.group_plots) % 2)
                plot.legend.setColumnCount(2 if len(keys) > 3 else 1)
                plot.enableAutoRange()
                if group == "learning rate":
                    plot.enableAutoRange(axis="y", enable=False)
                self.group_plots[group] = plot
            if plot is None:
                plot = self.plots.addPlot(row=len(self.group_plots) // 2, col=len(self.group_plots) % 2)
                plot.showGrid(x=True, y=True, alpha=0.25)
                # a long run logs tens of thousands of rows: draw what the pixels can show
                plot.setDownsampling(auto=True, mode="peak")
                plot.setClipToView(True)
                # steps are whole numbers: a run of a step or two is not drawn over 1.6 ... 2.4
                plot.getViewBox().setLimits(minXRange=4)
                plot.addLegend(offset=(-5, 5), labelTextSize="8pt", colCount=2 if len(keys) > 3 else 1)
                self._style_plot(plot, group)
                if group == "learning rate":  # a constant rate would otherwise fill the plot with noise
                    plot.enableAutoRange(axis="y", enable=False)
                self.group_plots[group] = plot
            added = False
            for k, key in enumerate(keys):
                s = w.series[key]
                colour = PALETTE[k % len(PALETTE)]
                if key not in self.items:
                    added = True
                    faint = QColor(colour)
                    faint.setAlpha(60)
                    self.raw_items[key] = plot.plot(pen=pg.mkPen(faint, width=1))
                    self.items[key] = plot.plot(name=key, pen=pg.mkPen(colour, width=2), symbolSize=7,
                                                symbolPen=pg.mkPen(colour), symbolBrush=pg.mkBrush(colour))
                self.raw_items[key].setData(s.steps, s.values)
                self.raw_items[key].setVisible(weight > 0)
                # a line needs two points: a lone one (a run shorter than its log interval) is a dot
                self.items[key].setSymbol("o" if len(s.steps) == 1 else None)
                self.items[key].setData(s.steps, smooth(s.values, weight))
            if added:  # new legend entries take the palette's text colour
                self._style_plot(plot, group)
            if group == "learning rate":
                top = max((max(w.series[k].values, default=0.0) for k in keys), default=0.0)
                plot.setYRange(0, top * 1.1 if top > 0 else 1.0, padding=0)
            else:  # a constant curve (smoothing's rounding aside) must not zoom into 1e-15 wiggles
                top = max((abs(v) for k in keys for v in w.series[k].values if math.isfinite(v)), default=0.0)
                plot.getViewBox().setLimits(minYRange=max(top * 1e-3, 1e-12))


class SamplesPanel(QWidget):
    """Sample grids (per epoch, or every N steps) with a slider and their row labels."""

    def __init__(self):
        super().__init__()
        self.image = ScaledImageLabel("No sample grids yet.")
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=0, accessibleName="Sample grid")
        self.slider_label = QLabel("Grid")
        self.caption = QLabel()
        self.rows = QLabel()
        self.rows.setWordWrap(True)
        self.follow = True
        self.slider.setMinimumWidth(100)  # a narrow window shrank it to the size of a check box
        bar = QHBoxLayout()
        bar.addWidget(self.slider_label)
        bar.addWidget(self.slider, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.image, 1)
        lay.addWidget(self.rows)
        lay.addWidget(self.caption)  # the grid's name on its own line: the slider keeps the row's width
        lay.addLayout(bar)
        self.run: RunDir | None = None
        self.files: list[Path] = []
        self.slider.valueChanged.connect(self._show)

    def set_run(self, run: RunDir | None) -> None:
        self.run, self.files, self.follow = run, [], True
        self.image.set_image(None)
        self.image.setText("No sample grids yet.")
        self.rows.setText("")
        self.slider.setMaximum(0)
        self.refresh()

    def refresh(self, background: bool = False) -> None:
        """List the run's grids again; ``background``: in a worker thread (a long run has
        thousands, each with a sidecar to stat), shown when listed."""
        run = self.run
        if not background or run is None:
            self._listed(run, run.samples() if run is not None else [])
        elif not getattr(self, "_listing", False):
            self._listing = True
            workers.run_in_thread(run.samples, on_result=lambda files: self._listed(run, files),
                                  on_error=lambda _exc: None, on_finished=lambda: setattr(self, "_listing", False),
                                  owner=self)

    def _listed(self, run: RunDir | None, files: list[Path]) -> None:
        if run is not self.run or files == self.files:  # another run was chosen meanwhile, or nothing new
            return
        at_end = self.follow or self.slider.value() >= len(self.files) - 1
        self.files = files
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(0, len(files) - 1))
        if at_end:
            self.slider.setValue(max(0, len(files) - 1))
        self.slider.blockSignals(False)
        self._show(self.slider.value())

    def _show(self, k: int) -> None:
        if not self.files:
            self.caption.setText("")
            self.slider_label.setText("Grid")
            return
        self.follow = k >= len(self.files) - 1
        path = self.files[max(0, min(k, len(self.files) - 1))]
        # grids are written at epoch ends (epoch_NNNN) or every N steps (step_NNNNNNN)
        kind = "Epoch" if path.stem.startswith(EPOCH_PREFIX) else "Step" if path.stem.startswith(STEP_GRID_PREFIX) else "Grid"
        self.slider_label.setText(kind)
        labels = self.run.sample_labels(path) if self.run is not None else []
        # the trainer draws each row's label in the grid's left margin; the caption repeats them
        self.image.set_image(QImage(str(path)))
        self.caption.setText(f"{path.stem}  ({k + 1}/{len(self.files)})")
        self.rows.setText("Rows: " + ", ".join(labels) if labels else "")


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    t.verticalHeader().setVisible(False)
    return t


def _fill(table: QTableWidget, rows: list[list[Any]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem("" if value is None else str(value)))


def _when(t: Any) -> str:
    if isinstance(t, (int, float)):
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))
    return "" if t is None else str(t)


def _figure(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else ("" if v is None else str(v))


class RunsView(QWidget):
    def __init__(self, window: Any):
        super().__init__()
        self.window_ = window
        self.setObjectName("runs_view")
        self.jobs = training_jobs(window)
        self.folders: list[str] = view_support.get_list(FOLDERS_KEY)
        if not self.folders and Path("runs").is_dir():
            self.folders = [str(Path("runs").resolve())]
        self.run: RunDir | None = None
        self.watch: RunWatch | None = None
        self._status: dict[str, Any] = {}
        self.gone = False  # the shown run's folder was deleted or moved away

        # left: folders and runs
        self.folder_list = QListWidget()
        self.folder_list.setMaximumHeight(90)
        self.add_folder_button = QPushButton("Add runs folder…")
        self.remove_folder_button = QPushButton("Remove")
        self.import_button = QPushButton("Import reference checkpoint…")
        self.import_button.setToolTip("A CycleGAN/pix2pix generator .pth from the reference code: import it as a "
                                      "run and export it to the library")
        self.run_list = QTreeWidget()
        self.run_list.setHeaderLabels(["Run", "Recipe", "State", "Progress"])
        self.run_list.setRootIsDecorated(False)
        self.run_list.setAccessibleName("Runs")
        self.run_list.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.run_list.header().setStretchLastSection(True)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("Runs folders"))
        ll.addWidget(self.folder_list)
        fb = QHBoxLayout()
        fb.addWidget(self.add_folder_button)
        fb.addWidget(self.remove_folder_button)
        ll.addLayout(fb)
        ll.addWidget(self.run_list, 1)
        ll.addWidget(self.import_button)

        # right: the selected run
        self.title = QElidingLabel("Select a run")  # a run's name is data: it never widens the window
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        f = self.title.font()
        f.setPointSizeF(f.pointSizeF() * 1.3)
        f.setBold(True)
        self.title.setFont(f)
        self.title.setMinimumWidth(self.title.fontMetrics().horizontalAdvance("Select a run"))
        self.state_label = QLabel()
        self.detail_label = QLabel()
        self.detail_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.stop_button = QPushButton("St&op")
        self.stop_button.setToolTip("Ctrl+C the training: it saves a checkpoint you can resume from")
        self.resume_button = QPushButton("Res&ume")
        self.export_button = QPushButton("E&xport…")
        self.curves = CurvesPanel()
        self.samples = SamplesPanel()
        self.checkpoint_table = _table(["Checkpoint", "Step", "Epoch", "Saved", "Losses"])
        self.export_table = _table(["Model", "Folder", "From step", "Head", "Direction", "Kind", "Parity",
                                    "int8 PSNR", "Made"])
        self.export_table.setToolTip("Double-click a model to add it to the library")
        self.config_text = QPlainTextEdit(readOnly=True)
        self.config_text.setFont(QFont("monospace"))
        self.log_text = QPlainTextEdit(readOnly=True)
        self.log_text.setMaximumBlockCount(2000)
        self.tabs = QTabWidget()
        self.overview = QSplitter()
        self.overview.addWidget(self.curves)
        self.overview.addWidget(self.samples)
        # The sample grids are what a user looks at to judge a run: nearly half the width (a wide
        # cgan grid of 3 rows x 8 samples was drawn at a third of its size in a third of it).
        self.overview.setStretchFactor(0, 5)
        self.overview.setStretchFactor(1, 4)
        self.overview.setSizes([500, 400])
        self.tabs.addTab(self.overview, "Curves and samples")
        self.tabs.addTab(self.checkpoint_table, "Checkpoints")
        self.tabs.addTab(self.export_table, "Exports")
        self.tabs.addTab(self.config_text, "Config")
        self.tabs.addTab(self.log_text, "Output")
        right = QWidget()
        rl = QVBoxLayout(right)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)  # up to its whole name (show_run), cut where room is short
        head.addWidget(self.state_label)
        head.addStretch(1)
        for b in (self.stop_button, self.resume_button, self.export_button):
            head.addWidget(b)
        rl.addLayout(head)
        rl.addWidget(self.progress)
        rl.addWidget(self.detail_label)
        rl.addWidget(self.tabs, 1)
        self.gone_label = QLabel()  # in place of the tabs when the run's folder was deleted
        self.gone_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.gone_label.setWordWrap(True)
        self.gone_label.hide()
        rl.addWidget(self.gone_label, 1)

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 1)  # a narrower window narrows the list too, not only the run's panel
        split.setStretchFactor(1, 3)
        split.setSizes([300, 980])
        lay = QVBoxLayout(self)
        lay.addWidget(split)

        self.add_folder_button.clicked.connect(self._add_folder_dialog)
        self.remove_folder_button.clicked.connect(self._remove_folder)
        self.import_button.clicked.connect(self._import_dialog)
        self.run_list.currentItemChanged.connect(self._run_chosen)
        self.stop_button.clicked.connect(self.stop_run)
        self.resume_button.clicked.connect(self.resume_run)
        self.export_button.clicked.connect(self.open_export)
        self.export_table.cellDoubleClicked.connect(self._export_to_library)
        self.jobs.changed.connect(self.refresh_list)
        self.jobs.changed.connect(self._set_buttons)  # Stop for a training just started here, at once

        self.poll_timer = QTimer(self, interval=1000)
        self.poll_timer.timeout.connect(self.poll)
        self.list_timer = QTimer(self, interval=3000)
        self.list_timer.timeout.connect(self._refresh_list_in_background)
        self._loading: RunWatch | None = None  # the watch whose log a worker is reading
        self._listing = False
        self.poll_timer.start()
        self.list_timer.start()
        self._show_folders()
        self.refresh_list()
        self._set_buttons()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self.poll_timer.isActive():  # back from another view: catch up, then tick again
            self.poll_timer.start()
            self.list_timer.start()
            self._refresh_list_in_background()
            self.poll()

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Another view, or the window minimised: no polling for a view nobody sees (its 3 s list
        pass over a hundred runs was a periodic stall in the view being used)."""
        super().hideEvent(event)
        self.poll_timer.stop()
        self.list_timer.stop()

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "poll_timer"):
            self.refresh_list()  # the state colours follow the theme
            self._show_gone() if self.gone else self.poll()

    # -- folders -----------------------------------------------------------------------------
    def add_folder(self, path: str | Path) -> None:
        p = str(Path(path).resolve())
        if p not in self.folders:
            self.folders.append(p)
            view_support.set_list(FOLDERS_KEY, self.folders)
            self._show_folders()
        self.refresh_list()

    def _add_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add runs folder")
        if path:
            self.add_folder(path)

    def _remove_folder(self) -> None:
        item = self.folder_list.currentItem()
        if item is None:
            return
        self.folders.remove(item.text())
        view_support.set_list(FOLDERS_KEY, self.folders)
        self._show_folders()
        self.refresh_list()

    def _show_folders(self) -> None:
        self.folder_list.clear()
        self.folder_list.addItems(self.folders)

    # -- the list ----------------------------------------------------------------------------
    def runs(self) -> list[RunDir]:
        """The runs of every folder (and those started here elsewhere), newest first across them
        all: a training just started lands at the top, whichever folder it is in."""
        return [run for run, _st in _read_runs(self.folders, self._job_dirs(), with_status=False)]

    def _job_dirs(self) -> list[Path]:
        """Runs started here in a folder not in the list (maybe not yet written)."""
        folders = {Path(f).resolve() for f in self.folders}
        return [job.run_dir for job in self.jobs.jobs.values() if job.run_dir.parent.resolve() not in folders]

    def refresh_list(self) -> None:
        """Read every run's state and show it (at once: a folder added, a training started)."""
        self._show_list(_read_runs(self.folders, self._job_dirs()))

    def _refresh_list_in_background(self) -> None:
        """The timer's pass: the runs' files are read in a worker, the list updated when read."""
        if self._listing:
            return
        self._listing = True
        workers.run_in_thread(_read_runs, list(self.folders), self._job_dirs(), on_result=self._show_list,
                              on_error=lambda _exc: None, on_finished=lambda: setattr(self, "_listing", False),
                              owner=self)

    def _show_list(self, listed: list[tuple[RunDir, dict[str, Any]]]) -> None:
        """Update the list in place where the same runs are listed (the scroll position, the
        selection and the user's column sort stay: it used to be rebuilt every 3 s, back at the
        top), else rebuild it, keeping the scroll position."""
        current = self.run.path.resolve() if self.run is not None else None
        items = [self.run_list.topLevelItem(k) for k in range(self.run_list.topLevelItemCount())]
        same = [it.data(0, Qt.ItemDataRole.UserRole) for it in items] == [str(r.path) for r, _st in listed]
        self.run_list.blockSignals(True)
        scroll = self.run_list.verticalScrollBar().value()
        if not same:
            self.run_list.clear()
            items = []
            for run, _st in listed:
                item = QTreeWidgetItem([run.name, "", "", ""])
                item.setData(0, Qt.ItemDataRole.UserRole, str(run.path))
                item.setToolTip(0, str(run.path))
                items.append(item)
            self.run_list.addTopLevelItems(items)
        select = running = None
        for item, (run, st) in zip(items, listed):
            item.setText(1, str(st.get("recipe") or st.get("_config_recipe") or ""))
            item.setToolTip(1, item.text(1))
            self._fill_row(item, st)
            if current is not None and run.path.resolve() == current:
                select = item
            if running is None and st.get("state") == "running":
                running = item
        # Nothing shown yet (the view just opened): show a running run, else the newest, instead
        # of empty panels the user must first click away.
        chosen = None if current is not None else (running or self.run_list.topLevelItem(0))
        if select is not None:
            if self.run_list.currentItem() is not select:
                self.run_list.setCurrentItem(select)
        elif chosen is not None:
            self.run_list.setCurrentItem(chosen)
        self.run_list.verticalScrollBar().setValue(scroll)
        self.run_list.blockSignals(False)
        if chosen is not None:
            self._run_chosen(chosen)

    def _fill_row(self, item: QTreeWidgetItem, st: dict[str, Any]) -> None:
        """A run's state and progress in the list (the selected one's kept current by ``poll``)."""
        item.setText(2, str(st.get("state", "")))
        item.setText(3, progress_short(st))
        item.setToolTip(2, item.text(2))
        item.setToolTip(3, progress_text(st))  # the whole "step 10/10 · epoch 1/1"
        item.setForeground(2, QColor(state_colour(st.get("state"), self.palette())))

    def select_run(self, path: str | Path) -> bool:
        target = Path(path).resolve()
        for k in range(self.run_list.topLevelItemCount()):
            item = self.run_list.topLevelItem(k)
            if Path(item.data(0, Qt.ItemDataRole.UserRole)).resolve() == target:
                self.run_list.setCurrentItem(item)
                return True
        try:
            self.show_run(RunDir(target))
            return True
        except Exception:  # noqa: BLE001
            return False

    def _run_chosen(self, item, _previous=None) -> None:
        if item is None:
            return
        try:
            self.show_run(RunDir(item.data(0, Qt.ItemDataRole.UserRole)))
        except Exception as exc:  # noqa: BLE001
            view_support.show_error(self.window_, str(exc))

    # -- one run -----------------------------------------------------------------------------
    def show_run(self, run: RunDir) -> None:
        self.run = run
        self._set_gone(False)
        self.watch = watch = RunWatch(run)
        self.title.setMaximumWidth(self.title.fontMetrics().horizontalAdvance(run.name) + 8)
        self.title.setText(run.name)
        self.title.setToolTip(run.name)
        try:
            long_log = (run.path / METRICS_FILE).stat().st_size > BACKGROUND_METRICS_BYTES
        except OSError:
            long_log = False
        self._loading = watch if long_log else None
        self.curves.set_watch(watch, loading=long_log)
        if long_log:  # read and parsed in a worker; the 1 s polls tail it once it is in
            workers.run_in_thread(watch.poll, on_result=lambda _n: self._watch_loaded(watch),
                                  on_error=lambda _exc: self._watch_loaded(watch), owner=self)
        self.samples.set_run(run)
        self.config_text.setPlainText(json.dumps(_safe_config(run), indent=2, default=str))
        self.log_text.clear()
        self.log_text.setPlaceholderText(_output_hint(run))
        self._log_seen: tuple[int, int] | None = None
        self._last_key = None
        self.poll()

    def _watch_loaded(self, watch: RunWatch) -> None:
        if watch is self._loading:
            self._loading = None
            self.curves.set_watch(watch)  # draws what was read

    def _show_gone(self) -> None:
        """The shown run's folder was deleted or moved: say so instead of showing a stale run."""
        run = self.run
        self._set_gone(True)
        self._status = {}
        why = ("the run folder no longer exists" if not run.path.exists()
               else f"the folder no longer holds a run (its {CONFIG_FILE} is gone)")
        self.watch = None
        self.curves.set_watch(None)
        self.samples.set_run(None)
        self.state_label.setText(f"<b style='color:{state_colour(None, self.palette())}'>gone</b>")
        self.detail_label.setText(f"{run.name}: {why}.")
        self.gone_label.setText(f"{run.path} was deleted or moved away: its curves, grids and checkpoints "
                                "can no longer be shown or resumed. Choose another run.")
        _fill(self.checkpoint_table, [])
        _fill(self.export_table, [])
        self.config_text.clear()
        self._set_buttons()

    def _set_gone(self, gone: bool) -> None:
        self.gone = gone
        self.tabs.setVisible(not gone)
        self.progress.setVisible(not gone)
        self.gone_label.setVisible(gone)

    def poll(self) -> None:
        """Tail the selected run: status, new metric rows, new grids, checkpoints, exports."""
        run = self.run
        if run is None:
            return
        if not is_run_dir(run.path):
            if not self.gone:
                self._show_gone()
            return
        if self.gone:  # the folder is back (moved back, restored): show it afresh
            self.show_run(run)
            return
        st = self._status = run_status(run)
        row = self.run_list.currentItem()
        if row is not None and Path(row.data(0, Qt.ItemDataRole.UserRole)).resolve() == run.path.resolve():
            self._fill_row(row, st)  # the list shows what the panel shows, not 3 s behind
        if self.watch is not None and self.watch is not self._loading and self.watch.poll():
            self.curves.redraw()
        # folders and summaries are listed again only when the status says something moved
        self._polls = getattr(self, "_polls", 0) + 1
        key = (st.get("epoch"), str(st.get("last_checkpoint")), st.get("state"))
        slow = key != getattr(self, "_last_key", None) or self._polls % 10 == 0
        self._last_key = key
        if slow:
            self.samples.refresh(background=True)
        state = str(st.get("state", "unknown"))
        colour = state_colour(state, self.palette())
        self.state_label.setText(f"<b style='color:{colour}'>{state}</b>")
        step, total = st.get("step") or 0, st.get("total_steps") or 0
        self.progress.setMaximum(max(1, int(total)))
        self.progress.setValue(min(int(step), max(1, int(total))))
        self.progress.setFormat(progress_text(st) or "%p%")
        parts = []
        if state in ("running", "starting"):
            parts.append(f"ETA {format_eta(st.get('eta_s'))}")
            if st.get("images_per_s"):
                parts.append(f"{st['images_per_s']:.1f} images/s")
        for key in ("device", "precision", "data"):
            if st.get(key):
                parts.append(f"{key}: {st[key]}")
        ck = st.get("last_checkpoint")
        if isinstance(ck, dict) and ck.get("step") is not None:
            parts.append(f"last checkpoint at step {ck['step']}")
        if st.get("reason"):
            parts.append(f"reason: {st['reason']}")
        last = self.watch.last_row if self.watch else {}
        losses = [f"{k} {v:.3g}" for k, v in last.items() if k not in ("step", "epoch", "epoch_step", "time",
                                                                        "images_per_s")
                  and not k.startswith("lr") and isinstance(v, float)]
        if losses:
            parts.append("losses: " + ", ".join(losses[:8]))
        self.detail_label.setText(" · ".join(parts))
        if slow:
            self._fill_checkpoints()
            self._fill_exports()
        job = self.jobs.get(run.path)
        if job is not None and (id(job), job.lines) != getattr(self, "_log_seen", None):
            self.log_text.setPlainText("\n".join(job.output))
            self._log_seen = (id(job), job.lines)
        self._set_buttons()

    def _fill_checkpoints(self) -> None:
        rows = []
        for c in self.run.checkpoints():
            path = Path(getattr(c, "path", c))
            losses = getattr(c, "losses", None) or {}
            rows.append([path.name, getattr(c, "step", ""), getattr(c, "epoch", ""), _when(getattr(c, "time", None)),
                         ", ".join(f"{k} {_figure(v)}" for k, v in list(losses.items())[:6])])
        _fill(self.checkpoint_table, rows)

    def exports(self) -> list[Any]:
        getter = getattr(self.run, "exports", None) if self.run is not None else None
        try:
            return list(getter()) if getter else []
        except Exception:  # noqa: BLE001
            return []

    def _fill_exports(self) -> None:
        rows = []
        exports = self.exports()
        for e in exports:
            name = Path(e.path).name + ("  (missing)" if getattr(e, "missing", False) else "")
            # two exports of one run share a file name when written to two folders: where, and from when
            rows.append([name, Path(e.path).parent.name, getattr(e, "step", None), getattr(e, "head", ""),
                         getattr(e, "direction", ""), "int8" if getattr(e, "int8", False) else "fp32",
                         _figure(getattr(e, "parity", None)), _figure(getattr(e, "psnr", None)),
                         _when(getattr(e, "time", None))])
        _fill(self.export_table, rows)
        for r, e in enumerate(exports):
            self.export_table.item(r, 0).setToolTip(str(e.path))

    def _export_to_library(self, row: int, _col: int) -> None:
        exports = self.exports()
        if 0 <= row < len(exports) and not getattr(exports[row], "missing", False):
            view_support.add_to_library(self.window_, exports[row].path)

    def _set_buttons(self) -> None:
        if self.run is None or self.gone:
            for b in (self.stop_button, self.resume_button, self.export_button):
                b.setEnabled(False)
            return
        st = self._status
        state = st.get("state")
        job = self.jobs.get(self.run.path)
        ours = job is not None and job.runner.running()
        self.stop_button.setEnabled(ours or (state in ("running", "starting") and _local_pid(st) is not None))
        trains = job_runner.can_train()  # a translate-only install is told before a click, not after
        self.resume_button.setEnabled(trains and not ours and state in ("interrupted", "failed"))
        self.export_button.setEnabled(trains and bool(self.run.checkpoints()))
        lacking = "" if trains else f"Needs PyTorch and onnx, which this installation lacks: {TRAIN_INSTALL}"
        self.resume_button.setToolTip(lacking)
        self.export_button.setToolTip(lacking)

    # -- actions -----------------------------------------------------------------------------
    def stop_run(self) -> None:
        if self.run is None:
            return
        if not self.jobs.stop(self.run.path):
            pid = _local_pid(self._status)
            if pid is not None:  # a training started elsewhere on this machine
                import signal

                try:
                    os.kill(pid, signal.SIGINT)
                except OSError as exc:
                    view_support.show_error(self.window_, f"could not stop {self.run.name}: {exc}")
        self.stop_button.setEnabled(False)

    def resume_run(self) -> None:
        if self.run is None or self.gone:
            return
        try:
            job = self.jobs.resume(self.run.path)
        except RuntimeError as exc:
            view_support.show_error(self.window_, str(exc))
        else:  # a resume that fails (the child's one-line error) is said in the one error dialog
            job.runner.finished.connect(lambda code, job=job: report_job_failure(self.window_, job, code, "resuming"))
        self.poll()

    def _import_dialog(self) -> None:
        from gantrans_gui.reference_import import import_reference

        path, _ = QFileDialog.getOpenFileName(self, "Reference generator checkpoint", "",
                                              "PyTorch checkpoints (*.pth *.pt)")
        if path:
            dlg = import_reference(self.window_, path)
            dlg.done.connect(lambda _m: self.refresh_list())

    def open_export(self) -> None:
        from gantrans_gui.export_dialog import ExportDialog

        if self.run is None or self.gone:
            return
        dlg = ExportDialog(self.window_, self.run, parent=self)
        dlg.exported.connect(lambda _files: self._fill_exports())
        dlg.open()
        self._export_dialog = dlg


def _read_runs(folders: list[str], job_dirs: list[Path],
               with_status: bool = True) -> list[tuple[RunDir, dict[str, Any]]]:
    """Every run of ``folders`` and ``job_dirs``, newest first (by when its config was written;
    one not yet written first), with its status (and its config's recipe, for runs whose status
    does not say). Qt-free: the list timer calls it in a worker thread."""
    found: list[tuple[float, RunDir]] = []
    for folder in folders:
        try:
            runs = list_runs(folder)
        except Exception:  # noqa: BLE001 - a broken folder must not hide the others
            continue
        found += [(_written(run.path), run) for run in runs]
    for path in job_dirs:
        try:
            found.append((_written(path), RunDir(path)))
        except Exception:  # noqa: BLE001 - its config is not written yet
            pass
    listed = []
    for _when, run in sorted(found, key=lambda pair: pair[0], reverse=True):
        st: dict[str, Any] = {}
        if with_status:
            st = run_status(run)
            if not st.get("recipe"):
                st["_config_recipe"] = _safe_config(run).get("recipe", "")
        listed.append((run, st))
    return listed


def _written(path: Path) -> float:
    try:
        return (path / CONFIG_FILE).stat().st_mtime
    except OSError:
        return math.inf


def _output_hint(run: RunDir) -> str:
    """The Output tab's placeholder: where this run's output is, when this window did not start it."""
    text = ("Output appears here for trainings started or resumed from this window. A run keeps no "
            "text log in its folder: its state and any error are in status.json (shown above), its losses in "
            "metrics.jsonl (the Curves tab).")
    log = last_job_log(run.name)
    if log is None:
        return text
    events = log.with_name(log.name.removesuffix(".log") + ".events.jsonl")
    return text + (f"\n\nThe last start of a run named {run.name} from this app: its messages and progress in "
                   f"{events} (JSON lines), its warnings and errors in {log} (empty when there were none).")


def _safe_config(run: RunDir) -> dict[str, Any]:
    try:
        return run.config()
    except Exception:  # noqa: BLE001
        return {}


def _local_pid(st: dict[str, Any]) -> int | None:
    import socket

    pid = st.get("pid")
    if not isinstance(pid, int) or (st.get("host") and st.get("host") != socket.gethostname()):
        return None
    return pid
