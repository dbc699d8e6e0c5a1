"""New training: pick a recipe, fill its generated options form, check the data, start.

The recipe list and option declarations come from ``gantrans plugins list --json``; the data
panel from ``gantrans data info --json`` plus a Pillow scan. Start runs
``gantrans train … --progress json`` as a detached child (see :mod:`gantrans_gui.training_jobs`);
progress, ETA and losses stream in, Stop is Ctrl+C (a checkpoint is saved), Resume continues
the run from it.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gantrans.options import Preset
from gantrans.runs import epoch_text
from gantrans_gui import view_support, workers
from gantrans_gui.cli_query import CliQuery, last_error_line, parse_json
from gantrans_gui.data_inspect import describe, image_summary
from gantrans_gui.job_runner import TRAIN_INSTALL
from gantrans_gui.options_form import OptionsForm, option_args
from gantrans_gui.plugin_catalog import OptionSpec, plugin_catalog
from gantrans_gui.runs_view import FOLDERS_KEY, format_eta
from gantrans_gui.theme import state_colour
from gantrans_gui.training_jobs import TrainingJob, report_job_failure, training_jobs

#: Recipe options whose value names a registered network: their network's options join the form.
NETWORK_OPTIONS = ("generator", "discriminator", "netG", "netD")
#: Network options the built-in recipes set themselves (refused as ROLE.OPTION).
#: the form's channel choices and the --channels each passes (the first is the default)
CHANNELS = {"colour": 3, "greyscale": 1}
PASSED_BY_RECIPE = frozenset({"in_channels", "out_channels", "latent_size", "num_classes", "image_size", "n_layers"})
#: What gives a translate-only installation training (the command line's own advice).
#: The form's run fields as the last Start left them (a JSON object), and the data last trained on.
FORM_KEY = "training/form"
RECENT_DATA_KEY = "training/recent_data"
MAX_RECENT_DATA = 10


class TrainingView(QWidget):
    RUN_LABEL = "S&tart training"  # what Run > ... (Ctrl+Enter) does here

    def __init__(self, window: Any):
        super().__init__()
        self.window_ = window
        self.setObjectName("training_view")
        self.catalog = plugin_catalog(window)
        self.jobs = training_jobs(window)
        self.jobs.changed.connect(self._follow_jobs)
        self.job: TrainingJob | None = None
        self._remembered_data = ""  # the last Start's data, set once the plugin catalog is read
        self._stopping = False  # Stop pressed: the progress line no longer replaces "Stopping…"
        self._made_up_name: str | None = None  # the name start() took from the clock, if it did
        self.data_info: dict[str, Any] | None = None
        self.data_summary: dict[str, Any] | None = None
        self._data_query: CliQuery | None = None
        self._unconfirmed: tuple[Path, dict[str, Any]] | None = None  # a Start whose run folder is not seen yet

        # recipe
        self.recipe_box = QComboBox(accessibleName="Recipe")
        self.recipe_box.setMinimumContentsLength(10)
        self.recipe_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.recipe_about = QLabel()
        self.recipe_about.setWordWrap(True)
        self.recipe_about.setTextFormat(Qt.TextFormat.RichText)
        self.options = OptionsForm()
        self.network_info: dict[str, str] = {}
        self.presets: dict[str, Preset] = {}
        self.role_forms: dict[str, OptionsForm] = {}
        self.network_box = QVBoxLayout()
        self.reset_button = QPushButton("&Defaults")
        # A recipe's presets (the paper's settings, ...) fill the form, so what they change is seen.
        self.preset_box = QComboBox(accessibleName="Preset")
        self.preset_box.setToolTip("Named settings of the recipe: choosing one fills the options below")
        self.preset_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

        # data
        self.data_edit = QComboBox(editable=True, accessibleName="Data folder or built-in data set")
        self.data_edit.lineEdit().setPlaceholderText("a data folder, or a built-in data set name")
        self.browse_button = QPushButton("&Browse…")
        # --data-format: a folder that several formats read (a plugin's among them) is read as chosen
        self.format_box = QComboBox(accessibleName="Data format")
        self.format_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.format_box.addItem("detect", "")
        self.format_box.setToolTip("How the folder is read: 'detect' picks the first format of the recipe's kinds "
                                   "that recognises it (--data-format)")
        self.data_label = QLabel("Choose a data folder to see what is in it.")
        self.data_label.setWordWrap(True)
        self.data_label.setTextFormat(Qt.TextFormat.RichText)

        # run
        self.name_edit = QLineEdit(accessibleName="Run name")
        self.name_edit.setPlaceholderText("(recipe-date-time)")
        self.runs_dir_edit = QLineEdit(accessibleName="Runs folder")
        folders = view_support.get_list(FOLDERS_KEY)
        self.runs_dir_edit.setText(folders[0] if folders else str(Path("runs").resolve()))
        self.device_box = QComboBox(accessibleName="Device")
        self.device_box.addItems(["auto", "cpu", "cuda", "mps"])
        self.precision_box = QComboBox(accessibleName="Precision")
        self.precision_box.addItems(["auto", "fp32", "bf16", "fp16"])
        self.epochs = QSpinBox(minimum=0, maximum=100000, value=0, accessibleName="Epochs")
        self.epochs.setSpecialValueText("recipe default")
        self.max_steps = QSpinBox(minimum=0, maximum=10**9, value=0, accessibleName="Max steps")
        self.max_steps.setSpecialValueText("no limit")
        self.batch_size = QSpinBox(minimum=0, maximum=4096, value=0, accessibleName="Batch size")
        self.batch_size.setSpecialValueText("recipe default")
        self.crop_size = QSpinBox(minimum=0, maximum=4096, value=0, singleStep=32, accessibleName="Image size")
        self.crop_size.setSpecialValueText("the images' size, ≤ 256")
        self.channels_box = QComboBox(accessibleName="Channels")
        self.channels_box.addItems(list(CHANNELS))
        self.channels_box.setToolTip("Greyscale: the model takes and makes single-channel images (colour images "
                                     "are converted when they are read)")
        self.max_items = QSpinBox(minimum=0, maximum=10**9, value=0,
                                  accessibleName="Use only the first N images of each domain or class")
        self.max_items.setSpecialValueText("all")
        self.max_items.setToolTip("Use only the first N images of each domain (A, B) or class: a quick trial")
        self.workers = QSpinBox(minimum=0, maximum=64, value=2, accessibleName="Data loader workers")
        self.log_every = QSpinBox(minimum=1, maximum=100000, value=10, accessibleName="Log every N steps")

        # progress
        self.start_button = QPushButton("S&tart training")
        self.start_button.setDefault(True)
        self.stop_button = QPushButton("St&op")
        self.stop_button.setToolTip("Ctrl+C: the run saves a checkpoint and can be resumed")
        self.resume_button = QPushButton("Res&ume")
        self.show_run_button = QPushButton("Sho&w in Runs")
        self.progress = QProgressBar()
        self.state_label = QLabel("No training started from this form yet.")
        self.state_label.setWordWrap(True)
        self.losses_label = QLabel()
        self.losses_label.setWordWrap(True)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(3000)

        self._layout()
        self.recipe_box.currentIndexChanged.connect(self._recipe_chosen)
        self.reset_button.clicked.connect(self._reset)
        self.preset_box.activated.connect(lambda _k: self.apply_preset(self.preset_box.currentData()))
        self.browse_button.clicked.connect(self._browse)
        self.data_edit.lineEdit().editingFinished.connect(lambda: self.inspect_data(self.data_edit.currentText()))
        self.data_edit.activated.connect(lambda _k: self.inspect_data(self.data_edit.currentText()))
        self.format_box.activated.connect(lambda _k: self.inspect_data(self.data_edit.currentText()))
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume)
        self.show_run_button.clicked.connect(self._show_in_runs)
        self.catalog.changed.connect(self._catalog_changed)
        self._remembered_recipe = self._restore_form()
        self._catalog_changed()

    def _layout(self) -> None:
        recipe_group = QGroupBox("Recipe")
        rl = QVBoxLayout(recipe_group)
        row = QHBoxLayout()
        row.addWidget(self.recipe_box, 1)
        row.addWidget(self.preset_box)
        row.addWidget(self.reset_button)
        rl.addLayout(row)
        rl.addWidget(self.recipe_about)
        rl.addWidget(self.options)
        rl.addLayout(self.network_box)

        data_group = QGroupBox("Data")
        dl = QVBoxLayout(data_group)
        row = QHBoxLayout()
        row.addWidget(self.data_edit, 1)
        row.addWidget(self.browse_button)
        dl.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Format"))
        row.addWidget(self.format_box)
        row.addStretch(1)
        dl.addLayout(row)
        dl.addWidget(self.data_label)

        run_group = QGroupBox("Run")
        grid = QGridLayout(run_group)
        fields = [("Name", self.name_edit), ("Runs folder", self.runs_dir_edit), ("Device", self.device_box),
                  ("Precision", self.precision_box), ("Epochs", self.epochs), ("Max steps", self.max_steps),
                  ("Batch size", self.batch_size), ("Image size", self.crop_size), ("Channels", self.channels_box),
                  ("Images per folder", self.max_items), ("Loader workers", self.workers), ("Log every", self.log_every)]
        grid.addWidget(QLabel("Name"), 0, 0)
        grid.addWidget(self.name_edit, 0, 1, 1, 3)
        grid.addWidget(QLabel("Runs folder"), 1, 0)
        grid.addWidget(self.runs_dir_edit, 1, 1, 1, 3)
        for k, (label, w) in enumerate(fields[2:]):
            row, col = 2 + k // 2, (k % 2) * 2
            grid.addWidget(QLabel(label), row, col)
            grid.addWidget(w, row, col + 1)

        left_inner = QWidget()
        ll = QVBoxLayout(left_inner)
        ll.addWidget(recipe_group)
        ll.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left_inner)
        # the form narrows with the panel (long option names wrap): no sideways scrolling
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        right_inner = QWidget()
        rr = QVBoxLayout(right_inner)
        rr.addWidget(data_group)
        rr.addWidget(run_group)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.resume_button, self.show_run_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        rr.addLayout(buttons)
        rr.addWidget(self.progress)
        rr.addWidget(self.state_label)
        rr.addWidget(self.losses_label)
        rr.addWidget(self.log, 1)
        # Scrolls rather than holding the window taller than a 1024x600 screen.
        right = QScrollArea()
        right.setWidgetResizable(True)
        right.setFrameShape(QScrollArea.Shape.NoFrame)
        right.setWidget(right_inner)

        split = QSplitter()
        split.addWidget(scroll)
        split.addWidget(right)
        split.setSizes([520, 740])
        lay = QVBoxLayout(self)
        lay.addWidget(split)

    def shutdown(self) -> None:
        """The window is closing (trainings are the close guard's business)."""
        self.catalog.shutdown()
        if self._data_query is not None:
            self._data_query.stop()

    # -- recipes and options -----------------------------------------------------------------
    def _can_train(self) -> bool:
        return "train" not in self.catalog.catalog.missing_extras

    def _catalog_changed(self) -> None:
        cat = self.catalog.catalog
        if not self._can_train() and self.job is None:  # said before a click, not after one
            self.state_label.setText(f"Training needs PyTorch, which this installation lacks: {TRAIN_INSTALL}")
        self._set_buttons()
        current = self.recipe_box.currentText()
        self.recipe_box.blockSignals(True)
        self.recipe_box.clear()
        for name in sorted(cat.recipes):
            entry = cat.recipes[name]
            self.recipe_box.addItem(name, name)
            self.recipe_box.setItemData(self.recipe_box.count() - 1,
                                        f"{entry.description}\n(plugin {entry.plugin})".strip(),
                                        Qt.ItemDataRole.ToolTipRole)
        self.recipe_box.blockSignals(False)
        if not cat.recipes:
            self.recipe_about.setText(self.catalog.error or "Reading the installed recipes…")
        if not current and self._remembered_recipe:  # the first list read: the last Start's recipe
            current = self._remembered_recipe
            self._remembered_recipe = "" if cat.recipes else current
        k = self.recipe_box.findText(current)
        self.recipe_box.setCurrentIndex(k if k >= 0 else 0)
        self._recipe_chosen()
        names = [self.data_edit.itemText(i) for i in range(self.data_edit.count())]
        typed = self.data_edit.currentText()
        for ds in [*view_support.get_list(RECENT_DATA_KEY), *cat.datasets]:
            if ds not in names:
                self.data_edit.addItem(ds)
        self.data_edit.setCurrentText(typed)  # built-in names are offered, never picked for the user
        if self._remembered_data and not typed and self.catalog.loaded:  # the last Start's data, inspected
            self.data_edit.setCurrentText(self._remembered_data)  # now that built-in names are known
            self.inspect_data(self._remembered_data)
            self._remembered_data = ""

    def select_recipe(self, name: str) -> bool:
        k = self.recipe_box.findText(name)
        if k >= 0:
            self.recipe_box.setCurrentIndex(k)
            self._recipe_chosen()
        return k >= 0

    def recipes(self) -> list[str]:
        return [self.recipe_box.itemText(k) for k in range(self.recipe_box.count())]

    def _offer_formats(self, kinds: list[str]) -> None:
        """The data formats the recipe can train on (its kinds), after 'detect'; the choice is kept
        when it is still offered."""
        chosen = self.format_box.currentData()
        self.format_box.blockSignals(True)
        self.format_box.clear()
        self.format_box.addItem("detect", "")
        for name, kind in sorted(self.catalog.catalog.data_formats.items()):
            if not kinds or kind in kinds:
                self.format_box.addItem(f"{name} ({kind})", name)
        self.format_box.setCurrentIndex(max(0, self.format_box.findData(chosen)))
        self.format_box.blockSignals(False)
        if self.format_box.currentData() != chosen and self.data_edit.currentText().strip():
            self.inspect_data(self.data_edit.currentText())

    def _recipe_chosen(self, _k: int = -1) -> None:
        name = self.recipe_box.currentText()
        entry = self.catalog.catalog.recipes.get(name)
        if entry is None:
            self.options.set_options([], "")
            self._set_network_info([])
            return
        about = html.escape(entry.description or "", quote=False)
        kinds = entry.extra.get("data_kinds") or []
        self._offer_formats(kinds)
        if kinds:
            about += f" Data: {' or '.join(kinds)}."
        self.recipe_about.setText(f"{about} <i>(plugin {entry.plugin})</i>".strip())
        self.options.set_options([self._with_choices(spec, entry) for spec in entry.options])
        self._fill_presets(entry.extra.get("presets") or [])
        for key in (*NETWORK_OPTIONS, "loss"):
            w = self.options.editors.get(key)
            if isinstance(w, QComboBox):
                w.currentIndexChanged.connect(self._networks_changed)
        self._networks_changed()
        if not self.name_edit.isModified():
            self.name_edit.clear()
        if self.data_info is not None:
            self._show_data()

    def _fill_presets(self, presets: list[dict[str, Any]]) -> None:
        self.presets = {str(p["name"]): Preset(str(p["name"]), dict(p.get("options") or {}), str(p.get("why") or ""))
                        for p in presets if p.get("name")}
        self.preset_box.clear()
        self.preset_box.addItem("defaults", "")
        self.preset_box.setItemData(0, "the recipe's declared defaults", Qt.ItemDataRole.ToolTipRole)
        for name, preset in self.presets.items():
            self.preset_box.addItem(f"preset: {name}", name)
            self.preset_box.setItemData(self.preset_box.count() - 1, preset.describe(), Qt.ItemDataRole.ToolTipRole)
        self.preset_box.setEnabled(bool(presets))

    def apply_preset(self, name: str) -> None:
        """Reset the form, then set preset ``name``'s values ("": the defaults). The values travel
        as ``-o`` options, like any the user sets."""
        self.options.reset()
        preset = self.presets.get(name)
        for key, value in (preset.options if preset else {}).items():
            if key in self.options.editors:
                self.options.set_value(key, value)
        self.preset_box.setCurrentIndex(max(0, self.preset_box.findData(name)))

    def _with_choices(self, spec: OptionSpec, recipe: Any) -> OptionSpec:
        """Network and loss options get the registered names they may take as choices."""
        if spec.choices:
            return spec
        cat = self.catalog.catalog
        names: list[str] = []
        if spec.name in NETWORK_OPTIONS:
            kind = "discriminator" if spec.name in ("discriminator", "netD") else "generator"
            default = cat.networks.get(str(spec.default))
            wanted_input = default.extra.get("input") if default is not None else None
            names = [n for n, e in cat.networks.items() if e.extra.get("kind", kind) == kind
                     and (wanted_input is None or e.extra.get("input", wanted_input) == wanted_input)]
        elif spec.name == "loss":
            names = list(cat.losses)
        if not names:
            return spec
        if spec.default is not None and spec.default not in names:
            names.insert(0, spec.default)
        return OptionSpec(spec.name, spec.type, spec.default, spec.help, sorted(names, key=str))

    def _networks_changed(self) -> None:
        values = self.options.values()
        cat = self.catalog.catalog
        chosen = []
        for key in (*NETWORK_OPTIONS, "loss"):
            v = values.get(key)
            table = cat.losses if key == "loss" else cat.networks
            if isinstance(v, str) and v in table:
                chosen.append((key, table[v]))
        self._set_network_info(chosen)

    def _set_network_info(self, chosen: list) -> None:
        """For each chosen network and loss: what it is, and a form for the options only it has.

        Those are set as ``-o ROLE.OPTION=VALUE`` (``generator.n_blocks=9``); options the recipe
        passes itself (channels, ``ngf``, ``norm``, ...) stay with the recipe's form.
        """
        while self.network_box.count():
            item = self.network_box.takeAt(0)
            w = item.widget()
            if w is not None:
                w.hide()
                w.setParent(None)  # Python owns it now and frees it
        self.network_info, self.role_forms = {}, {}
        recipe_names = {s.name for s in self.options.specs}
        for role, entry in chosen:
            x = entry.extra
            facts = [f"input {x['input']}" if x.get("input") else "",
                     f"size: multiple of {x['size_multiple']}" if x.get("size_multiple") else "",
                     f"min {x['min_size']} px" if x.get("min_size") else ""]
            facts_text = ", ".join(f for f in facts if f)
            box = QGroupBox(f"{role}: {entry.name}")
            lay = QVBoxLayout(box)
            about = QLabel(html.escape(entry.description or "", quote=False) + (f" ({facts_text})" if facts_text else ""))
            about.setWordWrap(True)
            lay.addWidget(about)
            own = [o for o in entry.options if o.name not in recipe_names and o.name not in PASSED_BY_RECIPE]
            if own:
                form = OptionsForm()
                form.set_options(own)
                lay.addWidget(form)
                self.role_forms[role] = form
            self.network_box.addWidget(box)
            self.network_info[role] = entry.name
        self._order_tabs()

    def _order_tabs(self) -> None:
        """Tab goes down the recipe column, then down the data and run column, as the form reads:
        the option editors, made when a recipe is chosen, would otherwise come last."""
        editors = [*self.options.editors.values(), *(w for f in self.role_forms.values() for w in f.editors.values())]
        chain = [self.recipe_box, self.preset_box, self.reset_button, *editors, self.data_edit, self.browse_button,
                 self.format_box, self.name_edit, self.runs_dir_edit, self.device_box, self.precision_box,
                 self.epochs, self.max_steps, self.batch_size, self.crop_size, self.channels_box, self.max_items,
                 self.workers,
                 self.log_every, self.start_button, self.stop_button, self.resume_button, self.show_run_button,
                 self.log]
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)

    def option_values(self) -> dict[str, Any]:
        """Options set away from their declared defaults: the recipe's, then ``ROLE.OPTION`` ones."""
        values = self.options.changed_values()
        for role, form in self.role_forms.items():
            for k, v in form.changed_values().items():
                values[f"{role}.{k}"] = v
        return values

    def _reset(self) -> None:
        self.options.reset()
        self.preset_box.setCurrentIndex(0)
        for form in self.role_forms.values():
            form.reset()

    # -- data --------------------------------------------------------------------------------
    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Data folder", self.data_edit.currentText())
        if path:
            self.data_edit.setCurrentText(path)
            self.inspect_data(path)

    def inspect_data(self, data: str) -> None:
        """Detected format, counts, sizes and bad files of ``data``, filled in as they arrive."""
        data = data.strip()
        self.data_info, self.data_summary = None, None
        if not data:
            self.data_label.setText("Choose a data folder to see what is in it.")
            return
        if data in self.catalog.catalog.datasets:
            self.data_info = {"builtin": data, "kinds": self.catalog.catalog.dataset_kinds.get(data, [])}
            self._show_data()
            return
        path = Path(data).expanduser()
        if not path.is_dir():
            self.data_label.setText(f"<span style='color:#c62828'>{path}: not a folder</span>")
            return
        self.data_label.setText(f"Inspecting {path}…")
        chosen = self.format_box.currentData()
        q = self._data_query = CliQuery(["data", "info", str(path), "--json",
                                         *(["--data-format", chosen] if chosen else [])], self)
        q.answered.connect(lambda code, out, err, p=str(path): self._data_answer(p, code, out, err))
        q.start()
        workers.run_in_thread(image_summary, path, on_result=lambda s, p=str(path): self._summary_ready(p, s),
                              owner=self)

    def _current_data(self) -> str:
        return str(Path(self.data_edit.currentText().strip()).expanduser())

    def _data_answer(self, path: str, code: int, out: str, err: str) -> None:
        if path != self._current_data():
            return
        doc = parse_json(out) if code == 0 else None
        if isinstance(doc, dict):
            self.data_info = doc
        else:
            self.data_info = {"error": last_error_line(err) or f"exit code {code}"}
        self._show_data()

    def _summary_ready(self, path: str, summary: dict) -> None:
        if path != self._current_data():
            return
        self.data_summary = summary
        self._show_data()

    def _show_data(self) -> None:
        info = self.data_info
        if info and "builtin" in info:
            name = html.escape(info["builtin"])
            self.data_label.setText(self._wrong_kind(info["kinds"], f"<b>{name}</b> is")
                                    + f"Built-in data set <b>{name}</b> (written on first use).")
            return
        text = describe(info if info and "error" not in info else None, self.data_summary)
        if info and "error" in info:
            text = f"<span style='color:#c62828'>{info['error']}</span><br>" + text
        elif info is None:
            text += "<br><i>detecting the format…</i>"
        if info and info.get("kind"):  # training reads it with any detected format of the recipe's kinds
            text = self._wrong_kind(info.get("kinds") or [info["kind"]], "this folder holds") + text
        self.data_label.setText(text)

    def _wrong_kind(self, held: list[str], what: str) -> str:
        """A red line when the data holds none of the kinds the chosen recipe trains on, else ""."""
        entry = self.catalog.catalog.recipes.get(self.recipe_box.currentText())
        kinds = entry.extra.get("data_kinds") if entry is not None else None
        if not kinds or not held or set(kinds) & set(held):
            return ""
        return (f"<span style='color:#c62828'><b>{entry.name}</b> needs {' or '.join(kinds)} data; {what} "
                f"{' or '.join(held)} data.</span><br>")

    # -- start, stop, resume ----------------------------------------------------------------
    def run_dir(self) -> Path:
        return Path(self.runs_dir_edit.text().strip() or "runs").expanduser().resolve() / self._run_name()

    def _run_name(self) -> str:
        name = self.name_edit.text().strip()
        if not name:
            name = f"{self.recipe_box.currentText() or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"
            self.name_edit.setText(name)
            self._made_up_name = name
        return name

    def train_args(self) -> list[str]:
        recipe = self.recipe_box.currentText()
        run_dir = self.run_dir()
        args = ["train", recipe, "--data", self.data_edit.currentText().strip(), "--name", run_dir.name,
                "--runs-dir", str(run_dir.parent), "--device", self.device_box.currentText(),
                "--precision", self.precision_box.currentText(), "--workers", str(self.workers.value()),
                "--log-every", str(self.log_every.value())]
        for flag, spin in (("--epochs", self.epochs), ("--max-steps", self.max_steps),
                           ("--batch-size", self.batch_size), ("--crop-size", self.crop_size),
                           ("--max-items", self.max_items)):
            if spin.value():
                args += [flag, str(spin.value())]
        if CHANNELS[self.channels_box.currentText()] != CHANNELS[self.channels_box.itemText(0)]:
            args += ["--channels", str(CHANNELS[self.channels_box.currentText()])]
        if self.format_box.currentData():
            args += ["--data-format", self.format_box.currentData()]
        return args + option_args(self.option_values())

    def run(self) -> None:
        """Ctrl+Enter: what the Start button does, when it can (Esc does not stop a training:
        a stray key must not end hours of work)."""
        if self.start_button.isEnabled():
            self.start()

    def start(self) -> None:
        if not self.recipe_box.currentText():
            view_support.show_error(self.window_, "choose a recipe first")
            return
        if not self.data_edit.currentText().strip():
            view_support.show_error(self.window_, "choose a data folder or built-in data set first")
            return
        run_dir = self.run_dir()
        if run_dir.exists():
            view_support.show_error(self.window_, f"{run_dir}: a run of that name exists; choose another name "
                                                  f"or resume it from the Runs view")
            if run_dir.name == self._made_up_name:
                self.name_edit.clear()  # ours, from the clock: the next start makes a new one
            else:
                self.name_edit.selectAll()  # the user's: kept, ready to be changed
                self.name_edit.setFocus()
            return
        # Remembered once the run's folder exists (_confirm_start): a folder that cannot be
        # written must not become the next form's default.
        self._unconfirmed = (run_dir, self._form_memory())
        self._begin(self.jobs.start(self.train_args(), run_dir))
        if run_dir.name == self._made_up_name:  # the clock's name is this run's: the next Start makes its own
            self.name_edit.clear()

    def resume(self) -> None:
        run_dir = self.job.run_dir if self.job is not None else None
        if run_dir is None:
            return
        try:
            job = self.jobs.resume(run_dir)
        except RuntimeError as exc:  # resumed meanwhile from the Runs view
            view_support.show_error(self.window_, str(exc))
            return
        self._begin(job, resumed=True)

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop()  # the job says it is stopping: _on_stopping, wherever Stop was pressed

    def _on_stopping(self) -> None:
        self._stopping = True
        self.state_label.setText("Stopping: saving a checkpoint…")
        self.stop_button.setEnabled(False)

    def _follow_jobs(self) -> None:
        """The form shows its run's newest job: a resume started from the Runs view included."""
        if self.job is None:
            return
        newest = self.jobs.get(self.job.run_dir)
        if newest is not None and newest is not self.job:
            self._begin(newest, resumed=True)
            for line in newest.output:  # what it said before the form took it up
                self.log.appendPlainText(line)
        else:
            self._set_buttons()

    def _begin(self, job: TrainingJob, resumed: bool = False) -> None:
        if job is self.job:  # taken up already (the registry's change came first)
            return
        self.job = job
        self._stopping = False
        self.state = "starting"
        self.log.clear()
        self.losses_label.clear()
        self.progress.setRange(0, 0)
        self.state_label.setText(("Resuming " if resumed else "Starting ") + f"{job.name}…")
        job.stopping.connect(self._on_stopping)
        r = job.runner
        r.started.connect(self._on_start)
        r.progress.connect(self._on_progress)
        r.message.connect(self.log.appendPlainText)
        r.warning.connect(lambda t: self.log.appendPlainText(f"warning: {t}"))
        r.output.connect(self.log.appendPlainText)
        r.error.connect(self._on_error)
        r.finished.connect(self._on_finished)
        self._set_buttons()

    def _confirm_start(self, final: bool = False) -> None:
        """Once the last Start's run folder exists, its runs folder and form are remembered;
        ``final``: the job ended, and a folder not made by now never will be."""
        if self._unconfirmed is None:
            return
        run_dir, saved = self._unconfirmed
        if run_dir.is_dir():
            self._unconfirmed = None
            self._remember_runs_folder(run_dir.parent)
            self._remember_form(saved)
        elif final:
            self._unconfirmed = None

    def _on_start(self, data: dict) -> None:
        self._confirm_start()
        self.state = "running"
        if data.get("total"):
            self.progress.setRange(0, int(data["total"]))
        self.state_label.setText(f"Training {self.job.name}")

    def _on_progress(self, data: dict) -> None:
        self._confirm_start()
        self.state = "running"
        total, done = data.get("total"), int(data.get("done") or 0)
        if total:
            self.progress.setRange(0, int(total))
            self.progress.setValue(min(done, int(total)))
        text = f"{self.job.name}: step {done}" + (f"/{total}" if total else "")
        if data.get("epoch") is not None:
            text += f", epoch {epoch_text(int(data['epoch']))}"  # events count completed epochs
        if data.get("rate"):
            text += f" · {data['rate']:.2f} steps/s"
        text += f" · ETA {format_eta(data.get('eta_s'))}"
        if not self._stopping:  # "Stopping: saving a checkpoint…" stays until it has stopped
            self.state_label.setText(text)
        losses = data.get("losses") or {}
        if losses:
            self.losses_label.setText("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                for k, v in losses.items()))

    def _on_error(self, text: str) -> None:
        self.log.appendPlainText(f"error: {text}")

    def _on_finished(self, code: int) -> None:
        self._confirm_start(final=True)
        if code == 0:
            self.state = "finished"
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            self.state_label.setText(f"{self.job.name}: finished")
        elif code == 130:
            self.state = "stopped"
            self.state_label.setText(f"{self.job.name}: stopped; a checkpoint was saved — Resume continues it")
        else:
            self.state = "failed"
            if self.progress.maximum() == 0:  # still the busy indicator: the run never started
                self.progress.setRange(0, 1)
                self.progress.reset()
            why = self.job.error or f"exit code {code}"
            colour = state_colour("failed", self.palette())
            self.state_label.setText(f"<span style='color:{colour}'>{self.job.name}: failed: {why}</span>")
            report_job_failure(self.window_, self.job, code, "training")
        self._set_buttons()
        QTimer.singleShot(0, self._set_buttons)

    def _set_buttons(self) -> None:
        running = self.job is not None and self.job.runner.running()
        self.start_button.setEnabled(not running and self._can_train())
        # a disabled button says why (the form follows one training; a double click must not start two)
        self.start_button.setToolTip(
            f"{self.job.name} is training from this form: stop it first, or resume another run from the Runs view "
            f"to train two at once" if running else "" if self._can_train() else f"Needs PyTorch: {TRAIN_INSTALL}")
        self.stop_button.setEnabled(running)
        exists = self.job is not None and self.job.run_dir.is_dir()  # a Start can fail before making it
        self.resume_button.setEnabled(exists and not running and self.job.exit_code not in (0, None)
                                      and not any(j.run_dir == self.job.run_dir for j in self.jobs.running()))
        self.show_run_button.setEnabled(exists or running)

    def _form_fields(self) -> dict[str, Any]:
        """The run fields a Start remembers, by the name they are saved under."""
        return {"device": self.device_box, "precision": self.precision_box, "epochs": self.epochs,
                "max_steps": self.max_steps, "batch_size": self.batch_size, "crop_size": self.crop_size,
                "channels": self.channels_box, "max_items": self.max_items, "workers": self.workers, "log_every": self.log_every}

    def _form_memory(self) -> dict[str, Any]:
        """The form's run fields as the next form starts from them.

        The recipe's options are not kept: the preset box and Defaults say what they are, and a
        value carried over silently from another run would be a surprise.
        """
        saved: dict[str, Any] = {"recipe": self.recipe_box.currentText(), "data": self.data_edit.currentText().strip(),
                                 "runs_dir": self.runs_dir_edit.text().strip()}
        for key, w in self._form_fields().items():
            saved[key] = w.currentText() if isinstance(w, QComboBox) else w.value()
        return saved

    def _remember_form(self, saved: dict[str, Any] | None = None) -> None:
        """What a Start used (``saved``, or the form as it is) fills the next form: a user's second
        run rarely starts from scratch."""
        saved = saved if saved is not None else self._form_memory()
        data = saved["data"]
        view_support.settings().setValue(FORM_KEY, json.dumps(saved))
        if data not in self.catalog.catalog.datasets:
            data = str(Path(data).expanduser().resolve())
            recent = [d for d in view_support.get_list(RECENT_DATA_KEY) if d != data]
            view_support.set_list(RECENT_DATA_KEY, [data, *recent][:MAX_RECENT_DATA])
            if self.data_edit.findText(data) < 0:
                self.data_edit.insertItem(0, data)

    def _restore_form(self) -> str:
        """Set the run fields the last Start used; return its recipe (chosen once the list is read).

        A value that no longer fits its field (a choice that is gone, a number out of range) is
        left at the field's default.
        """
        try:
            saved = json.loads(str(view_support.settings().value(FORM_KEY, "{}")))
        except ValueError:
            saved = {}
        if not isinstance(saved, dict):
            return ""
        for key, w in self._form_fields().items():
            value = saved.get(key)
            if isinstance(w, QComboBox) and isinstance(value, str) and w.findText(value) >= 0:
                w.setCurrentText(value)
            elif isinstance(w, QSpinBox) and type(value) is int and w.minimum() <= value <= w.maximum():
                w.setValue(value)
        if isinstance(saved.get("runs_dir"), str) and saved["runs_dir"]:
            self.runs_dir_edit.setText(saved["runs_dir"])
        self._remembered_data = saved.get("data") if isinstance(saved.get("data"), str) else ""
        return str(saved.get("recipe") or "")

    def _remember_runs_folder(self, folder: Path) -> None:
        folders = view_support.get_list(FOLDERS_KEY)
        if str(folder) not in folders:
            view_support.set_list(FOLDERS_KEY, [*folders, str(folder)])
        runs = _find_view(self.window_, "RunsView")
        if runs is not None:
            runs.add_folder(folder)

    def _show_in_runs(self) -> None:
        """Switch to the Runs view (built on demand by the main window) with this run selected."""
        if self.job is None:
            return
        runs = None
        show = getattr(self.window_, "show_view", None)
        if callable(show):
            runs = show("runs")
        runs = runs if hasattr(runs, "select_run") else _find_view(self.window_, "RunsView")
        if runs is not None:
            runs.add_folder(self.job.run_dir.parent)
            runs.select_run(self.job.run_dir)


def _find_view(window: Any, class_name: str) -> Any | None:
    if not isinstance(window, QWidget):
        return None
    for w in window.findChildren(QWidget):
        if type(w).__name__ == class_name:
            return w
    return None


__all__ = ["TrainingView", "OptionSpec"]
