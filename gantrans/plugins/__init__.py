"""Plugin manager, registries and plugin installation."""

from gantrans.plugins.manager import (
    PluginFailure,
    PluginManager,
    Registries,
    get_plugin_manager,
    get_registries,
    reset_plugin_manager,
)
from gantrans.plugins.registry import Entry, Origin, Registry

__all__ = [
    "Entry",
    "Origin",
    "PluginFailure",
    "PluginManager",
    "Registries",
    "Registry",
    "get_plugin_manager",
    "get_registries",
    "reset_plugin_manager",
]
