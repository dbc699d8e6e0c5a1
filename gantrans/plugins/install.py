"""Install and uninstall plugin distributions with the running interpreter's pip.

A constraints file pins the running gantrans version, so a plugin can never replace or
downgrade gantrans. When pip fails, distributions it added on the way are removed again and
the user is told what, if anything, could not be put back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from importlib import metadata

from gantrans import __version__
from gantrans.errors import PluginError

Printer = Callable[[str], None]


def installed_distributions() -> dict[str, str]:
    """Normalised distribution name -> version for the running environment."""
    out: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out[_normalise(name)] = dist.version
    return out


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _run_pip(args: Sequence[str], echo: Printer) -> int:
    """Run pip with the current interpreter, streaming its output line by line."""
    cmd = [sys.executable, "-m", "pip", *args]
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        echo(line.rstrip("\n"))
    return proc.wait()


def describe_plugins_fresh() -> dict:
    """``gantrans plugins list --json`` from a fresh interpreter, which sees new entry points."""
    proc = subprocess.run([sys.executable, "-m", "gantrans", "plugins", "list", "--json"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PluginError(f"could not list plugins after the change: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout)


def install(specs: Sequence[str], echo: Printer = print, extra_pip_args: Sequence[str] = ()) -> dict:
    """Install plugin distributions; returns the plugins that appeared with what they registered."""
    if not specs:
        raise PluginError("nothing to install: name a plugin distribution, path or wheel")
    before_dists = installed_distributions()
    before_plugins = {p["plugin"] for p in describe_plugins_fresh()["plugins"]}
    with tempfile.TemporaryDirectory(prefix="gantrans-pip-") as tmp:
        constraints = os.path.join(tmp, "constraints.txt")
        with open(constraints, "w", encoding="utf-8") as fh:
            fh.write(f"gantrans=={__version__}\n")
        code = _run_pip(["install", "--constraint", constraints, *extra_pip_args, *specs], echo)
    if code != 0:
        restored = _roll_back(before_dists, echo)
        raise PluginError(f"pip failed (exit {code}) installing {' '.join(specs)}; {restored}")
    after = describe_plugins_fresh()
    new = [p for p in after["plugins"] if p["plugin"] not in before_plugins]
    return {"new_plugins": new, "failed": after["failed"]}


def _roll_back(before: dict[str, str], echo: Printer) -> str:
    after = installed_distributions()
    added = sorted(set(after) - set(before))
    changed = sorted(n for n in set(after) & set(before) if after[n] != before[n])
    if added:
        _run_pip(["uninstall", "-y", *added], echo)
    still = sorted(set(installed_distributions()) - set(before))
    problems = []
    if still:
        problems.append(f"could not remove {', '.join(still)}")
    if changed:
        problems.append("versions changed and not restored: "
                        + ", ".join(f"{n} {before[n]} -> {after[n]}" for n in changed))
    if problems:
        return "the environment was NOT fully restored: " + "; ".join(problems)
    return "the environment is as it was before" + (f" (removed {', '.join(added)})" if added else "")


def uninstall(names: Sequence[str], echo: Printer = print) -> list[str]:
    """Uninstall plugins by plugin name or distribution name; returns the distributions removed."""
    from gantrans.plugins import get_plugin_manager

    origins = get_plugin_manager().origins
    dists: list[str] = []
    for name in names:
        origin = origins.get(name)
        dist = origin.distribution if origin and origin.distribution else name
        if _normalise(dist) == "gantrans":
            raise PluginError(f"'{name}' is built into gantrans and cannot be uninstalled; "
                              f"disable it with GANTRANS_DISABLE_PLUGINS={name}")
        if _normalise(dist) not in installed_distributions():
            raise PluginError(f"no installed plugin or distribution named '{name}'")
        dists.append(dist)
    code = _run_pip(["uninstall", "-y", *dists], echo)
    if code != 0:
        raise PluginError(f"pip failed (exit {code}) uninstalling {' '.join(dists)}")
    return dists
