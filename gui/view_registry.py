"""Every view of the main window, listed once.

A view is a QWidget class whose constructor takes the main window only; ``factory`` names it as
``"module:Class"`` and is imported the first time the view is shown, so start-up pays for the
first view alone. Later issues append their entries here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ViewSpec:
    key: str
    title: str
    icon: str  # a qtawesome icon name
    factory: str  # "package.module:Class"

    def load(self) -> type:
        module_name, _, class_name = self.factory.partition(":")
        return getattr(importlib.import_module(module_name), class_name)


VIEWS: tuple[ViewSpec, ...] = (
    ViewSpec("library", "Models", "mdi6.cube-outline", "gantrans_gui.library_view:LibraryView"),
    ViewSpec("translate", "Translate", "mdi6.image-edit-outline", "gantrans_gui.translate_view:TranslateView"),
    ViewSpec("compare", "Compare", "mdi6.view-grid-outline", "gantrans_gui.compare_view:CompareView"),
    ViewSpec("batch", "Batch", "mdi6.folder-multiple-image", "gantrans_gui.batch_view:BatchView"),
    ViewSpec("runs", "Runs", "mdi6.chart-line", "gantrans_gui.runs_view:RunsView"),
    ViewSpec("training", "New training", "mdi6.play-box-outline", "gantrans_gui.training_view:TrainingView"),
    ViewSpec("samples", "Samples", "mdi6.image-multiple-outline", "gantrans_gui.samples_view:SamplesView"),
    ViewSpec("plugins", "Plugins", "mdi6.puzzle-outline", "gantrans_gui.plugins_view:PluginsView"),
    ViewSpec("settings", "Settings", "mdi6.cog-outline", "gantrans_gui.settings_view:SettingsView"),
)

DEFAULT_VIEW = "translate"


def view_spec(key: str) -> ViewSpec:
    for spec in VIEWS:
        if spec.key == key:
            return spec
    raise KeyError(key)
