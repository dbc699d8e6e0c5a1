"""What is in a data folder, before a training starts.

``gantrans data info --json`` (in a child process: it builds the data set) gives the detected
format, the split's item count, domains, classes and the files it had to skip; :func:`image_summary`
(headers only, run in a worker thread) looks at every split of the folder: the usable images per
folder, their sizes, and the files that are not usable. Both consider the same files (gantrans's
image extensions; hidden files and folders left out) and give each file the same verdict, in the
same words: :func:`gantrans.images.probe_image`'s.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from gantrans.errors import ImageError, PixelLimitError
from gantrans.images import iter_images, probe_image

TOP_FOLDER = "top folder"  # images directly in the chosen folder, beside its sub-folders


def _reason(exc: ImageError, path: Path) -> str:
    """gantrans's one-line reason, without the file name it starts with (the panel names the file)."""
    text = str(exc)
    if isinstance(exc, PixelLimitError):  # the app's words for the command line's GANTRANS_MAX_PIXELS
        from gantrans_gui.workers import one_line

        text = one_line(exc)
    return text.removeprefix(f"{path}: ")


def image_summary(root: str | Path, limit: int = 20000) -> dict[str, Any]:
    """Every image file under ``root`` (every split), headers only, as training judges each one.

    ``folders``: usable images per top-level folder; ``sizes``: their most common sizes; ``bad``:
    ``(relative path, reason)`` of each file training would skip; ``images``: the files looked at,
    at most ``limit`` (``truncated`` when there were more).
    """
    root = Path(root)
    folders: Counter[str] = Counter()
    sizes: Counter[tuple[int, int]] = Counter()
    bad: list[tuple[str, str]] = []
    n = 0
    truncated = False
    for path in iter_images(root):
        if n >= limit:
            truncated = True
            break
        n += 1
        rel = path.relative_to(root)
        try:
            info = probe_image(path)
        except ImageError as exc:
            bad.append((str(rel), _reason(exc, path)))
            continue
        folders[rel.parts[0] if len(rel.parts) > 1 else TOP_FOLDER] += 1
        sizes[(info.width, info.height)] += 1
    return {"root": str(root), "images": n, "usable": n - len(bad), "folders": dict(folders),
            "sizes": sizes.most_common(4), "bad": bad, "truncated": truncated}


def describe(info: dict[str, Any] | None, summary: dict[str, Any] | None) -> str:
    """Rich text for the data panel (every name read from the folder is escaped: names are data)."""
    from functools import partial
    from html import escape

    esc = partial(escape, quote=False)

    parts: list[str] = []
    bad = (summary or {}).get("bad") or []
    if info:
        fmt = f"<b>{esc(str(info.get('format')))}</b> ({esc(str(info.get('kind')))} data)"
        sides = info.get("images_per_domain")  # unpaired: an item is a draw from each side
        per_side = esc(f" ({', '.join(f'{k}: {v} images' for k, v in sides.items())})") if sides else ""
        parts.append(f"Format: {fmt}, split '{esc(str(info.get('split', 'train')))}': "
                     f"<b>{info.get('items')}</b> items{per_side}")
        if info.get("domains"):
            parts.append("Domains: " + esc(", ".join(map(str, info["domains"]))))
        if info.get("class_names"):
            names = list(map(str, info["class_names"]))
            parts.append(f"Classes ({len(names)}): " + esc(", ".join(names[:12])) + (" …" if len(names) > 12 else ""))
        if info.get("also_matches"):
            parts.append("Also matches: " + esc(", ".join(map(str, info["also_matches"]))))
        # each unusable file once: not the count lines, nor a file the folder scan below names
        root = (summary or {}).get("root")
        scanned = tuple(f"skipping {Path(root) / f}: " for f, _why in bad) if root else ()
        skipped = [str(w) for w in info.get("warnings") or [] if "unreadable file(s) of" not in str(w)
                   and not str(w).startswith(scanned)]
        for w in skipped[:5]:  # a line that is no "skipping FILE: why" (a folder left out, a notice) as it is
            said = f"skipped: {w.removeprefix('skipping ')}" if w.startswith("skipping ") else w
            parts.append(f"<span style='color:#c62828'>{esc(said)}</span>")
    if summary:
        folders = sorted(summary["folders"].items(), key=lambda kv: (kv[0] != TOP_FOLDER, kv[0]))
        counts = ", ".join(f"{k} {v}" if k == TOP_FOLDER else f"{k}/ {v}" for k, v in folders)
        line = f"Usable images by folder, every split: {esc(counts)}" if counts else "Usable images: none"
        if summary.get("truncated"):
            line += f" (of the first {summary['images']} image files only)"
        parts.append(line)
        if summary["sizes"]:
            parts.append("Sizes: " + ", ".join(f"{w}×{h} ({c})" for (w, h), c in summary["sizes"]))
        if bad:
            # one a line: a reason may hold a "; " of its own ("... named .jpg; rename it to ...")
            shown = "".join(f"<br>• {esc(f)}: {esc(why)}" for f, why in bad[:5])
            more = f"<br>• and {len(bad) - 5} more" if len(bad) > 5 else ""
            parts.append(f"<span style='color:#c62828'>{len(bad)} bad file(s), left out:{shown}{more}</span>")
    return "<br>".join(parts)
