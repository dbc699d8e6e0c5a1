"""What the installed plugins registered, as ``gantrans plugins list --json`` tells it.

The GUI never imports the plugins (they import torch): it asks the CLI in a child process.
:func:`parse_catalog` is Qt-free and turns the listing (contract C) into plain records;
:class:`PluginCatalog` is the window's one copy of it, refreshed after installs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from gantrans_gui.cli_query import CliQuery, last_error_line, parse_json


@dataclass
class OptionSpec:
    name: str
    type: str = "str"
    default: Any = None
    help: str = ""
    choices: list[Any] | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> OptionSpec:
        t = d.get("type") or "str"
        t = {"int": "int", "float": "float", "bool": "bool"}.get(str(t), "str")
        choices = d.get("choices")
        return cls(str(d.get("name")), t, d.get("default"), str(d.get("help") or ""),
                   list(choices) if choices else None)


@dataclass
class Registered:
    """One registered name (a recipe, network, loss, ...) and the plugin it came from."""

    name: str
    plugin: str
    description: str = ""
    options: list[OptionSpec] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    status: str  # "ok" or "failed"
    error: str | None
    registered: dict[str, list[str]]


@dataclass
class Catalog:
    plugins: list[PluginInfo] = field(default_factory=list)
    recipes: dict[str, Registered] = field(default_factory=dict)
    networks: dict[str, Registered] = field(default_factory=dict)
    losses: dict[str, Registered] = field(default_factory=dict)
    datasets: list[str] = field(default_factory=list)
    #: each built-in data set's kinds of data (from the formats it can be written in)
    dataset_kinds: dict[str, list[str]] = field(default_factory=dict)
    #: install extras the command's installation lacks ("train": it cannot train or export)
    missing_extras: list[str] = field(default_factory=list)
    #: every data format (built-in or a plugin's) and the kind of data it reads
    data_formats: dict[str, str] = field(default_factory=dict)


def _entries(values: Any, plugin: str) -> list[Registered]:
    out = []
    for v in values or []:
        if isinstance(v, str):
            out.append(Registered(v, plugin))
        elif isinstance(v, dict) and v.get("name"):
            extra = {k: x for k, x in v.items() if k not in ("name", "description", "options")}
            out.append(Registered(str(v["name"]), plugin, str(v.get("description") or ""),
                                  [OptionSpec.from_json(o) for o in v.get("options") or [] if isinstance(o, dict)],
                                  extra))
    return out


def parse_catalog(doc: dict[str, Any]) -> Catalog:
    """Contract C's listing (and the older shape with a separate ``failed`` list) to a Catalog."""
    cat = Catalog(missing_extras=[str(x) for x in doc.get("missing_extras") or []])
    forms: dict[str, list[str]] = {}
    format_kinds: dict[str, str] = {}
    for p in doc.get("plugins") or []:
        name = str(p.get("name") or p.get("plugin") or "?")
        reg = p.get("registered") or {}
        status = str(p.get("status") or ("failed" if p.get("error") else "ok"))
        cat.plugins.append(PluginInfo(name, p.get("distribution"), p.get("version"), status, p.get("error"),
                                      {k: [e.name for e in _entries(v, name)] for k, v in reg.items()}))
        for e in _entries(reg.get("models"), name):
            cat.recipes[e.name] = e
        for e in _entries(reg.get("networks"), name):
            cat.networks[e.name] = e
        for e in _entries(reg.get("losses"), name):
            cat.losses[e.name] = e
        for key in ("datasets", "builtin_datasets"):
            for e in _entries(reg.get(key), name):
                cat.datasets.append(e.name)
                forms[e.name] = list(e.extra.get("forms") or [])
        format_kinds.update({e.name: str(e.extra.get("kind")) for e in _entries(reg.get("data_formats"), name)})
    cat.data_formats = dict(format_kinds)
    for dataset, names in forms.items():
        kinds = [format_kinds[f] for f in names if f in format_kinds]
        if kinds:
            cat.dataset_kinds[dataset] = list(dict.fromkeys(kinds))
    listed = {p.name for p in cat.plugins}
    for f in doc.get("failed") or []:
        name = str(f.get("name") or f.get("plugin") or "?")
        if name in listed:  # contract C lists failed plugins among the others already
            continue
        stage = f" (at {f['stage']})" if f.get("stage") else ""
        cat.plugins.append(PluginInfo(name, f.get("distribution"), f.get("version"), "failed",
                                      f"{f.get('error')}{stage}", {}))
    return cat


class PluginCatalog(QObject):
    """The window's copy of the plugin listing; ``changed`` after each refresh."""

    changed = Signal()
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.catalog = Catalog()
        self.loaded = False
        self.error = ""
        self._query: CliQuery | None = None
        self._again = False

    def refresh(self) -> None:
        if self._query is not None and self._query.running():
            self._again = True
            return
        self._query = CliQuery(["plugins", "list", "--json"], self)
        self._query.answered.connect(self._answered)
        self._query.start()

    def shutdown(self) -> None:
        self._again = False
        if self._query is not None:
            self._query.stop()

    def _answered(self, code: int, out: str, err: str) -> None:
        doc = parse_json(out) if code == 0 else None
        if isinstance(doc, dict):
            self.catalog, self.loaded, self.error = parse_catalog(doc), True, ""
            self.changed.emit()
        else:
            self.error = last_error_line(err) or f"'gantrans plugins list' failed (exit code {code})"
            self.failed.emit(self.error)
            self.changed.emit()
        if self._again:
            self._again = False
            self.refresh()


def plugin_catalog(window: Any) -> PluginCatalog:
    """The window's one catalog (created and first refreshed on first use)."""
    cat = getattr(window, "_gantrans_plugin_catalog", None)
    if cat is None:
        cat = PluginCatalog(window if isinstance(window, QObject) else None)
        window._gantrans_plugin_catalog = cat
        cat.refresh()
    return cat
