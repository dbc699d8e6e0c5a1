"""``gantrans data list|make|info``: built-in data sets and data set folders."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gantrans import console, events
from gantrans.events import add_progress_argument


def add_parsers(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("data", help="built-in data sets and data set folders",
                            description="List and write the built-in offline data sets, and inspect a "
                                        "data set folder.")
    parser.set_defaults(_group_parser=parser)
    dsub = parser.add_subparsers(dest="data_command", metavar="ACTION", parser_class=type(parser))

    p = dsub.add_parser("list", help="show the built-in data sets and the data formats",
                        description="Show every registered built-in data set with its forms, size and "
                                    "plugin, and every registered data format.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_list)

    p = dsub.add_parser("make", help="write a built-in data set to a folder",
                        description="Write a built-in data set (generated offline, deterministic per seed) "
                                    "into DIR in one of its forms.")
    p.add_argument("name", metavar="NAME", help="built-in data set name (see 'gantrans data list')")
    p.add_argument("dir", metavar="DIR", help="folder to create; must not exist or be empty")
    p.add_argument("--form", default=None, help="data format to write (default: the set's first form)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it exists and is not empty")
    add_progress_argument(p)
    p.set_defaults(func=_make)

    p = dsub.add_parser("info", help="detect the format of a data set folder and count its images",
                        description="Detect the layout of a data set folder (or a built-in name) and "
                                    "scan one split, reporting usable and unreadable images.")
    p.add_argument("data", metavar="DATA", help="data set folder")
    p.add_argument("--format", "--data-format", dest="data_format", default=None,
                   help="force a data format (as train's --data-format)")
    p.add_argument("--split", default="train", help="which split to scan (default: train)")
    p.add_argument("--check", action="store_true",
                   help="decode every image of the split, to find the truncated or corrupt files a header does "
                        "not show (slower: by default only the headers are read)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_info)


def _list(args: argparse.Namespace) -> int:
    from gantrans.plugins import get_registries

    regs = get_registries()
    sets = [{"name": e.name, "description": getattr(e.obj, "description", ""), "forms": list(e.obj.forms),
             "size": getattr(e.obj, "size", ""), **e.origin.as_dict()} for e in regs.builtin_datasets]
    formats = [{"name": e.name, "kind": e.obj.kind, "description": getattr(e.obj, "description", ""),
                **e.origin.as_dict()} for e in regs.data_formats]
    if args.json:
        print(json.dumps({"datasets": sets, "formats": formats}, indent=2))
        return 0
    print("built-in data sets:")
    for s in sets:
        print(f"  {s['name']}  [{s['plugin']}]  forms: {', '.join(s['forms'])}")
        print(f"      {s['size']}; {s['description']}")
    print("data formats (detection order):")
    for f in formats:
        print(f"  {f['name']:<10} {f['kind']:<9} [{f['plugin']}]  {f['description']}")
    return 0


def _make(args: argparse.Namespace) -> int:
    import os
    import shutil
    from pathlib import Path

    from gantrans.data.builtin import choose_form, get_builtin
    from gantrans.data.formats import METADATA_FILE
    from gantrans.errors import DataError, DiskFullError
    from gantrans.fileio import is_disk_full, not_writable, temp_dir_for

    reporter = events.active()
    reporter.start("data make", total=None, unit="image")
    dataset = get_builtin(args.name)
    form = choose_form(dataset, None, args.form)
    dest = Path(args.dir).expanduser()
    if dest.exists() and not dest.is_dir():
        raise DataError(f"{dest}: exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()):
        if not args.overwrite:
            raise DataError(f"{dest}: folder is not empty; choose another or pass --overwrite")
        # --overwrite replaces a data set this command wrote, never a folder of the user's own
        if not (dest / METADATA_FILE).is_file():
            raise DataError(f"{dest}: not a data set 'gantrans data make' wrote (no {METADATA_FILE}); "
                            f"--overwrite replaces only those: choose an empty or new folder")
        if Path.cwd().resolve().is_relative_to(dest.resolve()):
            raise DataError(f"{dest}: is the current folder or holds it, so it cannot be replaced; "
                            f"run from another folder")
    # Write beside DIR and rename into place, so an interrupted write leaves DIR as it was.
    try:
        tmp = temp_dir_for(dest)
    except OSError as exc:
        said = not_writable(dest.parent, exc)
        if said is None:
            raise
        raise DataError(f"{said}; nothing was written") from None
    try:
        try:
            dataset.make(tmp, form, args.seed)
        except (OSError, DiskFullError) as exc:
            if isinstance(exc, DiskFullError) or is_disk_full(exc):
                raise DiskFullError(dest, f"nothing was written, {dest} is as it was") from None
            raise
        if dest.exists():
            old = temp_dir_for(dest)
            os.replace(dest, old / dest.name)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    count = sum(1 for p in dest.rglob("*") if p.is_file() and p.suffix.lower() == ".png")
    reporter.progress(count, count)
    console.say(f"wrote built-in data set '{dataset.name}' ({form}, seed {args.seed}): {count} images in {dest}")
    reporter.result(files=[str(dest)], figures={"images": count, "form": form, "seed": args.seed})
    return 0


def _info(args: argparse.Namespace) -> int:
    import warnings
    from pathlib import Path

    from gantrans.data import build_dataset, find_formats
    from gantrans.data.formats import DataNotice, DataWarning
    from gantrans.errors import DataError
    from gantrans.plugins import get_registries

    root = Path(args.data).expanduser()
    if not root.is_dir():
        from gantrans.data.builtin import materialise

        builtins = get_registries().builtin_datasets
        if args.data not in builtins.names():
            raise DataError(f"{root}: not a folder, nor a built-in data set ({', '.join(builtins.names())})")
        root = materialise(args.data, data_format=args.data_format)  # as 'train --data NAME' does
    fmts = ([get_registries().data_formats.get(args.data_format).obj] if args.data_format
            else find_formats(root))
    if not fmts:
        from gantrans.data import wrong_layout

        raise DataError(wrong_layout(root, [], None))
    fmt = fmts[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        ds = build_dataset(fmt, root, args.split, None, channels=3, size=0)
    said = [w for w in caught if issubclass(w.category, DataWarning)]
    # files skipped ("warnings"), and files used all the same that look wrong ("notices")
    skipped = [str(w.message) for w in said if not issubclass(w.category, DataNotice)]
    notices = [str(w.message) for w in said if issubclass(w.category, DataNotice)]
    check = _decode_check(ds) if args.check else None
    info = {"root": str(root), "format": fmt.name, "kind": fmt.kind, "split": args.split,
            "also_matches": [f.name for f in fmts[1:]],
            # every kind a detected format reads it as: training picks the first of the recipe's kinds
            "kinds": list(dict.fromkeys(f.kind for f in fmts)), "items": len(ds), "domains": list(ds.spec.domains),
            "class_names": ds.spec.class_names, "warnings": skipped, "notices": notices,
            # None: headers only; else {"decoded": N, "unusable": [{"file", "reason"}]}
            "check": check}
    if hasattr(ds, "files_a") and hasattr(ds, "files_b"):  # unpaired: an epoch is the larger side, each side counts
        info["images_per_domain"] = dict(zip(ds.spec.domains or ("A", "B"), (len(ds.files_a), len(ds.files_b))))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    sides = info.get("images_per_domain")
    per_side = f" ({', '.join(f'{k}: {v} images' for k, v in sides.items())})" if sides else ""
    print(f"{root}: format '{fmt.name}' ({fmt.kind} data), split '{args.split}': {len(ds)} items{per_side}")
    if ds.spec.class_names:
        print(f"  classes: {', '.join(ds.spec.class_names)}")
    if info["also_matches"]:
        print(f"  also matches: {', '.join(info['also_matches'])} (use --format to choose)")
    for w in skipped + notices:
        print(f"  warning: {w}")
    if check is None:
        print("  images checked by their headers only; --check decodes each one to find truncated or corrupt "
              "files")
        return 0
    for bad in check["unusable"]:  # as training says it when it comes to the file
        print(f"  warning: skipping {bad['file']}: {bad['reason']}")
    if not check["decoded"]:
        print(f"  --check: data format '{fmt.name}' does not list its data set's files, so none was decoded")
    elif check["unusable"]:
        print(f"  --check: {len(check['unusable'])} of {check['decoded']} images cannot be decoded (named above); "
              f"training skips them: replace or remove them")
    else:
        print(f"  --check: all {check['decoded']} images decode")
    return 0


def _decode_check(ds: Any) -> dict[str, Any]:
    """Decode every file of the data set ``ds`` as training does: ``{"decoded": N, "unusable":
    [{"file", "reason"}]}``, the reason as :func:`gantrans.images.load_image` gives it."""
    from gantrans.errors import ImageError
    from gantrans.images import load_image

    files = list(ds.image_files()) if callable(getattr(ds, "image_files", None)) else []  # a plugin's own set
    for pair in getattr(ds, "pairs", ()):  # a paired set's image_files() leaves out the targets
        files.extend(pair)
    files = list(dict.fromkeys(map(str, files)))
    unusable = []
    for path in files:
        try:
            load_image(path)
        except ImageError as exc:
            reason = str(exc)
            unusable.append({"file": path, "reason": reason.removeprefix(f"{path}: ")})
    return {"decoded": len(files), "unusable": unusable}
