"""``gantrans plugins list|install|uninstall``."""

from __future__ import annotations

import argparse
import json

from gantrans import console, events
from gantrans.events import add_progress_argument


def add_parsers(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("plugins", help="list, install and uninstall plugins",
                            description="List, install and uninstall gantrans plugins.")
    parser.set_defaults(_group_parser=parser)
    psub = parser.add_subparsers(dest="plugins_command", metavar="ACTION", parser_class=type(parser))

    p = psub.add_parser("list", help="show plugins, what they registered, and failures",
                        description="Show every plugin with its distribution, version, hooks and "
                                    "registered names, and every plugin that failed to load.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_list)

    p = psub.add_parser("show", help="what one plugin registered: descriptions, options, size rules",
                        description="Show what a plugin registered: recipes with their options and "
                                    "defaults, networks with their size rule and options, losses, data "
                                    "formats and data sets. NAME is a plugin name or a name it registered "
                                    "(e.g. 'cyclegan', 'resnet_9blocks').")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true", help="machine-readable output (one element of 'plugins list --json')")
    p.set_defaults(func=_show)

    p = psub.add_parser("install", help="pip-install plugin distributions",
                        description="Install plugin distributions with this interpreter's pip; "
                                    "gantrans and every installed package it depends on are pinned, so a "
                                    "plugin can add packages but never replace ours.")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="a distribution name, path, or wheel")
    p.add_argument("--pip-arg", action="append", default=[], metavar="ARG",
                   help="extra argument passed to pip (repeatable), e.g. --pip-arg=--no-build-isolation")
    p.add_argument("-e", "--editable", action="store_true",
                   help="install source folders in editable mode (plugin development: edits take effect "
                        "without reinstalling)")
    p.add_argument("-v", "--verbose", action="store_true", help="show pip's output (shown anyway when pip fails)")
    add_progress_argument(p)
    p.set_defaults(func=_install)

    p = psub.add_parser("uninstall", help="pip-uninstall plugins",
                        description="Uninstall plugins by the plugin name 'plugins list' shows (failed "
                                    "plugins included) or by distribution name.")
    p.add_argument("names", nargs="+", metavar="NAME")
    add_progress_argument(p)
    p.set_defaults(func=_uninstall)


def _list(args: argparse.Namespace) -> int:
    from gantrans.plugins import get_plugin_manager

    info = get_plugin_manager().describe()
    if args.json:
        from gantrans.extras import missing_extras

        print(json.dumps({**info, "missing_extras": missing_extras()}, indent=2))
        return 0
    for p in info["plugins"]:
        dist = f"{p['distribution']} {p['version']}" if p["distribution"] else "(registered in-process)"
        print(f"{p['name']}  [{dist}]" + ("  FAILED" if p["status"] == "failed" else ""))
        if p["hooks"]:
            print(f"  hooks: {', '.join(p['hooks'])}")
        for what, entries in p["registered"].items():
            if entries:
                print(f"  {what}: {', '.join(e['name'] for e in entries)}")
        if p["error"]:
            print(f"  error: {p['error']}")
    if info["disabled"]:
        print(f"disabled: {', '.join(info['disabled'])}")
    return 0


def find_plugin(info: dict, name: str) -> dict:
    """The element of ``plugins list --json`` for a plugin name, or for the plugin that registered ``name``."""
    from gantrans.errors import ConfigError

    for p in info["plugins"]:
        if p["name"] == name:
            return p
    for p in info["plugins"]:
        for entries in p["registered"].values():
            if any(e["name"] == name for e in entries):
                return p
    if name in info.get("disabled", []):
        raise ConfigError(f"plugin '{name}' is installed but GANTRANS_DISABLE_PLUGINS turns it off; leave it out "
                          f"of that variable to see it")
    names = ", ".join(p["name"] for p in info["plugins"]) or "none"
    raise ConfigError(f"no plugin or registered name '{name}'; plugins: {names}")


def _about(entry: dict) -> str:
    """``": description"``, or nothing for an entry registered without one."""
    return f": {entry['description']}" if entry.get("description") else ""


def _show(args: argparse.Namespace) -> int:
    from gantrans.options import Option, describe_options
    from gantrans.plugins import get_plugin_manager

    p = find_plugin(get_plugin_manager().describe(), args.name)
    if args.json:
        print(json.dumps(p, indent=2))
        return 0
    dist = f"{p['distribution']} {p['version']}" if p["distribution"] else "registered in-process"
    print(f"plugin '{p['name']}' ({dist}), status {p['status']}")
    if p["error"]:
        print(f"  error: {p['error']}")

    def options(entry: dict) -> None:
        opts = [Option(o["name"], o["type"], o["default"], o["help"], o["choices"]) for o in entry.get("options", [])]
        if opts:
            print("    options:")
            for line in describe_options(opts, indent="      "):
                print(line)

    for m in p["registered"].get("models", []):
        print(f"  recipe '{m['name']}'{_about(m)}")
        print(f"    data: {', '.join(m['data_kinds']) or 'any'}; train with 'gantrans train {m['name']} "
              f"--data DIR -o NAME=VALUE' (a network's or loss's own option: -o generator.NAME=VALUE, "
              f"-o loss.NAME=VALUE)")
        options(m)
    for n in p["registered"].get("networks", []):
        print(f"  {n['kind']} '{n['name']}' ({n['input']} input; sizes: at least {n['min_size']} px, "
              f"multiple of {n['size_multiple']}){_about(n)}")
        options(n)
    for loss in p["registered"].get("losses", []):
        print(f"  loss '{loss['name']}'{_about(loss)}")
        options(loss)
    for f in p["registered"].get("data_formats", []):
        print(f"  data format '{f['name']}' ({f['kind']}){_about(f)}")
    for d in p["registered"].get("datasets", []):
        print(f"  built-in data set '{d['name']}' ({', '.join(d['forms'])}){_about(d)}")
    for c in p["registered"].get("commands", []):
        print(f"  command 'gantrans {c['name']}'{_about(c)}")
    return 0


def _install(args: argparse.Namespace) -> int:
    from gantrans.plugins.install import install

    reporter = events.active()
    reporter.start("plugins install", total=len(args.specs), unit="package")
    specs = [x for spec in args.specs for x in (("-e", spec) if args.editable else (spec,))]
    result = install(specs, echo=console.say, extra_pip_args=args.pip_arg, verbose=args.verbose)
    reporter.progress(len(args.specs), len(args.specs))
    for p in result["reinstalled"]:
        console.say(f"reinstalled plugin '{p['name']}' from {p['distribution']} {p['version']}")
    if not result["new_plugins"] and not result["reinstalled"]:
        console.say(f"nothing new: pip had nothing to install ({' '.join(args.specs)} is installed already)")
    for p in result["new_plugins"]:
        console.say(f"new plugin '{p['name']}' from {p['distribution']} {p['version']}")
        for what, entries in p["registered"].items():
            if entries:
                console.say(f"  {what}: {', '.join(e['name'] for e in entries)}")
        if p["error"]:
            console.warning(str(p["error"]))
    reporter.result(files=[], figures={"new_plugins": result["new_plugins"], "reinstalled": result["reinstalled"],
                                       "failed": result["failed"]})
    return 0


def _uninstall(args: argparse.Namespace) -> int:
    from gantrans.plugins.install import uninstall

    reporter = events.active()
    reporter.start("plugins uninstall", total=len(args.names), unit="package")
    removed = uninstall(args.names, echo=console.say)
    reporter.progress(len(args.names), len(args.names))
    for dist, plugins in removed.items():
        held = f" (plugin{'s' if len(plugins) > 1 else ''} {', '.join(plugins)})" if plugins else ""
        console.say(f"uninstalled {dist}{held}")
    reporter.result(files=[], figures={"removed": list(removed), "plugins": sorted(sum(removed.values(), []))})
    return 0
