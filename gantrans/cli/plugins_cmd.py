"""``gantrans plugins list|install|uninstall``."""

from __future__ import annotations

import argparse
import json
import sys

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

    p = psub.add_parser("install", help="pip-install plugin distributions",
                        description="Install plugin distributions with this interpreter's pip; "
                                    "gantrans itself is pinned so a plugin cannot replace it.")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="a distribution name, path, or wheel")
    p.add_argument("--pip-arg", action="append", default=[], metavar="ARG",
                   help="extra argument passed to pip (repeatable), e.g. --pip-arg=--no-build-isolation")
    add_progress_argument(p)
    p.set_defaults(func=_install)

    p = psub.add_parser("uninstall", help="pip-uninstall plugins",
                        description="Uninstall plugins by plugin or distribution name.")
    p.add_argument("names", nargs="+", metavar="NAME")
    add_progress_argument(p)
    p.set_defaults(func=_uninstall)


def _list(args: argparse.Namespace) -> int:
    from gantrans.plugins import get_plugin_manager

    info = get_plugin_manager().describe()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for p in info["plugins"]:
        dist = f"{p['distribution']} {p['version']}" if p["distribution"] else "(registered in-process)"
        print(f"{p['plugin']}  [{dist}]")
        print(f"  hooks: {', '.join(p['hooks']) or '-'}")
        for what, names in p["registered"].items():
            print(f"  {what}: {', '.join(names)}")
    for f in info["failed"]:
        print(f"FAILED {f['plugin']} [{f['distribution']} {f['version']}] at {f['stage']}: {f['error']}")
    if info["disabled"]:
        print(f"disabled: {', '.join(info['disabled'])}")
    return 0


def _install(args: argparse.Namespace) -> int:
    from gantrans.plugins.install import install

    reporter = events.active()
    reporter.start("plugins install", total=len(args.specs), unit="package")
    result = install(args.specs, echo=console.say, extra_pip_args=args.pip_arg)
    reporter.progress(len(args.specs), len(args.specs))
    if not result["new_plugins"]:
        console.say("installed, but no new gantrans plugin appeared (is the 'gantrans' entry point declared?)")
    for p in result["new_plugins"]:
        console.say(f"new plugin '{p['plugin']}' from {p['distribution']} {p['version']}")
        for what, names in p["registered"].items():
            console.say(f"  {what}: {', '.join(names)}")
    for f in result["failed"]:
        if reporter.json:
            reporter.warning(f"FAILED {f['plugin']} at {f['stage']}: {f['error']}")
        else:
            print(f"FAILED {f['plugin']} at {f['stage']}: {f['error']}", file=sys.stderr)
    reporter.result(files=[], figures={"new_plugins": result["new_plugins"], "failed": result["failed"]})
    return 0


def _uninstall(args: argparse.Namespace) -> int:
    from gantrans.plugins.install import uninstall

    reporter = events.active()
    reporter.start("plugins uninstall", total=len(args.names), unit="package")
    removed = uninstall(args.names, echo=console.say)
    reporter.progress(len(args.names), len(args.names))
    console.say(f"uninstalled {', '.join(removed)}")
    reporter.result(files=[], figures={"removed": removed})
    return 0
