"""What ``gantrans demo`` measures and shows: scores, contact sheets, loss curves, a class
check for generated samples, and the HTML report that gathers them (torch-free).
"""

from __future__ import annotations

import html
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from gantrans.errors import DataError
from gantrans.fileio import atomic_write
from gantrans.images import image_to_float, is_image_file, load_image

SHEET_SCALE = 2
HEADER = 18
COLUMNS = ("input", "output", "ground truth")


@dataclass
class Score:
    count: int
    l1_output: float
    l1_input: float
    psnr_output: float
    psnr_input: float = float("nan")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _float(path: Path) -> np.ndarray:
    return image_to_float(load_image(path, channels=3))


def _save_png(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        image.save(fh, format="PNG")
    return path


def labelled_sheet(rows: list[list[np.ndarray]], labels: tuple[str, ...] = COLUMNS, scale: int = SHEET_SCALE) -> Image.Image:
    """A contact sheet: one row per image, one column per label, the labels on a white header."""
    h, w = rows[0][0].shape[:2]
    th, tw, gap = h * scale, w * scale, 4
    sheet = Image.new("RGB", (len(labels) * (tw + gap) - gap, HEADER + len(rows) * (th + gap) - gap), "white")
    draw = ImageDraw.Draw(sheet)
    for c, label in enumerate(labels):
        draw.text((c * (tw + gap) + 4, 3), label, fill=(0, 0, 0))
    for r, tiles in enumerate(rows):
        for c, tile in enumerate(tiles):
            im = Image.fromarray((np.clip(tile, 0, 1) * 255).round().astype(np.uint8))
            im = im.resize((tw, th), Image.NEAREST)
            sheet.paste(im, (c * (tw + gap), HEADER + r * (th + gap)))
    return sheet


def score_and_sheet(inputs: Path, outputs: Path, truths: Path, sheet: Path, rows: int = 6) -> Score:
    """Mean L1 and PSNR of outputs, and of the untranslated inputs, against the ground truth, as
    ``gantrans eval`` computes them (:mod:`gantrans.evaluation`: images in [0, 1], per-image
    figures averaged), so the demo's figures can be checked with it; a sheet of input | output |
    ground truth for ``rows`` images.

    Output files are matched to inputs by file stem. The input's own figures say what doing
    nothing scores, so the output's read against them.
    """
    from gantrans.evaluation import l1, psnr

    out_by_stem = {p.stem: p for p in Path(outputs).rglob("*") if is_image_file(p)}
    names = sorted(p for p in Path(inputs).iterdir() if is_image_file(p) and p.stem in out_by_stem)
    if not names:
        raise DataError(f"{outputs}: no translated images match the inputs in {inputs}")
    l1_out, l1_in, psnr_out, psnr_in = [], [], [], []
    tiles = []
    for src in names:
        x, y, t = _float(src), _float(out_by_stem[src.stem]), _float(Path(truths) / src.name)
        l1_out.append(l1(y, t))
        l1_in.append(l1(x, t))
        psnr_out.append(psnr(y, t))
        psnr_in.append(psnr(x, t))
        if len(tiles) < rows:
            tiles.append([x, y, t])
    _save_png(labelled_sheet(tiles), Path(sheet))
    return Score(len(names), float(np.mean(l1_out)), float(np.mean(l1_in)), float(np.mean(psnr_out)),
                 float(np.mean(psnr_in)))


# -- loss curves --------------------------------------------------------------------------------------

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
NOT_LOSSES = {"step", "epoch", "epoch_step", "time", "images_per_s", "nonfinite_skipped"}


def _metric_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The run's metrics rows, each step once, through :class:`gantrans.runs.RunDir`."""
    from gantrans.runs import RunDir

    return RunDir(run_dir).metrics()[0]


def losses_image(run_dir: Path, path: Path, width: int = 640, height: int = 300) -> Path:
    """The run's loss terms against the step, one coloured line each, as a PNG."""
    rows = _metric_rows(Path(run_dir))
    series: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        for key, value in row.items():
            if key in NOT_LOSSES or key.startswith("lr/") or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)) and math.isfinite(value):
                series.setdefault(key, []).append((int(row["step"]), float(value)))
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 48, width - 130, 10, height - 24
    draw.rectangle([left, top, right, bottom], outline=(0, 0, 0))
    if not series:
        draw.text((left + 10, top + 10), "no metrics logged yet", fill=(0, 0, 0))
        return _save_png(image, Path(path))
    steps = [s for points in series.values() for s, _ in points]
    values = [v for points in series.values() for _, v in points]
    x0, x1 = min(steps), max(max(steps), min(steps) + 1)
    y0, y1 = min(0.0, min(values)), max(values) * 1.05 or 1.0

    def xy(s: float, v: float) -> tuple[float, float]:
        return (left + (s - x0) / (x1 - x0) * (right - left), bottom - (v - y0) / (y1 - y0) * (bottom - top))

    for frac in (0.0, 0.5, 1.0):
        v = y0 + frac * (y1 - y0)
        draw.text((4, xy(x0, v)[1] - 5), f"{v:.3g}", fill=(0, 0, 0))
    draw.text((left, bottom + 6), f"step {x0}", fill=(0, 0, 0))
    draw.text((right - 60, bottom + 6), f"step {x1}", fill=(0, 0, 0))
    for i, (name, points) in enumerate(sorted(series.items())):
        colour = PALETTE[i % len(PALETTE)]
        line = [xy(s, v) for s, v in points]
        if len(line) > 1:
            draw.line(line, fill=colour, width=2)
        else:
            draw.ellipse([line[0][0] - 2, line[0][1] - 2, line[0][0] + 2, line[0][1] + 2], fill=colour)
        draw.line([(right + 10, top + 8 + 14 * i), (right + 28, top + 8 + 14 * i)], fill=colour, width=3)
        draw.text((right + 32, top + 2 + 14 * i), name[:14], fill=(0, 0, 0))
    return _save_png(image, Path(path))


# -- the report ---------------------------------------------------------------------------------------


def _rel(path: str | Path, base: Path) -> str:
    return html.escape(Path(os.path.relpath(Path(path), base)).as_posix(), quote=True)


def _img(path: str | Path, base: Path, alt: str, width: int | None = None) -> str:
    size = f' width="{width}"' if width else ""
    return f'<img src="{_rel(path, base)}" alt="{html.escape(alt, quote=True)}"{size}>'


def write_report(out: Path, results: dict[str, dict], commands: list[str], *, mode: str, seconds: float) -> Path:
    """``report.html`` in ``out``: per part the figures, contact sheets, loss curves and sample
    grids; then every command the demo ran. Images are linked by relative paths."""
    out = Path(out)
    base = out
    esc = html.escape
    body = [f"<h1>gantrans demo</h1><p>mode: {esc(mode)}; {seconds / 60:.1f} minutes.</p>"]
    for key, r in results.items():
        body.append(f"<h2>{esc(key)}</h2><p>{esc(r.get('note', ''))}. Run folder: <code>{esc(r['run'])}</code>; "
                    f"models: {', '.join(f'<code>{esc(m)}</code>' for m in r.get('models', []))}.</p>")
        scores = r.get("scores") or {}
        if scores:
            body.append("<table><tr><th>direction</th><th>held-out images</th><th>L1 output</th><th>L1 input</th>"
                        "<th>PSNR output</th><th>PSNR input</th></tr>")
            for direction, s in scores.items():
                body.append(f"<tr><td>{esc(direction)}</td><td>{s['count']}</td><td>{s['l1_output']:.3f}</td>"
                            f"<td>{s['l1_input']:.3f}</td><td>{s['psnr_output']:.2f} dB</td>"
                            f"<td>{s['psnr_input']:.2f} dB</td></tr>")
            body.append("</table><p>L1 on the [-1, 1] scale; the input columns score the untranslated image "
                        "against the ground truth, i.e. doing nothing.</p>")
            for direction, s in scores.items():
                body.append(f"<h3>{esc(direction)}: input | output | ground truth</h3>"
                            + _img(s["sheet"], base, f"{key} {direction} contact sheet"))
        if r.get("class_check"):
            c = r["class_check"]
            body.append(f"<p>Class check: {c['correct']} of {c['count']} generated samples ({c['accuracy']:.0%}) "
                        f"are classified as the class asked for by a nearest-centroid classifier of the real "
                        f"images (chance: {1 / max(1, c['classes']):.0%}).</p>")
        if r.get("generated"):
            body.append("<h3>Samples from the exported model</h3>" + _img(r["generated"], base, f"{key} samples"))
        body.append("<h3>Losses</h3>" + _img(r["losses"], base, f"{key} losses"))
        if r.get("samples"):
            body.append("<h3>Sample grids during training</h3>")
            for s in r["samples"]:
                body.append(f"<figure>{_img(s, base, Path(s).stem)}<figcaption>{esc(Path(s).stem)}"
                            f"</figcaption></figure>")
    body.append("<h2>Commands run</h2><pre>" + "\n".join(esc(c) for c in commands) + "</pre>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>gantrans demo</title><style>"
            "body{font-family:sans-serif;max-width:1100px;margin:2em auto}img{image-rendering:pixelated}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
            "figure{display:inline-block;margin:4px}pre{background:#f4f4f4;padding:8px;overflow-x:auto}"
            "</style></head><body>" + "\n".join(body) + "</body></html>\n")
    path = out / "report.html"
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(page)
    return path
