"""Plugin discovery and safe loading on pluggy.

Plugins (the built-in ones included) come from the ``gantrans`` entry-point group. A plugin
that fails to import, or whose hook raises, is recorded with its distribution, version and
error and skipped, so one broken third-party package never takes the application down.

Environment:
    GANTRANS_DISABLE_PLUGINS=a,b   do not load these plugins (by entry-point name)
    GANTRANS_STRICT_PLUGINS=1      turn any load or hook failure into an error
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from gantrans import hookspecs
from gantrans.errors import PluginError
from gantrans.plugins.registry import Origin, Registry

ENTRY_POINT_GROUP = "gantrans"

CONTRIBUTION_HOOKS = (
    "register_networks",
    "register_models",
    "register_losses",
    "register_data_formats",
    "register_builtin_datasets",
)


@dataclass
class PluginFailure:
    """A plugin that could not be loaded, or one of whose hooks raised."""

    plugin: str
    distribution: str | None
    version: str | None
    stage: str  # "import" or the hook name
    error: str
    traceback: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "stage": self.stage,
            "error": self.error,
        }


@dataclass
class Registries:
    """Everything plugins registered, plus what failed on the way."""

    networks: Registry = field(default_factory=lambda: Registry("network"))
    models: Registry = field(default_factory=lambda: Registry("model"))
    losses: Registry = field(default_factory=lambda: Registry("loss"))
    data_formats: Registry = field(default_factory=lambda: Registry("data format"))
    builtin_datasets: Registry = field(default_factory=lambda: Registry("built-in data set"))

    def by_hook(self) -> dict[str, Registry]:
        return {
            "register_networks": self.networks,
            "register_models": self.models,
            "register_losses": self.losses,
            "register_data_formats": self.data_formats,
            "register_builtin_datasets": self.builtin_datasets,
        }


def _env_list(name: str) -> set[str]:
    return {p.strip() for p in os.environ.get(name, "").split(",") if p.strip()}


def strict_plugins() -> bool:
    return os.environ.get("GANTRANS_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PluginManager:
    """A pluggy manager plus provenance, failures and the registries built from the hooks."""

    def __init__(self, load_entry_points: bool = True):
        self.pm = pluggy.PluginManager("gantrans")
        self.pm.add_hookspecs(hookspecs)
        self.origins: dict[str, Origin] = {}
        self.failures: list[PluginFailure] = []
        self.disabled: list[str] = []
        self._registries: Registries | None = None
        self._lock = threading.RLock()
        if load_entry_points:
            self._load_entry_points()

    # -- loading ------------------------------------------------------------------------
    def _fail(self, failure: PluginFailure) -> None:
        self.failures.append(failure)
        if strict_plugins():
            raise PluginError(
                f"plugin '{failure.plugin}' ({failure.distribution or 'unknown distribution'}) "
                f"failed at {failure.stage}: {failure.error}"
            )

    def _load_entry_points(self) -> None:
        disabled = _env_list("GANTRANS_DISABLE_PLUGINS")
        seen: set[str] = set()
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else None
            dist_version = dist.version if dist is not None else None
            if ep.name in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add(ep.name)
            if ep.name in disabled:
                self.disabled.append(ep.name)
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break us
                self._fail(PluginFailure(ep.name, dist_name, dist_version, "import", _one_line(exc),
                                         traceback.format_exc()))
                continue
            self.register(plugin, ep.name, Origin(ep.name, dist_name, dist_version))

    def register(self, plugin: object, name: str, origin: Origin | None = None) -> None:
        """Register a plugin object; used for entry points and by tests or embedding apps."""
        with self._lock:
            if self.pm.has_plugin(name):
                first = self.origins.get(name, Origin(name))
                raise PluginError(f"two plugins are named '{name}': {first.describe()} and "
                                  f"{(origin or Origin(name)).describe()}")
            self.pm.register(plugin, name=name)
            self.origins[name] = origin or Origin(name)
            self._registries = None

    def unregister(self, name: str) -> None:
        with self._lock:
            self.pm.unregister(name=name)
            self.origins.pop(name, None)
            self._registries = None

    # -- registries ---------------------------------------------------------------------
    def call_each(self, hook_name: str, **kwargs_for: Callable[[Origin], Any]) -> None:
        """Call every implementation of a hook separately, isolating failures.

        ``kwargs_for`` maps argument names to factories taking the implementing plugin's
        origin, so each plugin gets its own ``register`` callback that records provenance.
        """
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():  # registration order
            origin = self.origins.get(impl.plugin_name, Origin(impl.plugin_name))
            kwargs = {arg: make(origin) for arg, make in kwargs_for.items() if arg in impl.argnames}
            try:
                impl.function(**kwargs)
            except Exception as exc:  # noqa: BLE001
                self._fail(PluginFailure(origin.plugin, origin.distribution, origin.version, hook_name,
                                         _one_line(exc), traceback.format_exc()))

    @property
    def registries(self) -> Registries:
        with self._lock:
            if self._registries is None:
                self._registries = self._build_registries()
            return self._registries

    def _build_registries(self) -> Registries:
        regs = Registries()
        self.failures = [f for f in self.failures if f.stage == "import"]
        for hook_name, registry in regs.by_hook().items():

            def make(origin: Origin, registry: Registry = registry, hook_name: str = hook_name):
                if hook_name in ("register_networks", "register_losses"):
                    def register(name: str, factory: Callable[..., Any], **meta: Any) -> None:
                        registry.add(name, factory, origin, **meta)
                else:
                    def register(obj: Any, **meta: Any) -> None:
                        name = getattr(obj, "name", None)
                        registry.add(name, obj, origin, **meta)
                return register

            self.call_each(hook_name, register=make)
        return regs

    # -- introspection ------------------------------------------------------------------
    def plugin_names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin()]

    def hooks_of(self, name: str) -> list[str]:
        plugin = self.pm.get_plugin(name)
        return sorted(
            caller.name for caller in self.pm.get_hookcallers(plugin) or [] if not caller.name.startswith("_")
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary for ``gantrans plugins list --json`` and the GUI."""
        regs = self.registries
        plugins = []
        for name in self.plugin_names():
            origin = self.origins.get(name, Origin(name))
            registered = {
                hook.removeprefix("register_"): reg.by_plugin(name) for hook, reg in regs.by_hook().items()
            }
            plugins.append({
                **origin.as_dict(),
                "hooks": self.hooks_of(name),
                "registered": {k: v for k, v in registered.items() if v},
            })
        return {
            "plugins": plugins,
            "failed": [f.as_dict() for f in self.failures],
            "disabled": sorted(self.disabled),
        }


_manager: PluginManager | None = None
_manager_lock = threading.Lock()


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, created on first use."""
    global _manager
    with _manager_lock:
        if _manager is None:
            _manager = PluginManager()
        return _manager


def reset_plugin_manager() -> None:
    """Forget the process-wide manager (tests, and after installing a plugin)."""
    global _manager
    with _manager_lock:
        _manager = None


def get_registries() -> Registries:
    """Shortcut for ``get_plugin_manager().registries``."""
    return get_plugin_manager().registries
