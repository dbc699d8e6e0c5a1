"""Name registries filled by plugins' contribution hooks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from gantrans.errors import ConfigError, PluginError

T = TypeVar("T")


@dataclass(frozen=True)
class Origin:
    """Where a registered thing came from: plugin name, distribution and its version."""

    plugin: str
    distribution: str | None = None
    version: str | None = None

    @property
    def builtin(self) -> bool:
        """Whether gantrans itself ships this plugin (built-ins keep their names on a clash)."""
        return (self.distribution or "").lower() == "gantrans"

    def describe(self) -> str:
        if self.distribution:
            return f"plugin '{self.plugin}' ({self.distribution} {self.version or '?'})"
        return f"plugin '{self.plugin}'"

    def as_dict(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "distribution": self.distribution, "version": self.version}


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered object plus its origin and free-form metadata."""

    name: str
    obj: T
    origin: Origin
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Maps names to registered objects; one registry per kind of contribution."""

    def __init__(self, what: str):
        self.what = what
        self._entries: dict[str, Entry[T]] = {}
        self.failed_plugins: list[str] = []
        """Descriptions of plugins that failed to load, named in "unknown name" errors."""

    def add(self, name: str, obj: T, origin: Origin, **meta: Any) -> Entry[T]:
        if not isinstance(name, str) or not name:
            raise PluginError(f"{origin.describe()} registered a {self.what} with an empty or non-string name")
        if name in self._entries:
            first = self._entries[name].origin
            raise PluginError(
                f"{self.what} '{name}' is registered twice: by {first.describe()} and by {origin.describe()}"
            )
        entry = Entry(name=name, obj=obj, origin=origin, meta=dict(meta))
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            available = ", ".join(sorted(self._entries)) or "none"
            failed = (f"; plugins that failed to load: {', '.join(self.failed_plugins)} "
                      f"('gantrans plugins list' shows why)" if self.failed_plugins else "")
            raise ConfigError(f"unknown {self.what} '{name}'; available: {available}{failed}") from None

    def __getitem__(self, name: str) -> T:
        return self.get(name).obj

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def by_plugin(self, plugin: str) -> list[str]:
        return [e.name for e in self._entries.values() if e.origin.plugin == plugin]
