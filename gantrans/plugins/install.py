"""Install and uninstall plugin distributions with the running interpreter's pip.

A constraints file pins gantrans and every installed distribution it depends on (torch,
torchvision, onnxruntime, pluggy, numpy, Pillow, ..., the extras' packages included) to the
installed versions, so a plugin can add packages but never replace ours; when pip refuses, the
error names the requirement that conflicted. When pip fails, distributions it added on the way
are removed again and the user is told what, if anything, could not be put back. A plugin that
installs but fails to import is an error naming the import error and how to remove it. An
install that would make a plugin that worked fail (it registers one of that plugin's names, and
sorts first) is refused and rolled back the same way: what works keeps working.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from importlib import metadata

from gantrans.errors import PluginError
from gantrans.plugins.registry import Origin

Printer = Callable[[str], None]


def installed_distributions() -> dict[str, str]:
    """Normalised distribution name -> version for the running environment.

    When a name is installed twice on ``sys.path``, the first one wins, as for imports and pip.
    """
    out: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out.setdefault(_normalise(name), dist.version)
    return out


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


#: How an install that left a broken plugin says to take it out (the GUI words it for its button).
UNINSTALL_HINT = "remove it with 'gantrans plugins uninstall {name}'"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def pinned_distributions(root: str = "gantrans") -> dict[str, str]:
    """``root`` and every installed distribution it requires, with the installed versions.

    Requirements of every extra count (the GUI's PySide6, tensorboard, ...) when installed:
    whatever gantrans runs with must stay as it is. Their own dependencies are left to pip (a
    plugin may need a newer ``filelock``), so the pins never fight an installed package's range.
    """
    installed = installed_distributions()
    pins = {_normalise(root): installed[_normalise(root)]} if _normalise(root) in installed else {}
    for req in metadata.requires(root) or []:
        match = _NAME.match(req)
        if match and _normalise(match.group(1)) in installed:
            pins[_normalise(match.group(1))] = installed[_normalise(match.group(1))]
    return pins


def _run_pip(args: Sequence[str], echo: Printer) -> tuple[int, list[str]]:
    """Run pip with the current interpreter; every output line goes to ``echo`` and is returned."""
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return stream_child([sys.executable, "-m", "pip", *args], echo, env)


def stream_child(cmd: Sequence[str], echo: Printer, env: dict[str, str] | None = None,
                 grace_s: float = 30.0) -> tuple[int, list[str]]:
    """Run ``cmd``, echo and collect its output lines; its exit code and the lines.

    Cancelling (Ctrl+C, or the GUI's cancel, which sends this process SIGINT) interrupts the
    child the way Ctrl+C in a terminal would — SIGINT, so pip can roll back what it was doing —
    and waits for it (``grace_s``, then kills it) before the interruption goes on: a cancelled
    install must not keep changing the environment behind the user's back. The child runs in a
    process group of its own and the signal goes to the whole group: pip's build step (the
    ``pip install setuptools`` of build isolation) is a process of its own that a signal to pip
    alone left running, waiting on the network, after everything else had stopped.
    """
    posix = os.name == "posix"
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=posix)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            echo(lines[-1])
        return proc.wait(), lines
    except BaseException:
        _signal_group(proc, signal.SIGINT if posix else None)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL if posix else None)
            proc.wait()
        if posix:  # pip has ended; a build step of its that outlived it goes too
            _signal_group(proc, signal.SIGKILL)
        raise


def _signal_group(proc: subprocess.Popen, sig: int | None) -> None:
    """``sig`` to the child's process group (POSIX); ``None``: terminate the child (elsewhere)."""
    if sig is None:
        proc.terminate()
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def conflict_summary(lines: Sequence[str], pins: dict[str, str], pip_args: Sequence[str] = ()) -> str:
    """What pip's resolver refused, in one clause: the plugin's requirement against our pin."""
    wanted = []
    for line in lines:
        text = line.strip()
        m = re.match(r"^(\S+) (\S+) depends on (.+)$", text)
        if m and _normalise(_NAME.match(m.group(3)).group(1) if _NAME.match(m.group(3)) else "") in pins:
            req = m.group(3).strip()
            name = _normalise(_NAME.match(req).group(1))
            wanted.append(f"{m.group(1)} {m.group(2)} requires {req} but gantrans runs with {name} {pins[name]}")
    if wanted:
        return "; ".join(dict.fromkeys(wanted))
    errors = [line.strip() for line in lines if line.strip().startswith("ERROR:")]
    first = errors[0].removeprefix("ERROR:").strip() if errors else ""
    missing = re.search(r"Could not find a version that satisfies the requirement (\S+)", first)
    if missing:
        return offline_advice(missing.group(1), lines, pip_args) or first
    return first


#: pip's words for a package index it could not reach.
_UNREACHABLE = ("Failed to establish a new connection", "Connection refused", "Temporary failure in name resolution",
                "Network is unreachable", "Read timed out", "ConnectTimeoutError", "ProxyError")


def index_unreachable(text: str) -> bool:
    """Whether pip's output says it could not reach a package index (it retries for minutes)."""
    return any(word in text for word in _UNREACHABLE)


def offline_advice(requirement: str, lines: Sequence[str], pip_args: Sequence[str] = ()) -> str:
    """Why pip found no version of ``requirement`` when the reason is the network or ``--no-index``
    (in pip's output, or among the arguments it was given)."""
    text = "\n".join([*lines, *pip_args])
    fix = "install from a wheel file, or add --no-index --find-links DIR with the wheels it needs"
    if index_unreachable(text):
        return f"pip had to download {requirement} and could not reach the package index (offline?); {fix}"
    if "--no-index" in text or "Ignoring indexes" in text:
        return (f"pip had to download {requirement}, and --no-index forbids it; add --find-links DIR with a "
                f"wheel of {requirement}")
    return ""


def describe_plugins_fresh() -> dict:
    """``gantrans plugins list --json`` from a fresh interpreter, which sees new entry points."""
    proc = subprocess.run([sys.executable, "-m", "gantrans", "plugins", "list", "--json"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PluginError(f"could not list plugins after the change: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout)


def _keys(info: dict) -> set[tuple[str, str | None]]:
    return {(p["name"], p["distribution"]) for p in info["plugins"]}


def install(specs: Sequence[str], echo: Printer = print, extra_pip_args: Sequence[str] = (),
            verbose: bool = False) -> dict:
    """Install plugin distributions; returns the plugins that appeared with what they registered.

    pip's output goes to ``echo`` as it comes with ``verbose``; otherwise it is shown only when
    pip fails. Raises :class:`PluginError` when pip fails (the environment is put back) or when
    a new plugin fails to import (it stays installed; the message says how to remove it).
    """
    if not specs:
        raise PluginError("nothing to install: name a plugin distribution, path or wheel")
    before_dists = installed_distributions()
    before = describe_plugins_fresh()
    before_plugins = _keys(before)
    pins = pinned_distributions()
    with tempfile.TemporaryDirectory(prefix="gantrans-pip-") as tmp:
        constraints = os.path.join(tmp, "constraints.txt")
        with open(constraints, "w", encoding="utf-8") as fh:
            fh.write("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
        try:
            code, lines = _run_pip(["install", "--constraint", constraints, *extra_pip_args, *specs],
                                   echo if verbose else (lambda line: None))
        except KeyboardInterrupt:  # pip has stopped: take out what it had put in before it did
            echo(f"install cancelled; {_roll_back(before_dists, echo)}")
            raise
    if code != 0:
        if not verbose:
            for line in lines:
                echo(line)
        restored = _roll_back(before_dists, echo if verbose else (lambda line: None))
        why = conflict_summary(lines, pins, extra_pip_args)
        raise PluginError(f"pip failed (exit {code}) installing {' '.join(specs)}"
                          + (f": {why}" if why else "") + f"; {restored}")
    after = describe_plugins_fresh()
    new = [p for p in after["plugins"] if (p["name"], p["distribution"]) not in before_plugins]
    # the same plugin at the same version, fine before and failed now (a name it registered is taken)
    was_ok = {(p["name"], p["distribution"], p["version"]) for p in before["plugins"] if p["status"] == "ok"}
    harmed = [p for p in after["plugins"]
              if p["status"] == "failed" and (p["name"], p["distribution"], p["version"]) in was_ok]
    if harmed:  # a plugin that worked must keep working: take the new one back out
        p = harmed[0]
        restored = _roll_back(before_dists, echo if verbose else (lambda line: None))
        who = Origin(p["name"], p["distribution"], p["version"]).describe()
        raise PluginError(f"installing {' '.join(specs)} would break {who}, which worked before "
                          f"({p['error']}); not installed, {restored}")
    broken = [p for p in new if p["status"] == "failed" and not any(p["registered"].values())]
    if broken:
        p = broken[0]
        raise PluginError(f"installed {p['distribution']} {p['version']}, but its plugin '{p['name']}' fails to load "
                          f"({p['error']}); {UNINSTALL_HINT.format(name=p['name'])}")
    written = pip_installed(lines)
    reinstalled = [p for p in after["plugins"] if p not in new and p["distribution"]
                   and _normalise(p["distribution"]) in written]
    if written and not new and not reinstalled:  # pip put something in, and none of it is a plugin
        restored = _roll_back(before_dists, echo if verbose else (lambda line: None))
        raise PluginError(f"{' '.join(specs)} holds no gantrans plugin (pip installed {', '.join(sorted(written))}, "
                          f"which declare no 'gantrans' entry point; docs/plugins.md shows the pyproject.toml "
                          f"table); not installed, {restored}")
    return {"new_plugins": new, "reinstalled": reinstalled, "failed": after["failed"]}


def pip_installed(lines: Sequence[str]) -> set[str]:
    """The distributions pip's "Successfully installed NAME-VERSION ..." line names, normalised."""
    names: set[str] = set()
    for line in lines:
        if line.startswith("Successfully installed "):
            names |= {_normalise(word.rsplit("-", 1)[0]) for word in line.split()[2:]}
    return names


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


def uninstall(names: Sequence[str], echo: Printer = print) -> dict[str, list[str]]:
    """Uninstall plugins by plugin name (as ``plugins list`` shows, failed plugins included) or
    distribution name; returns each distribution removed with the plugins it held (a distribution
    may hold several, and pip removes them together)."""
    from gantrans.plugins import get_plugin_manager

    manager = get_plugin_manager()
    dist_of = {name: origin.distribution for name, origin in (*manager.origins.items(),
                                                                *manager.disabled_origins.items())}
    for failure in manager.failures:
        dist_of.setdefault(failure.plugin, failure.distribution)
    installed = installed_distributions()
    dists: list[str] = []
    for name in names:
        dist = dist_of.get(name) or name
        if _normalise(dist) == "gantrans":
            raise PluginError(f"'{name}' is built into gantrans and cannot be uninstalled; "
                              f"disable it with GANTRANS_DISABLE_PLUGINS={name}")
        if _normalise(dist) not in installed:
            raise PluginError(f"no installed plugin or distribution named '{name}' "
                              f"('gantrans plugins list' shows the plugins)")
        if dist not in dists:
            dists.append(dist)
    code, lines = _run_pip(["uninstall", "-y", *dists], lambda line: None)
    if code != 0:
        for line in lines:
            echo(line)
        raise PluginError(f"pip failed (exit {code}) uninstalling {' '.join(dists)}")
    return {dist: sorted(name for name, d in dist_of.items() if d and _normalise(d) == _normalise(dist))
            for dist in dists}
