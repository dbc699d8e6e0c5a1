"""Plugin discovery and safe loading on pluggy.

Plugins (the built-in ones included) come from the ``gantrans`` entry-point group. A plugin
that fails to import, or whose hook raises, is recorded with its distribution, version and
error and skipped, so one broken third-party package never takes the application down.

Environment:
    GANTRANS_DISABLE_PLUGINS=a,b   do not load these plugins (by entry-point name)
    GANTRANS_STRICT_PLUGINS=1      turn any load or hook failure into an error
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import Any

import pluggy

from gantrans import hookspecs
from gantrans.errors import ConfigError, PluginError
from gantrans.kinds import DATA_KINDS, NETWORK_KINDS
from gantrans.options import Option, coerce_option, options_from_signature
from gantrans.plugins.registry import Entry, Origin, Registry

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
    target: str | None = None  # the entry point's module, for import failures

    def describe_plugin(self) -> str:
        return f"'{self.plugin}' ({self.distribution} {self.version})" if self.distribution else f"'{self.plugin}'"

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

    def by_key(self) -> dict[str, Registry]:
        """The registries under the names ``plugins list --json`` uses."""
        return {"models": self.models, "networks": self.networks, "losses": self.losses,
                "data_formats": self.data_formats, "datasets": self.builtin_datasets}

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


class _CommandRecorder:
    """The CLI's subparsers as one plugin sees them: ``add_parser`` also notes the command."""

    def __init__(self, subparsers: argparse._SubParsersAction, added: list[dict[str, str]]):
        self._subparsers, self._added = subparsers, added

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        parser = self._subparsers.add_parser(name, **kwargs)
        self._added.append({"name": name, "description": str(kwargs.get("help") or kwargs.get("description") or "")})
        return parser

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._subparsers, attr)


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _StrictFailure(PluginError):
    """A plugin failure under ``GANTRANS_STRICT_PLUGINS=1``: passes through hook isolation as is."""


class PluginManager:
    """A pluggy manager plus provenance, failures and the registries built from the hooks."""

    def __init__(self, load_entry_points: bool = True):
        self.pm = pluggy.PluginManager("gantrans")
        self.pm.add_hookspecs(hookspecs)
        self.origins: dict[str, Origin] = {}
        self.failures: list[PluginFailure] = []
        self.disabled: list[str] = []
        self.disabled_origins: dict[str, Origin] = {}  # where each disabled plugin comes from (to uninstall it)
        self.commands: dict[str, list[dict[str, str]]] = {}  # plugin -> the subcommands it added
        self._registries: Registries | None = None
        self._reported = False
        self._lock = threading.RLock()
        if load_entry_points:
            self._load_entry_points()

    # -- loading ------------------------------------------------------------------------
    def _fail(self, failure: PluginFailure) -> None:
        self.failures.append(failure)
        if strict_plugins():
            error = failure.error.removeprefix("PluginError: ")
            # most messages already start by naming the plugin: say it once
            error = error.removeprefix(Origin(failure.plugin, failure.distribution, failure.version).describe() + ": ")
            raise _StrictFailure(
                f"plugin '{failure.plugin}' ({failure.distribution or 'unknown distribution'}) "
                f"failed at {failure.stage}: {error}"
            )

    def _load_entry_points(self) -> None:
        """Load every ``gantrans`` entry point; whatever is installed, this never raises
        (outside strict mode).

        The same distribution visible twice on ``sys.path`` is loaded once. Two entry points
        naming the same plugin name, or the same module, from different distributions are
        both installed-but-broken situations: the first one loaded wins, the other is recorded
        as a failure that names both, so ``plugins list`` and ``plugins uninstall`` keep working.
        """
        disabled = _env_list("GANTRANS_DISABLE_PLUGINS")
        seen: dict[str, tuple[str | None, str]] = {}  # plugin name -> (distribution, target)
        by_object: dict[int, str] = {}
        for ep in _sorted_entry_points():
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else None
            dist_version = dist.version if dist is not None else None
            origin = Origin(ep.name, dist_name, dist_version)
            if ep.name in seen:
                if seen[ep.name] == (dist_name, ep.value):  # the same distribution seen twice
                    continue
                first = self.origins.get(ep.name, Origin(ep.name, seen[ep.name][0]))
                self._fail(PluginFailure(ep.name, dist_name, dist_version, "import",
                                         f"plugin name '{ep.name}' is already taken by {first.describe()}; "
                                         f"skipped", target=ep.value))
                continue
            seen[ep.name] = (dist_name, ep.value)
            if ep.name in disabled:
                self.disabled.append(ep.name)
                self.disabled_origins[ep.name] = origin
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break us
                self._fail(PluginFailure(ep.name, dist_name, dist_version, "import", _one_line(exc),
                                         traceback.format_exc(), target=ep.value))
                continue
            if id(plugin) in by_object:
                first = self.origins[by_object[id(plugin)]]
                self._fail(PluginFailure(ep.name, dist_name, dist_version, "import",
                                         f"its entry point names {ep.value}, already loaded as {first.describe()}; "
                                         f"skipped", target=ep.value))
                continue
            try:
                self.register(plugin, ep.name, origin)
            except (PluginError, ValueError) as exc:
                problem = str(exc) if isinstance(exc, PluginError) else _one_line(exc)  # ours: already one line
                self._fail(PluginFailure(ep.name, dist_name, dist_version, "import", problem,
                                         target=ep.value))
                continue
            by_object[id(plugin)] = ep.name
            for problem in self.unknown_hooks(ep.name):
                self._fail(PluginFailure(ep.name, dist_name, dist_version, "import", problem, target=ep.value))

    def unknown_hooks(self, name: str) -> list[str]:
        """What is wrong with a plugin's hook implementations that match no hook specification.

        pluggy registers them silently and never calls them, so a misspelt hook
        (``register_network``) would leave a plugin listed as fine that registers nothing.
        ``@hookimpl(optionalhook=True)`` marks one meant for a later gantrans.
        """
        import difflib

        plugin = self.pm.get_plugin(name)
        known = [n for n, caller in vars(self.pm.hook).items() if caller.has_spec()]
        problems = []
        for caller in self.pm.get_hookcallers(plugin) or []:
            if caller.has_spec() or all(i.optionalhook for i in caller.get_hookimpls() if i.plugin is plugin):
                continue
            close = difflib.get_close_matches(caller.name, known, n=1)
            problems.append(f"hook '{caller.name}' is not a gantrans hook, so it is never called"
                            + (f" (did you mean '{close[0]}'?)" if close else " (docs/plugins.md lists the hooks)"))
        return problems

    def register(self, plugin: object, name: str, origin: Origin | None = None) -> None:
        """Register a plugin object; used for entry points and by tests or embedding apps."""
        with self._lock:
            if self.pm.has_plugin(name):
                first = self.origins.get(name, Origin(name))
                raise PluginError(f"two plugins are named '{name}': {first.describe()} and "
                                  f"{(origin or Origin(name)).describe()}")
            try:
                self.pm.register(plugin, name=name)
            except pluggy.PluginValidationError as exc:
                # pluggy keeps the plugin and the hooks it took before the bad one: take them back,
                # so a plugin that cannot be called is one failed plugin, not a broken manager.
                if self.pm.has_plugin(name):
                    self.pm.unregister(name=name)
                raise PluginError(self._invalid_hook(exc)) from exc
            self.origins[name] = origin or Origin(name)
            self._registries = None

    def _invalid_hook(self, exc: pluggy.PluginValidationError) -> str:
        """pluggy's several-line refusal of a hook implementation, as one line a plugin author can act on."""
        lines = str(exc).splitlines()
        hook = re.search(r"hook '(\w+)'", str(exc))
        name = hook.group(1) if hook else "?"
        caller = getattr(self.pm.hook, name, None)
        spec = caller.spec if caller is not None and caller.has_spec() else None
        extra = re.search(r"Argument\(s\) \{(.*)\} are declared", str(exc))
        if spec is not None and extra:
            asked = ", ".join(sorted(a.strip(" '\"") for a in extra.group(1).split(",")))
            return (f"hook '{name}' asks for {asked}, which gantrans does not pass (it passes: "
                    f"{', '.join(spec.argnames) or 'nothing'}); docs/plugins.md lists each hook's arguments")
        return f"hook '{name}': {lines[-1] if lines else exc}"

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
        Built-in plugins are called first, so their names are theirs whatever else is installed.
        """
        hook = getattr(self.pm.hook, hook_name)
        impls = list(hook.get_hookimpls())  # registration order
        origin_of = {impl.plugin_name: self.origins.get(impl.plugin_name, Origin(impl.plugin_name))
                     for impl in impls}
        impls.sort(key=lambda impl: not origin_of[impl.plugin_name].builtin)
        for impl in impls:
            origin = origin_of[impl.plugin_name]
            kwargs = {arg: make(origin) for arg, make in kwargs_for.items() if arg in impl.argnames}
            try:
                impl.function(**kwargs)
            except _StrictFailure:  # already the one line strict mode gives
                raise
            except Exception as exc:  # noqa: BLE001
                self._fail(PluginFailure(origin.plugin, origin.distribution, origin.version, hook_name,
                                         _one_line(exc), traceback.format_exc()))

    def add_commands(self, subparsers: argparse._SubParsersAction) -> None:
        """Call ``register_commands``, noting which plugin added which subcommand.

        Commands live in the CLI's parser, not in a registry, so this is where their provenance
        is kept: ``describe()`` lists them with what else a plugin registered.
        """
        self.commands = {}
        self.failures = [f for f in self.failures if f.stage != "register_commands"]  # a parser built again

        def for_plugin(origin: Origin) -> _CommandRecorder:
            return _CommandRecorder(subparsers, self.commands.setdefault(origin.plugin, []))

        self.call_each("register_commands", subparsers=for_plugin, context=lambda origin: {})

    @property
    def registries(self) -> Registries:
        with self._lock:
            if self._registries is None:
                self._registries = self._build_registries()
            return self._registries

    def _build_registries(self) -> Registries:
        regs = Registries()
        # kept: what loading and the command line found (the registries are rebuilt, not those)
        self.failures = [f for f in self.failures if f.stage in ("import", "register_commands")]
        for hook_name, registry in regs.by_hook().items():

            def make(origin: Origin, registry: Registry = registry, hook_name: str = hook_name):
                def add(name: Any, obj: Any, **meta: Any) -> None:
                    # One clashing or invalid name fails alone: the plugin's other names register.
                    try:
                        registry.add(name, obj, origin, **meta)
                    except PluginError as exc:
                        self._fail(PluginFailure(origin.plugin, origin.distribution, origin.version,
                                                 hook_name, str(exc)))

                def fail(message: str, origin: Origin = origin, hook_name: str = hook_name) -> None:
                    self._fail(PluginFailure(origin.plugin, origin.distribution, origin.version, hook_name, message))

                return _REGISTER_CALLBACKS[hook_name](add, origin, fail)

            self.call_each(hook_name, register=make)
        failed = sorted({f.describe_plugin() for f in self.failures})
        for registry in regs.by_hook().values():
            registry.failed_plugins = failed
        return regs

    # -- introspection ------------------------------------------------------------------
    def plugin_names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin()]

    def hooks_of(self, name: str) -> list[str]:
        plugin = self.pm.get_plugin(name)
        return sorted(
            caller.name for caller in self.pm.get_hookcallers(plugin) or [] if not caller.name.startswith("_")
        )

    def failures_of(self, name: str) -> list[PluginFailure]:
        return [f for f in self.failures if f.plugin == name]

    def describe(self) -> dict[str, Any]:
        """The JSON of ``gantrans plugins list --json`` (CONTRACTS.md section C) for the GUI and scripts.

        One element per plugin, loaded or failed: ``name``, ``distribution``, ``version``,
        ``status`` (``ok`` or ``failed``: it failed to import, a hook raised or a name it
        registered clashed), ``error`` (the failures, one line, or null) and ``registered``
        (models, networks, losses, data formats and data sets with descriptions and declared
        options). ``failed`` and ``disabled`` repeat the failures and the switched-off plugins.
        """
        regs = self.registries
        plugins = []
        for name in self.plugin_names():
            plugins.append(self._describe_plugin(name, self.origins.get(name, Origin(name)), regs))
        loaded = set(self.plugin_names())
        for failure in self.failures:
            if failure.plugin not in loaded and failure.plugin not in {p["name"] for p in plugins}:
                plugins.append(self._describe_plugin(
                    failure.plugin, Origin(failure.plugin, failure.distribution, failure.version), regs))
        return {
            "plugins": plugins,
            "failed": [f.as_dict() for f in self.failures],
            "disabled": sorted(self.disabled),
        }

    def _describe_plugin(self, name: str, origin: Origin, regs: Registries) -> dict[str, Any]:
        failures = [f for f in self.failures if f.plugin == name and f.distribution == origin.distribution]
        loaded = self.pm.get_plugin(name) is not None and self.origins.get(name) == origin
        registered: dict[str, list[dict[str, Any]]] = {}
        if loaded:
            for key, registry in regs.by_key().items():
                registered[key] = [describe_entry(key, e) for e in registry if e.origin.plugin == name]
        else:
            registered = {key: [] for key in regs.by_key()}
        registered["commands"] = list(self.commands.get(name, [])) if loaded else []
        return {
            "name": name,
            "plugin": name,
            "distribution": origin.distribution,
            "version": origin.version,
            "status": "failed" if failures else "ok",
            "error": "; ".join(f"{f.stage}: {f.error}" for f in failures) or None,
            "hooks": self.hooks_of(name) if loaded else [],
            "registered": registered,
        }

    def report_failures(self, echo: Callable[[str], None]) -> None:
        """Say once per process, in one line, that plugins failed (commands call this)."""
        if self._reported or not self.failures:
            return
        self._reported = True
        names = sorted({f.describe_plugin() for f in self.failures})
        echo(f"warning: {len(names)} plugin{'s' if len(names) > 1 else ''} failed to load or register: "
             f"{', '.join(names)} ('gantrans plugins list' shows why; 'gantrans plugins uninstall NAME' removes one)")


def _sorted_entry_points() -> list[Any]:
    """Entry points with gantrans's own first, so built-in plugin names are never taken, then
    by distribution and plugin name: where two plugins register one name, which keeps it is the
    same on every machine (``importlib.metadata`` lists distributions in file-system order)."""
    eps = list(metadata.entry_points(group=ENTRY_POINT_GROUP))

    def key(ep: Any) -> tuple[bool, str, str]:
        dist = getattr(ep, "dist", None)
        name = ((dist.metadata["Name"] if dist is not None else None) or "").lower()
        return name != "gantrans", name, ep.name

    return sorted(eps, key=key)


def _checked_declarations(what: str, name: str, factory: Callable[..., Any], options: Sequence[Option] | None,
                          origin: Origin, fail: Callable[[str], None]) -> tuple[Option, ...]:
    """The declared options, less those the factory cannot take (each such one a recorded failure).

    A factory with ``**kwargs`` takes every name, so nothing can be checked.
    """
    if options is None:
        return options_from_signature(factory)
    declared = tuple(options)
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return declared
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return declared
    by_name = {p.name: p for p in params}
    missing = [o.name for o in declared if o.name not in by_name]
    if missing:
        fail(f"{origin.describe()}: {what} '{name}' declares option{'s' if len(missing) > 1 else ''} "
             f"{', '.join(missing)} that its factory does not take; not advertised (add "
             f"{'them' if len(missing) > 1 else 'it'} to the factory's parameters or drop "
             f"{'them' if len(missing) > 1 else 'it'} from options=)")
    return tuple(_true_default(o, by_name[o.name], f"{origin.describe()}: {what} '{name}'", fail)
                 for o in declared if o.name in by_name)


def _true_default(option: Option, param: inspect.Parameter, who: str, fail: Callable[[str], None]) -> Option:
    """``option`` as advertised, with the default its factory really runs with.

    An option left unset is not passed, so the factory's own default is what a run gets; a
    declared default that differs (or that its own type or choices refuse) would make ``--help``
    and the GUI's form say one thing and the run do another. Each such declaration is a recorded
    failure, and the factory's default is advertised instead.
    """
    declared = option.default
    if declared is not None:
        try:
            coerce_option(option, declared, who)
        except ConfigError as exc:
            why = str(exc).removeprefix(f"{who}: ").removeprefix(f"option '{option.name}' ")
            fail(f"{who}: the declared default of option '{option.name}' is not one of its values ({why})")
            declared = None
    if param.default is inspect.Parameter.empty:
        return option if declared is option.default else replace(option, default=None)
    real = param.default
    if declared is not None and not _same_value(declared, real):
        fail(f"{who}: option '{option.name}' is declared with default {declared!r}, but its factory's default is "
             f"{real!r}, which is what a run gets; declare {real!r} (gantrans.options.override(..., "
             f"{option.name}={real!r}))")
    return option if _same_value(option.default, real) else replace(option, default=real)


def _same_value(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                              and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _network_callback(add: Callable[..., None], origin: Origin, fail: Callable[[str], None]) -> Callable[..., None]:
    def register(name: str, factory: Callable[..., Any], *, kind: str, input: str = "image",
                 size_multiple: int = 1, min_size: int = 1, description: str = "",
                 options: Sequence[Option] | None = None, fixed_size_option: str | None = None) -> None:
        if kind not in NETWORK_KINDS:
            raise PluginError(f"{origin.describe()}: network '{name}': kind must be generator or "
                              f"discriminator, got {kind!r}")
        if input not in NETWORK_KINDS[kind]:
            raise PluginError(f"{origin.describe()}: network '{name}': a {kind}'s input is one of "
                              f"{', '.join(NETWORK_KINDS[kind])}, got {input!r}")
        for label, value in (("size_multiple", size_multiple), ("min_size", min_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PluginError(f"{origin.describe()}: network '{name}': {label} must be an integer >= 1, "
                                  f"got {value!r}")
        declared = _checked_declarations("network", name, factory, options, origin, fail)
        meta = {"kind": kind, "input": input, "size_multiple": size_multiple, "min_size": min_size,
                "description": description, "options": declared}
        if fixed_size_option is not None:
            meta["fixed_size_option"] = fixed_size_option
        add(name, factory, **meta)

    return register


def _loss_callback(add: Callable[..., None], origin: Origin, fail: Callable[[str], None]) -> Callable[..., None]:
    def register(name: str, factory: Callable[..., Any], *, description: str = "",
                 options: Sequence[Option] | None = None) -> None:
        declared = _checked_declarations("loss", name, factory, options, origin, fail)
        add(name, factory, description=description, options=declared)

    return register


def _object_callback(add: Callable[..., None], origin: Origin, fail: Callable[[str], None]) -> Callable[..., None]:
    def register(obj: Any, **meta: Any) -> None:
        add(getattr(obj, "name", None), obj, **meta)

    return register


def _data_format_callback(add: Callable[..., None], origin: Origin, fail: Callable[[str], None]) -> Callable[..., None]:
    def register(data_format: Any) -> None:
        name = getattr(data_format, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{origin.describe()}: a data format needs a 'name' (a non-empty string), got {name!r}")
        kind = getattr(data_format, "kind", None)
        if kind not in DATA_KINDS:
            raise PluginError(f"{origin.describe()}: data format '{name}': kind must be one of "
                              f"{', '.join(DATA_KINDS)}, got {kind!r}")
        missing = [m for m in ("detect", "build") if not callable(getattr(data_format, m, None))]
        if missing:
            raise PluginError(f"{origin.describe()}: data format '{name}' has no {' or '.join(missing)} method "
                              f"(gantrans.data.formats.DataFormat)")
        add(name, data_format)

    return register


_REGISTER_CALLBACKS = {
    "register_networks": _network_callback,
    "register_models": _object_callback,
    "register_losses": _loss_callback,
    "register_data_formats": _data_format_callback,
    "register_builtin_datasets": _object_callback,
}


def describe_entry(key: str, entry: Entry[Any]) -> dict[str, Any]:
    """One registered thing as JSON: name, description and, where it has them, options and size rule."""
    obj, meta = entry.obj, entry.meta
    if key == "models":
        return {"name": entry.name, "description": getattr(obj, "description", "") or "",
                "data_kinds": list(getattr(obj, "data_kinds", ()) or ()),
                "options": [o.as_dict() for o in getattr(obj, "options", ())],
                "presets": [p.as_dict() for p in getattr(obj, "presets", ())]}
    if key == "networks":
        return {"name": entry.name, "kind": meta.get("kind"), "input": meta.get("input", "image"),
                "size_multiple": meta.get("size_multiple", 1), "min_size": meta.get("min_size", 1),
                "description": meta.get("description", ""),
                "options": [o.as_dict() for o in meta.get("options", ())]}
    if key == "losses":
        return {"name": entry.name, "description": meta.get("description", ""),
                "options": [o.as_dict() for o in meta.get("options", ())]}
    if key == "data_formats":
        return {"name": entry.name, "kind": getattr(obj, "kind", None),
                "description": getattr(obj, "description", "") or ""}
    return {"name": entry.name, "description": getattr(obj, "description", "") or "",
            "forms": list(getattr(obj, "forms", ()) or ())}


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
