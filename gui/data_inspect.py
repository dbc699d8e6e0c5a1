"""What is in a data folder, before a training starts.

``gantrans data info --json`` (in a child process: it builds the data set) gives the detected
format, item count, domains, classes and the files it had to skip; :func:`image_summary` (Pillow
headers only, run in a worker thread) adds image counts and sizes per folder and files Pillow
cannot open.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

TOP_FOLDER = "top folder"  # images directly in the chosen folder, beside its sub-folders
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


def image_summary(root: str | Path, limit: int = 20000) -> dict[str, Any]:
    """Counts per top-level folder, the most common sizes, and unreadable image files."""
    from PIL import Image

    root = Path(root)
    counts: Counter[str] = Counter()
    sizes: Counter[tuple[int, int]] = Counter()
    bad: list[tuple[str, str]] = []
    n = 0
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in IMAGE_EXTS:
            continue
        n += 1
        if n > limit:
            break
        rel = p.relative_to(root)
        counts[rel.parts[0] if len(rel.parts) > 1 else TOP_FOLDER] += 1
        try:
            with Image.open(p) as im:
                sizes[im.size] += 1
        except Exception as exc:  # noqa: BLE001 - every unreadable file is reported, none raises
            bad.append((str(rel), str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
    return {"images": min(n, limit), "folders": dict(counts), "sizes": sizes.most_common(4), "bad": bad,
            "truncated": n > limit}


def describe(info: dict[str, Any] | None, summary: dict[str, Any] | None) -> str:
    """Rich text for the data panel (every name read from the folder is escaped: names are data)."""
    from functools import partial
    from html import escape

    esc = partial(escape, quote=False)

    parts: list[str] = []
    if info:
        fmt = f"<b>{esc(str(info.get('format')))}</b> ({esc(str(info.get('kind')))} data)"
        parts.append(f"Format: {fmt}, split '{info.get('split', 'train')}': <b>{info.get('items')}</b> items")
        if info.get("domains"):
            parts.append("Domains: " + esc(", ".join(map(str, info["domains"]))))
        if info.get("class_names"):
            names = list(map(str, info["class_names"]))
            parts.append(f"Classes ({len(names)}): " + esc(", ".join(names[:12])) + (" …" if len(names) > 12 else ""))
        if info.get("also_matches"):
            parts.append("Also matches: " + ", ".join(info["also_matches"]))
        # each unreadable file once: not the count lines, nor a file the folder scan below names
        scanned_bad = [f for f, _why in (summary or {}).get("bad") or []]
        skipped = [w for w in info.get("warnings") or [] if "unreadable file(s) of" not in str(w)
                   and not any(f in str(w) for f in scanned_bad)]
        for w in skipped[:5]:
            parts.append(f"<span style='color:#c62828'>skipped: {esc(str(w).removeprefix('skipping '))}</span>")
    if summary:
        folders = esc(", ".join(f"{k} {v}" for k, v in sorted(summary["folders"].items())))
        parts.append(f"Images: {summary['images']}" + (f" ({folders})" if folders else ""))
        if summary["sizes"]:
            parts.append("Sizes: " + ", ".join(f"{w}×{h} ({c})" for (w, h), c in summary["sizes"]))
        if summary["bad"]:
            shown = esc("; ".join(f"{f}: {why}" for f, why in summary["bad"][:5]))
            more = f" and {len(summary['bad']) - 5} more" if len(summary["bad"]) > 5 else ""
            parts.append(f"<span style='color:#c62828'>{len(summary['bad'])} bad file(s): {shown}{more}</span>")
    return "<br>".join(parts)
