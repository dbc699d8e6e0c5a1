"""Plugins: what is installed and what it registered, what failed and why; install and uninstall.

Installs and uninstalls run ``gantrans plugins install|uninstall … --progress json`` in a child
process with pip's output streamed into the panel; a failed install or a broken plugin is
shown, never raised, and the window stays usable. The listing is the shared
:class:`~gantrans_gui.plugin_catalog.PluginCatalog`, so the training form sees a new recipe
as soon as the install finishes.
"""

from __future__ import annotations

import html
import re
import shlex
import sys
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gantrans_gui import view_support
from gantrans_gui.job_runner import JobRunner
from gantrans_gui.plugin_catalog import PluginInfo, plugin_catalog
from gantrans_gui.training_jobs import training_jobs

PIP_ARGS_KEY = "plugins/pip_args"



def plugin_modules(distribution: str | None) -> set[str]:
    """The top-level modules a distribution's gantrans plugins live in (its entry points say),
    read before it is uninstalled; an editable install's files would not say."""
    from importlib import metadata

    from gantrans.plugins.manager import ENTRY_POINT_GROUP

    if not distribution:
        return set()
    try:
        points = metadata.distribution(distribution).entry_points
    except metadata.PackageNotFoundError:
        return set()
    return {ep.module.split(".")[0] for ep in points if ep.group == ENTRY_POINT_GROUP}

class PluginsView(QWidget):
    RUN_LABEL = "&Install"  # what Run > ... (Ctrl+Enter) does here

    def __init__(self, window: Any):
        super().__init__()
        self.window_ = window
        self.setObjectName("plugins_view")
        self.catalog = plugin_catalog(window)
        self.runner = JobRunner(self)
        self.action = ""           # "install" or "uninstall" while a command runs
        self.last_exit: int | None = None
        self._before: set[str] = set()
        self._removed_modules: set[str] = set()  # top-level modules of what an uninstall removes
        self._said_offline = False
        self._broken: str | None = None  # a plugin the install left installed but failing to load

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Plugin", "Distribution", "Version", "Status", "Registered"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAccessibleName("Installed plugins")
        self.tree.header().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.details = QLabel("Select a plugin to see what it registered.")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.refresh_button = QPushButton("R&efresh")
        self.uninstall_button = QPushButton("&Uninstall")

        self.spec_edit = QLineEdit(accessibleName="Package name, wheel or folder")
        self.spec_edit.setPlaceholderText("package name, path to a .whl, or a plugin folder")
        self.wheel_button = QPushButton("&Wheel…")
        self.folder_button = QPushButton("F&older…")
        self.install_button = QPushButton("&Install")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop pip (Esc); what it had installed is taken out again")
        self.cancel_button.setEnabled(False)
        self.editable = QCheckBox("Editable (a plugin folder under development: edits apply without reinstalling)")
        self.pip_args_edit = QLineEdit(accessibleName="Extra pip arguments")
        self.pip_args_edit.setPlaceholderText("extra pip arguments, e.g. --no-index --find-links DIR")
        self.pip_args_edit.setText(str(view_support.settings().value(PIP_ARGS_KEY, "")))
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        # pip can be silent for many seconds (resolving, uninstalling): the bar says it is at work
        self.busy = QProgressBar(accessibleName="pip at work")
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(8)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.output = QPlainTextEdit(readOnly=True)
        self.output.setMaximumBlockCount(5000)
        self.output.setAccessibleName("Install output")

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Installed plugins"))
        row.addStretch(1)
        row.addWidget(self.refresh_button)
        row.addWidget(self.uninstall_button)
        tl.addLayout(row)
        inner = QSplitter()
        inner.addWidget(self.tree)
        inner.addWidget(self.details)
        inner.setSizes([800, 400])
        tl.addWidget(inner, 1)

        install = QGroupBox("Install a plugin")
        il = QVBoxLayout(install)
        row = QHBoxLayout()
        row.addWidget(self.spec_edit, 1)
        row.addWidget(self.wheel_button)
        row.addWidget(self.folder_button)
        row.addWidget(self.install_button)
        row.addWidget(self.cancel_button)
        il.addLayout(row)
        il.addWidget(self.pip_args_edit)
        il.addWidget(self.editable)
        il.addWidget(self.notice)
        il.addWidget(self.busy)
        il.addWidget(self.output, 1)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(install)
        split.setSizes([380, 420])
        lay = QVBoxLayout(self)
        lay.addWidget(split)

        self.refresh_button.clicked.connect(self.catalog.refresh)
        self.uninstall_button.clicked.connect(self.uninstall_selected)
        self.install_button.clicked.connect(self.install)
        self.cancel_button.clicked.connect(self.cancel)
        self.spec_edit.returnPressed.connect(self.install)
        self.wheel_button.clicked.connect(self._pick_wheel)
        self.folder_button.clicked.connect(self._pick_folder)
        self.tree.currentItemChanged.connect(self._show_details)
        self.catalog.changed.connect(self._fill)
        self.runner.output.connect(self.output.appendPlainText)
        self.runner.output.connect(self._watch_output)
        self.runner.message.connect(self.output.appendPlainText)
        self.runner.warning.connect(lambda t: self.output.appendPlainText(f"warning: {t}"))
        self.runner.error.connect(self._error)
        self.runner.finished.connect(self._finished)
        self._fill()

    def shutdown(self) -> None:
        """The window is closing: a running install or uninstall is interrupted (Ctrl+C), not orphaned."""
        self.catalog.shutdown()
        if self.runner.running():
            self.runner.cancel()
            self.runner.wait(10000)

    # -- listing -----------------------------------------------------------------------------
    def plugins(self) -> list[PluginInfo]:
        return list(self.catalog.catalog.plugins)

    def _fill(self) -> None:
        selected = self.tree.currentItem().text(0) if self.tree.currentItem() else None
        self.tree.clear()
        if self.catalog.error:
            self.details.setText(f"<span style='color:#c62828'>Could not list plugins: {self.catalog.error}</span>")
        for p in self.plugins():
            reg = "; ".join(f"{k}: {', '.join(v)}" for k, v in p.registered.items() if v)
            status = "ok" if p.status == "ok" else "failed"
            item = QTreeWidgetItem([p.name, p.distribution or "", p.version or "", status,
                                    reg if status == "ok" else (p.error or "")])
            item.setData(0, Qt.ItemDataRole.UserRole, p.name)
            if status != "ok":
                for c in range(5):
                    item.setForeground(c, QColor("#c62828"))
                item.setToolTip(4, p.error or "")
            self.tree.addTopLevelItem(item)
            if p.name == selected:
                self.tree.setCurrentItem(item)
        for c in range(4):
            self.tree.resizeColumnToContents(c)
        self._buttons()

    def _selected(self) -> PluginInfo | None:
        item = self.tree.currentItem()
        if item is None:
            return None
        name = item.data(0, Qt.ItemDataRole.UserRole)
        return next((p for p in self.plugins() if p.name == name), None)

    def _show_details(self, *_a) -> None:
        p = self._selected()
        if p is None:
            return
        lines = [f"<b>{p.name}</b>" + (f" — {p.distribution} {p.version or ''}" if p.distribution else "")]
        if p.status != "ok":
            lines.append(f"<span style='color:#c62828'><b>Failed to load:</b> "
                         f"{html.escape(p.error or '', quote=False)}</span>")
            lines.append(f"Remove it with Uninstall (runs 'gantrans plugins uninstall {p.name}').")
        for what, names in p.registered.items():
            if names:
                lines.append(f"<b>{what}</b>: {', '.join(names)}")
        cat = self.catalog.catalog
        # what each recipe, network and loss is and the options it takes (as 'plugins show' says)
        for what, table in (("models", cat.recipes), ("networks", cat.networks), ("losses", cat.losses)):
            for name in p.registered.get(what, []):
                entry = table.get(name)
                if entry is None or not (entry.description or entry.options):
                    continue
                line = f"<i>{html.escape(name, quote=False)}</i>"
                if entry.description and what != "models":  # a recipe's is in the training form
                    line += ": " + html.escape(entry.description, quote=False)
                if entry.options:
                    line += " — options: " + html.escape(", ".join(
                        f"{o.name}=" + ("(not set)" if o.default is None else repr(o.default))
                        for o in entry.options), quote=False)
                lines.append(line)
        self.details.setText("<br>".join(lines))
        self._buttons()

    def _buttons(self) -> None:
        busy = self.runner.running()
        self.busy.setVisible(busy)
        p = self._selected()
        self.install_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy and not self.runner.cancelled)
        self.uninstall_button.setEnabled(not busy and p is not None and p.distribution not in (None, "", "gantrans"))
        self.refresh_button.setEnabled(not busy)

    # -- install / uninstall -----------------------------------------------------------------
    def _pick_wheel(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Plugin wheel", "", "Wheels (*.whl)")
        if path:
            self.spec_edit.setText(path)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Plugin folder (with pyproject.toml)")
        if path:
            self.spec_edit.setText(path)

    def pip_args(self) -> list[str]:
        text = self.pip_args_edit.text().strip()
        view_support.settings().setValue(PIP_ARGS_KEY, text)
        return [f"--pip-arg={a}" for a in shlex.split(text)]

    def install(self, spec: str | None = None) -> None:
        spec = (spec if isinstance(spec, str) else self.spec_edit.text()).strip()
        if self.runner.running():
            return
        if not spec:
            self.notice.setText("Type what to install first: a name on PyPI, a source folder or a wheel file")
            self.spec_edit.setFocus()
            return
        args = ["plugins", "install", spec, "--verbose", *self.pip_args()]  # --verbose: pip's output streams
        if self.editable.isChecked():
            args.insert(2, "--editable")
        self._run("install", args, f"Installing {spec}…")

    def run(self) -> None:
        """Ctrl+Enter: install what the package field names."""
        if self.install_button.isEnabled():
            self.install()

    def uninstall(self, name: str) -> None:
        if not self.runner.running():
            plugin = next((p for p in self.plugins() if p.name == name), None)
            self._removed_modules = plugin_modules(plugin.distribution if plugin else None)
            self._run("uninstall", ["plugins", "uninstall", name], f"Uninstalling {name}…")

    def uninstall_selected(self) -> None:
        p = self._selected()
        if p is not None:
            self.uninstall(p.name)

    def cancel(self) -> None:
        """Stop the install or uninstall (Esc): pip is interrupted and what it put in is taken out."""
        if self.runner.running() and not self.runner.cancelled:
            self.runner.cancel()
            self.notice.setText("Cancelling: pip is stopped, then what it had installed is taken out again…")
            self._buttons()

    def _watch_output(self, line: str) -> None:
        from gantrans.plugins.install import index_unreachable

        if self.action == "install" and not self._said_offline and index_unreachable(line):
            self._said_offline = True
            self.notice.setText(self.notice.text() + " pip cannot reach the package index and keeps retrying "
                                "(offline?): Cancel, then install from a wheel, or add --no-index --find-links DIR.")

    def _run(self, action: str, args: list[str], text: str) -> None:
        self.action, self.last_exit, self._said_offline = action, None, False
        self._before = {p.name for p in self.plugins() if p.status == "ok"}
        self.output.clear()
        self.notice.setText(text)
        self.output.appendPlainText("$ gantrans " + " ".join(args))
        self.runner.start(args)
        self._buttons()

    def _error(self, text: str) -> None:
        from gantrans.plugins.install import UNINSTALL_HINT

        self.output.appendPlainText(f"error: {text}")  # the command's own stderr line is not repeated
        head = f"{self.action.capitalize()} failed:"
        prefix, _, rest = UNINSTALL_HINT.partition("{name}")
        hint = re.search(re.escape(prefix) + r"(.+?)" + re.escape(rest) + "$", text)
        if hint:  # installed, but its plugin does not load: it is in the list, with a button to take it out
            self._broken = hint.group(1)
            head = "Installed, but it does not load:"
            text = text[:hint.start()] + "select it in the list above and press Uninstall to remove it"
        self.notice.setText(f"<span style='color:#c62828'><b>{head}</b> {html.escape(text, quote=False)}</span>")

    def _finished(self, code: int) -> None:
        self.last_exit = code
        if code == 0:
            self.notice.setText(self._done_text())
        elif self.runner.cancelled:
            said = [line for line in self.output.toPlainText().splitlines() if "cancelled; " in line]
            after = said[-1].split("cancelled; ", 1)[1] if said else ""
            self.notice.setText(f"<b>Cancelled.</b> {html.escape(after[:1].upper() + after[1:], quote=False)}")
        self.catalog.changed.connect(self._after_refresh)
        self.catalog.refresh()
        self._buttons()

    def _after_refresh(self) -> None:
        self.catalog.changed.disconnect(self._after_refresh)
        broken, self._broken = self._broken, None
        if broken is not None:
            self._select(broken)
        if self.last_exit != 0:
            return
        new = {p.name for p in self.plugins() if p.status == "ok"} - self._before
        failed = [p for p in self.plugins() if p.status != "ok"]
        text = self._done_text()
        if new:
            text += " New: " + ", ".join(sorted(new)) + "."
            self._select(*new)  # show what the newcomer registered
        if failed and self.action == "install":
            text += " <span style='color:#c62828'>Failed to load: " + ", ".join(p.name for p in failed) + ".</span>"
        self.notice.setText(text)

    def _select(self, *names: str) -> None:
        for k in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(k)
            if item.text(0) in names:
                self.tree.setCurrentItem(item)
                return

    def _done_text(self) -> str:
        verb = "Installed" if self.action == "install" else "Uninstalled"
        text = f"<b>{verb}.</b> New trainings and exports use the change at once."
        running = training_jobs(self.window_).running()
        if running:
            text += (" Trainings already running (" + ", ".join(j.name for j in running) +
                     ") keep the plugins they started with: stop and resume them to use it.")
        if self._needs_restart():
            text += " <b>Restart gantrans</b>: this window has already loaded a package the change replaced."
        return text

    def _needs_restart(self) -> bool:
        """True when the removed distribution's plugin code is imported in this (GUI) process.

        Plugins load in the ``gantrans`` children, so normally it is not; the GUI's own package
        belongs to gantrans, which is never uninstalled from here.
        """
        return self.action == "uninstall" and any(m in sys.modules for m in self._removed_modules)
