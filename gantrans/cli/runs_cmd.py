"""``gantrans runs list|show``: training runs, their state and what was made from them (torch-free)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parsers(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("runs", help="list training runs and show one run's status, checkpoints and exports",
                            description="List the training runs under a runs folder, or show one run: its "
                                        "state, progress, checkpoints and the exports made from it.")
    parser.set_defaults(_group_parser=parser)
    rsub = parser.add_subparsers(dest="runs_command", metavar="ACTION", parser_class=type(parser))

    p = rsub.add_parser("list", help="every run with its state and progress, newest first",
                        description="Every run under --runs-dir with its state, step, epoch and recipe.")
    p.add_argument("--runs-dir", default="runs", metavar="DIR", help="where runs live (default: runs/)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_list)

    p = rsub.add_parser("show", help="one run: status, checkpoints, exports, samples",
                        description="Show one run: its status (a run whose process is gone reads "
                                    "'interrupted'), its checkpoints with their losses and its exports "
                                    "(moved or deleted files are marked missing).")
    p.add_argument("run", metavar="RUN", help="a run directory, or a run name under --runs-dir")
    p.add_argument("--runs-dir", default="runs", metavar="DIR", help="where runs live (default: runs/)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_show)


def _progress(status: Any) -> str:
    total = f"/{status.total_steps}" if status.total_steps is not None else ""
    return f"{status.step}{total}"


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _list(args: argparse.Namespace) -> int:
    from gantrans.errors import ConfigError
    from gantrans.runs import list_runs

    if not Path(args.runs_dir).is_dir():  # a mistyped folder is not an empty one
        if args.runs_dir == "runs":  # the default, before the first training
            print(json.dumps({"runs_dir": str(args.runs_dir), "runs": []}, indent=2) if args.json else
                  "no runs yet: there is no runs/ folder here (training writes one; --runs-dir DIR reads another)")
            return 0
        raise ConfigError(f"{args.runs_dir}: no such folder; pass the folder your runs are in (--runs-dir DIR)")
    runs = list_runs(args.runs_dir)
    if args.json:
        print(json.dumps({"runs_dir": str(args.runs_dir), "runs": [
            {"name": r.name, "path": str(r.path), "status": r.status().as_dict()} for r in runs]}, indent=2))
        return 0
    if not runs:
        print(f"no runs in {args.runs_dir}")
        return 0
    rows = [("NAME", "STATE", "STEP", "EPOCH", "RECIPE", "ETA", "UPDATED")]
    for r in runs:
        st = r.status()
        rows.append((r.name, st.state, _progress(st), st.epoch_text(), st.recipe or "?", _eta(st.eta_s) if st.live else "",
                     (st.updated or "").replace("+00:00", "Z")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _find(args: argparse.Namespace):
    from gantrans.errors import CheckpointError
    from gantrans.runs import RunDir, is_run_dir

    path = Path(args.run)
    if not is_run_dir(path) and not path.is_absolute() and is_run_dir(Path(args.runs_dir) / args.run):
        path = Path(args.runs_dir) / args.run
    if not is_run_dir(path):
        raise CheckpointError(f"{args.run}: no such run (neither a run directory nor a run in {args.runs_dir}/)")
    return RunDir(path)


def _show(args: argparse.Namespace) -> int:
    run = _find(args)
    info = run.summary()
    if args.json:
        info["config"] = run.config()
        print(json.dumps(info, indent=2))
        return 0
    st = run.status()
    print(f"run:        {run.name}  ({run.path})")
    print(f"state:      {st.state}" + (f" (status file said {st.recorded_state})" if st.recorded_state else "")
          + (f" - {st.reason}" if st.reason else ""))
    print(f"recipe:     {st.recipe or '?'} on {st.data or '?'}  [{st.device or '?'}, {st.precision or '?'}]")
    line = f"progress:   step {_progress(st)}, epoch {st.epoch_text()}"
    if st.images_per_s:
        line += f", {st.images_per_s:.1f} images/s"
    if st.live and st.eta_s is not None:
        line += f", ETA {_eta(st.eta_s)}"
    print(line)
    if st.started or st.updated:
        print(f"times:      started {st.started or '?'}, updated {st.updated or '?'}")
    if st.resumes:
        print(f"resumed:    {len(st.resumes)} time(s), last from step {st.resumes[-1]['step']}")
    ckpts = run.checkpoints()
    print(f"checkpoints ({len(ckpts)}):")
    for c in ckpts:
        losses = ", ".join(f"{k} {v:.4g}" for k, v in c.losses.items())
        where = f"step {c.step}, epoch {c.epoch}" if c.step is not None else "no summary"
        print(f"  {c.name:<16} {where}" + (f"  {losses}" if losses else ""))
    exports = run.exports()
    print(f"exports ({len(exports)}):")
    for e in exports:
        fig = (f"int8 PSNR {e.psnr:.2f} dB" if e.int8 and e.psnr is not None else
               f"parity {e.parity:.1e}" if e.parity is not None else "")
        print(f"  {e.head:<6} {'int8' if e.int8 else 'fp32'}  {e.path}" + (f"  {fig}" if fig else "")
              + ("  [MISSING]" if e.missing else ""))
    samples = run.samples()
    if samples:
        print(f"samples:    {len(samples)} grids, latest {samples[-1].name}")
    return 0
