"""The run directory: its layout, the torch-free readers, and the small writers the trainer uses.

This module is the one owner of the layout; the trainer, logger, checkpoint code, export and
calibration ask it for paths and go through its writers. ``runs/<name>/`` holds:

- ``config.json`` — the resolved config;
- ``status.json`` — state, step and total, ETA, last checkpoint ... (:class:`RunStatus`),
  rewritten atomically at most every few seconds while the run trains;
- ``metrics.jsonl`` — one JSON object per logged step, append-only, so a viewer tails it by
  byte offset (:meth:`RunDir.metrics`). A resumed run appends a marker line
  ``{"resume": true, "step": S}`` and then logs steps after S again; a later row for a step
  replaces an earlier one (the steps a resume redoes are listed in ``status.json``
  ``resumes`` too);
- ``samples/epoch_NNNN.png`` (grids on fixed inputs, with a ``.json`` naming their rows);
- ``checkpoints/latest.pt`` plus kept ``checkpoints/epoch_NNNN.pt``, each with a JSON summary
  beside it (``latest.json``: step, epoch, time, losses) so a viewer lists them without torch;
- ``exports.json`` — what ``gantrans export`` wrote from this run (:class:`ExportRecord`);
- ``tensorboard/`` events when tensorboard is installed.

Importing this module loads neither torch nor Qt (a test checks it in a subprocess).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gantrans.errors import CheckpointError, ConfigError
from gantrans.fileio import atomic_write, safe_name

CONFIG_FILE = "config.json"
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.jsonl"
EXPORTS_FILE = "exports.json"
SAMPLES_DIR = "samples"
CHECKPOINTS_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
LATEST_CHECKPOINT = "latest.pt"
CHECKPOINT_SUFFIX = ".pt"
SUMMARY_SUFFIX = ".json"

STATUS_VERSION = 1
STATES = ("starting", "running", "finished", "interrupted", "failed", "stopped-nonfinite")
LIVE_STATES = ("starting", "running")


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with seconds (the format of every run time stamp)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# -- layout -----------------------------------------------------------------------------------------

EPOCH_PREFIX = "epoch_"


def epoch_checkpoint_name(epoch: int) -> str:
    return f"{EPOCH_PREFIX}{epoch:04d}{CHECKPOINT_SUFFIX}"


def epoch_of_checkpoint(path: str | Path) -> int | None:
    """The epoch a kept checkpoint's file name says (``epoch_0004.pt`` -> 4); None for any other
    file (``latest.pt``)."""
    stem = Path(path).stem
    digits = stem.removeprefix(EPOCH_PREFIX)
    return int(digits) if digits != stem and digits.isdigit() else None


def sample_grid_name(epoch: int) -> str:
    return f"{EPOCH_PREFIX}{epoch:04d}.png"


def checkpoints_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINTS_DIR


def latest_checkpoint(run_dir: str | Path) -> Path:
    return checkpoints_dir(run_dir) / LATEST_CHECKPOINT


def epoch_checkpoint(run_dir: str | Path, epoch: int) -> Path:
    return checkpoints_dir(run_dir) / epoch_checkpoint_name(epoch)


def summary_path(checkpoint: str | Path) -> Path:
    """The JSON summary beside a checkpoint file (``latest.pt`` -> ``latest.json``)."""
    return Path(checkpoint).with_suffix(SUMMARY_SUFFIX)


def config_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / CONFIG_FILE


def has_checkpoint(run_dir: str | Path) -> bool:
    """Whether a run has written any checkpoint file yet."""
    return any(checkpoints_dir(run_dir).glob(f"*{CHECKPOINT_SUFFIX}"))


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


def run_dir_of(checkpoint: str | Path) -> Path | None:
    """The run directory a checkpoint file lives in (``RUN/checkpoints/x.pt``), or None."""
    parent = Path(checkpoint).parent
    if parent.name == CHECKPOINTS_DIR and is_run_dir(parent.parent):
        return parent.parent
    return None


def read_config(run_dir: str | Path | None) -> dict[str, Any] | None:
    """A run's ``config.json`` as a dict, or None when absent or unreadable (for best-effort callers)."""
    if run_dir is None:
        return None
    try:
        data = json.loads((Path(run_dir) / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def check_run_name(name: str, flag: str = "run name") -> str:
    """``name`` when it is one plain folder name; a run's name may come from a file (a --config,
    a checkpoint's stem): it is data, and never a path that leads out of the runs folder."""
    if name != safe_name(name, "") or name.startswith("-"):
        raise ConfigError(f"{flag} {name!r}: use one plain folder name (letters, digits, spaces, -_.+()[]; "
                          f"no '/', not starting with '.' or '-'), e.g. {safe_name(name, 'run').lstrip('-')!r}")
    return name


def data_path(run_dir: str | Path, path: str | os.PathLike) -> Path:
    """A data path recorded in a run's config: relative ones are tried from the current folder,
    then from where training was started (recorded by the trainer; for older runs, worked out from
    the recorded ``runs_dir``, else taken as the folder that holds ``runs/``). Found nowhere, it
    is where it most likely was: the place to name in a message."""
    p = Path(os.path.expanduser(str(path)))
    if p.is_absolute() or p.exists():
        return p
    starts = _training_folders(Path(run_dir))
    return next((s / p for s in starts if (s / p).exists()), starts[0] / p)


def _training_folders(run_dir: Path) -> list[Path]:
    """Where training of ``run_dir`` may have been started, most certain first."""
    config = read_config(run_dir) or {}
    found: list[Path] = []
    started = (config.get("resolved") or {}).get("started_in") if isinstance(config.get("resolved"), dict) else None
    if isinstance(started, str) and started:
        found.append(Path(started))
    runs_dir = config.get("runs_dir")
    if isinstance(runs_dir, str) and runs_dir and not Path(runs_dir).is_absolute() and ".." not in Path(runs_dir).parts:
        base = run_dir.resolve().parent  # = START/runs_dir
        levels = len(Path(runs_dir).parts)
        if len(base.parts) > levels and base.parts[-levels:] == Path(runs_dir).parts:
            found.append(base.parents[levels - 1])
    found.append(run_dir.parent.parent)
    return found


STEP_GRID_PREFIX = "step_"


def usable_data(run_dir: str | Path, data: Any) -> Any:
    """A run's recorded ``data`` as usable from the current folder: a relative folder found only
    from where training started comes back absolute; a built-in name, or a folder found from
    here, comes back as it was."""
    if not isinstance(data, str) or not data:
        return data
    found = data_path(run_dir, data)
    return str(found.resolve()) if found.exists() and not Path(os.path.expanduser(data)).exists() else data


def step_sample_grid(run_dir: str | Path, step: int) -> Path:
    """A grid drawn between epoch ends (``sample_every_steps``)."""
    return Path(run_dir) / SAMPLES_DIR / f"{STEP_GRID_PREFIX}{step:07d}.png"


def sample_grid(run_dir: str | Path, epoch: int) -> Path:
    return Path(run_dir) / SAMPLES_DIR / sample_grid_name(epoch)


def write_config(run_dir: str | Path, config: dict[str, Any]) -> None:
    with atomic_write(Path(run_dir) / CONFIG_FILE, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(config, indent=2, default=str) + "\n")


def _write_json(path: Path, data: Any) -> None:
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data, indent=2, default=str) + "\n")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


# -- status -----------------------------------------------------------------------------------------

@dataclass
class RunStatus:
    """What ``status.json`` says, with a live state whose process is gone read as ``interrupted``.

    Times are ISO 8601 strings (UTC). ``last_checkpoint`` is ``{"file", "step", "time"}`` or
    None. ``resumes`` lists ``{"step", "time"}`` for each resume: metrics rows after that
    step were logged again. A run with no status file (made before status files existed)
    reads as ``finished`` when it has a checkpoint, else ``interrupted``.
    """

    state: str = "starting"
    pid: int | None = None
    host: str | None = None
    step: int = 0
    total_steps: int | None = None
    epoch: int = 0
    total_epochs: int | None = None
    epoch_step: int = 0  # steps done in the epoch under way (0 at an epoch's end)
    images_per_s: float | None = None
    eta_s: float | None = None
    last_checkpoint: dict[str, Any] | None = None
    started: str | None = None
    updated: str | None = None
    recipe: str | None = None
    data: str | None = None
    device: str | None = None
    precision: str | None = None
    reason: str | None = None
    resumes: list[dict[str, Any]] = field(default_factory=list)
    pid_started: float | None = None  # the process's start time (Linux), so a reused pid is not taken for it
    recorded_state: str | None = None  # what the file said, when the state was corrected on reading
    version: int = STATUS_VERSION

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def epoch_text(self) -> str:
        """The epoch to show a person, ``"3/5"`` or ``"3"``: the epoch under way, counted from 1
        as the progress bar does, or the last one finished when the run stands at an epoch's end.

        ``epoch`` counts completed epochs, so a run stopped by ``--max-steps`` in its first
        epoch would otherwise read "epoch 0/1" after all its steps were done.
        """
        return epoch_text(self.epoch, self.total_epochs, under_way=self.live or self.epoch_step > 0)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunStatus:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        status = cls(**known)
        if status.state not in STATES:
            status.state = "failed"
            status.reason = status.reason or f"unknown state {data.get('state')!r} in {STATUS_FILE}"
        return status


def epoch_text(completed: int, total: int | None = None, *, under_way: bool = True) -> str:
    """How an epoch count reads to a person (``"3/5"``): the epoch ``under_way`` counted from 1,
    as the progress bar shows it, else the last completed one. The files count completed epochs."""
    shown = completed + 1 if under_way else completed
    if total:
        return f"{min(shown, total)}/{total}"
    return str(shown)


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started, in clock ticks since boot (Linux ``/proc``); None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return float(stat[stat.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` still runs on this machine (a zombie counts as gone)."""
    if not pid or pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        try:
            ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        finally:
            kernel32.CloseHandle(handle)
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return False
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.rindex(")") + 2] == "Z":
            return False
    return True


def _same_process_alive(status: RunStatus) -> bool:
    if not pid_alive(status.pid):
        return False
    if status.pid_started is None:
        return True
    started = process_start_time(int(status.pid))
    return started is None or started == status.pid_started


class StatusWriter:
    """Keeps ``status.json`` current: atomic rewrites, at most every ``interval`` seconds.

    The trainer calls :meth:`update` every step (cheap: it only writes when the interval has
    passed or ``force`` is set) and :meth:`finish` once with the final state.
    """

    def __init__(self, run_dir: str | Path, *, interval: float | None = None, enabled: bool = True):
        self.path = Path(run_dir) / STATUS_FILE
        self.enabled = enabled
        env = os.environ.get("GANTRANS_STATUS_INTERVAL")
        self.interval = float(env) if interval is None and env else (2.0 if interval is None else interval)
        self.status = RunStatus(pid=os.getpid(), host=socket.gethostname(), started=now_iso(),
                                pid_started=process_start_time(os.getpid()))
        self._written = 0.0
        if not enabled:
            return
        previous = _read_json(self.path)
        if isinstance(previous, dict):  # a resumed run keeps its history
            self.status.resumes = list(previous.get("resumes") or [])
            self.status.last_checkpoint = previous.get("last_checkpoint")

    def update(self, *, force: bool = False, **fields: Any) -> None:
        for key, value in fields.items():
            if key not in RunStatus.__dataclass_fields__:
                raise TypeError(f"RunStatus has no field {key!r}")
            setattr(self.status, key, value)
        if not self.enabled:
            return
        clock = time.monotonic()
        if force or clock - self._written >= self.interval:
            self.write(must=force)
            self._written = clock

    def write(self, must: bool = True) -> None:
        """Rewrite the file. A routine update that cannot be written (a reader holding the file
        on Windows, a full disk) is skipped rather than stopping the training; ``must`` retries
        a few times and then raises."""
        if not self.enabled:
            return
        self.status.updated = now_iso()
        data = self.status.as_dict()
        data.pop("recorded_state", None)
        for attempt in range(4):
            try:
                _write_json(self.path, data)
                return
            except PermissionError:
                if attempt == 3 and must:
                    raise
                time.sleep(0.05)
            except OSError:
                if must:
                    raise
                return

    def checkpoint(self, file: str | Path, step: int) -> None:
        self.update(force=True, last_checkpoint={"file": Path(file).name, "step": int(step), "time": now_iso()})

    def resumed(self, step: int) -> None:
        self.status.resumes.append({"step": int(step), "time": now_iso()})

    def finish(self, state: str, reason: str | None = None, **fields: Any) -> None:
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}")
        self.update(force=True, state=state, reason=reason, **fields)


# -- metrics ----------------------------------------------------------------------------------------

class MetricsWriter:
    """Appends rows to ``metrics.jsonl``, one flushed line each; never rewrites the file.

    Non-finite floats are written as strings (``"nan"``), so every line stays valid JSON.
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / METRICS_FILE
        self._fh = self.path.open("a", encoding="utf-8")
        if self._fh.tell() > 0:
            with self.path.open("rb") as fh:  # a torn last line from a killed run gets ended
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    self._fh.write("\n")
                    self._fh.flush()

    def log(self, row: dict[str, Any]) -> None:
        clean = {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        self._fh.write(json.dumps(clean, default=str) + "\n")
        self._fh.flush()

    def resumed(self, step: int) -> None:
        """Mark a resume: rows after ``step`` are about to be logged again."""
        self.log({"resume": True, "step": int(step), "time": time.time()})

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def refuse_if_trained_elsewhere(run_dir: str | Path) -> None:
    """A :class:`ConfigError` when another live process on this machine trains the run."""
    data = _read_json(Path(run_dir) / STATUS_FILE)
    if isinstance(data, dict):
        status = RunStatus.from_dict(data)
        if (status.live and status.pid != os.getpid() and status.host in (None, socket.gethostname())
                and _same_process_alive(status)):
            raise ConfigError(f"{run_dir}: is being trained right now (process {status.pid}); stop it first "
                              f"(Ctrl+C, or 'kill -INT {status.pid}') and resume after it has saved its checkpoint")


def mark_resume(run_dir: str | Path, step: int) -> None:
    """Note in ``metrics.jsonl`` that the run resumes from ``step`` (the rows after it get redone).

    Refused while another process still trains the run: two writers would interleave the log.
    """
    refuse_if_trained_elsewhere(run_dir)
    writer = MetricsWriter(run_dir)
    try:
        writer.resumed(step)
    finally:
        writer.close()


# -- checkpoints ------------------------------------------------------------------------------------

@dataclass
class CheckpointInfo:
    """A checkpoint file with its JSON summary (fields are None when the summary is missing)."""

    path: Path
    step: int | None = None
    epoch: int | None = None
    time: str | None = None
    losses: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "name": self.name, "step": self.step, "epoch": self.epoch,
                "time": self.time, "losses": self.losses}


def write_checkpoint_summary(checkpoint: str | Path, *, step: int, epoch: int, losses: dict[str, float] | None = None,
                             **extra: Any) -> Path:
    """Write the JSON beside ``checkpoint`` (after the checkpoint itself is in place)."""
    side = summary_path(checkpoint)
    _write_json(side, {"file": Path(checkpoint).name, "step": int(step), "epoch": int(epoch), "time": now_iso(),
                       "losses": {k: float(v) for k, v in (losses or {}).items()}, **extra})
    return side


def copy_checkpoint_summary(source: str | Path, target: str | Path) -> None:
    data = _read_json(summary_path(source))
    if isinstance(data, dict):
        data["file"] = Path(target).name
        _write_json(summary_path(target), data)


def remove_checkpoint(checkpoint: str | Path) -> None:
    """Delete a checkpoint and its summary."""
    Path(checkpoint).unlink(missing_ok=True)
    summary_path(checkpoint).unlink(missing_ok=True)


def kept_epoch_checkpoints(run_dir: str | Path) -> list[Path]:
    return sorted(checkpoints_dir(run_dir).glob(f"epoch_*{CHECKPOINT_SUFFIX}"))


def _checkpoint_info(path: Path) -> CheckpointInfo:
    data = _read_json(summary_path(path))
    if not isinstance(data, dict):
        return CheckpointInfo(path)
    losses = data.get("losses") if isinstance(data.get("losses"), dict) else {}
    return CheckpointInfo(path, _int_or_none(data.get("step")), _int_or_none(data.get("epoch")), data.get("time"),
                          losses)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# -- exports ----------------------------------------------------------------------------------------

@dataclass
class ExportRecord:
    """One file ``gantrans export`` wrote from a run. ``missing``: the file is no longer there."""

    path: Path
    head: str
    direction: str | None = None
    int8: bool = False
    parity: float | None = None
    psnr: float | None = None
    time: str | None = None
    missing: bool = False
    task: str | None = None
    checkpoint: str | None = None
    step: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def record_export(run_dir: str | Path, path: str | Path, *, head: str, direction: str | None = None,
                  int8: bool = False, parity: float | None = None, psnr: float | None = None,
                  task: str | None = None, checkpoint: str | None = None, step: int | None = None) -> None:
    """Add (or replace, for the same file) an entry in the run's ``exports.json``.

    Both the absolute path and the path relative to the run are kept, so moving the project
    folder as a whole keeps the exports found.
    """
    run_dir = Path(run_dir)
    target = Path(path).resolve()
    try:
        relpath: str | None = os.path.relpath(target, run_dir.resolve())
    except ValueError:  # another drive (Windows): only the absolute path can find it
        relpath = None
    entry = {"path": str(target), "relpath": relpath, "head": head,
             "direction": direction, "int8": bool(int8), "parity": parity, "psnr": psnr, "time": now_iso(),
             "task": task, "checkpoint": checkpoint, "step": step}
    file = run_dir / EXPORTS_FILE
    with _locked(file):  # two exports of one run at once must not lose each other's entries
        data = _read_json(file)
        entries = data.get("exports", []) if isinstance(data, dict) else []
        entries = [e for e in entries if isinstance(e, dict) and e.get("path") != str(target)]
        entries.append(entry)
        _write_json(file, {"version": 1, "exports": entries})


@contextlib.contextmanager
def _locked(file: Path, timeout: float = 10.0, stale: float = 60.0) -> Iterator[None]:
    """A lock file beside ``file`` for a read-modify-write; a lock older than ``stale`` s is broken."""
    lock = file.with_name(f".{file.name}.lock")
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            break
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - lock.stat().st_mtime > stale:
                    lock.unlink()
                    continue
            if time.monotonic() > deadline:
                raise OSError(f"{lock}: held by another process for {timeout:g} s") from None
            time.sleep(0.02)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()


def _export_record(run_dir: Path, entry: dict[str, Any]) -> ExportRecord | None:
    if not isinstance(entry, dict) or not entry.get("path"):
        return None
    path = Path(str(entry["path"]))
    if not path.is_file() and entry.get("relpath"):
        moved = (run_dir / str(entry["relpath"])).resolve()
        if moved.is_file():
            path = moved
    return ExportRecord(path=path, head=str(entry.get("head") or ""), direction=entry.get("direction"),
                        int8=bool(entry.get("int8")), parity=entry.get("parity"), psnr=entry.get("psnr"),
                        time=entry.get("time"), missing=not path.is_file(), task=entry.get("task"),
                        checkpoint=entry.get("checkpoint"), step=_int_or_none(entry.get("step")))


# -- the reader -------------------------------------------------------------------------------------

@dataclass
class RunDir:
    """Read-only view of a run directory (torch-free)."""

    path: Path

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._sidecars: dict[str, tuple[int, dict[str, Any]]] = {}
        if not (self.path / CONFIG_FILE).is_file():
            raise CheckpointError(f"{self.path}: not a gantrans run directory (no {CONFIG_FILE})")

    @property
    def name(self) -> str:
        return self.path.name

    def config(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{self.path / CONFIG_FILE}: unreadable ({exc})") from None

    def status(self) -> RunStatus:
        """The run's status; a live state whose process is gone reads as ``interrupted``."""
        data = _read_json(self.path / STATUS_FILE)
        if not isinstance(data, dict):
            return self._status_without_file()
        status = RunStatus.from_dict(data)
        if status.live and status.host in (None, socket.gethostname()) and not _same_process_alive(status):
            status.recorded_state, status.state = status.state, "interrupted"
            status.reason = status.reason or "the training process ended without saying so (killed or crashed)"
            status.eta_s = None
        return status

    def _status_without_file(self) -> RunStatus:
        config = read_config(self.path) or {}
        infos = [c for c in self.checkpoints() if c.name == LATEST_CHECKPOINT]
        last = infos[0] if infos else None
        resolved = config.get("resolved") if isinstance(config.get("resolved"), dict) else {}
        return RunStatus(
            state="finished" if last is not None else "interrupted", pid=None, host=None,
            step=(last.step or 0) if last else 0, epoch=(last.epoch or 0) if last else 0,
            last_checkpoint={"file": last.name, "step": last.step, "time": last.time} if last else None,
            recipe=config.get("recipe"), data=_data_name(config.get("data")), device=resolved.get("device"),
            precision=resolved.get("precision"),
            reason=None if last is not None else f"no {STATUS_FILE} and no checkpoint")

    def metrics(self, since: int = 0, max_bytes: int | None = None) -> tuple[list[dict[str, Any]], int]:
        """Rows logged from byte offset ``since`` on, and the offset to ask from next time.

        A torn last line (being written, or from a killed run) is not consumed. Resume markers
        are not returned as rows: rows of this read that a resume redid are dropped, so a read
        from 0 gives each step once, in order; across reads, a later row for a step replaces
        an earlier one. ``max_bytes`` bounds one read (a viewer catching up on a long log
        calls again from the returned offset), except that a read goes on to the end of its first
        whole line: a bound shorter than a row still makes progress.
        """
        file = self.path / METRICS_FILE
        try:
            with file.open("rb") as fh:
                fh.seek(since)
                chunk = fh.read(max_bytes if max_bytes is not None else -1)
                if max_bytes is not None and b"\n" not in chunk and len(chunk) == max_bytes:
                    chunk += fh.readline()  # the rest of the first row (or of a torn one: not consumed)
        except FileNotFoundError:
            return [], since
        end = chunk.rfind(b"\n") + 1
        rows: list[dict[str, Any]] = []
        for line in chunk[:end].splitlines():
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # the torn line of a killed run, ended by the resume
            if not isinstance(row, dict) or "step" not in row:
                continue
            if row.get("resume"):
                rows = [r for r in rows if _int_or_none(r.get("step")) is None or r["step"] <= row["step"]]
                continue
            rows.append(row)
        return rows, since + end

    def samples(self) -> list[Path]:
        """Sample grids in the order training drew them.

        Epoch-end grids (``epoch_NNNN``) and between-epoch ones (``step_NNNNNNN``) interleave in
        time but not by name, so they are ordered by the step their sidecar records (a step grid's
        name says it too). A grid from before sidecars recorded steps keeps name order for all.
        """
        files = sorted((self.path / SAMPLES_DIR).glob("*.png"))
        steps = [self._sample_step(p) for p in files]
        if any(s is None for s in steps):
            return files
        return [p for _, p in sorted(zip(steps, files), key=lambda pair: pair[0])]

    def _sample_step(self, sample: Path) -> int | None:
        if sample.stem.startswith(STEP_GRID_PREFIX):
            step = _int_or_none(sample.stem.removeprefix(STEP_GRID_PREFIX))
            if step is not None:
                return step
        return _int_or_none(self._sample_sidecar(sample).get("step"))

    def _sample_sidecar(self, sample: str | Path) -> dict[str, Any]:
        """The ``.json`` written next to a grid's ``.png`` ({} if none); read once per file version."""
        side = (self.path / SAMPLES_DIR / Path(sample).name).with_suffix(".json")
        try:
            stamp = side.stat().st_mtime_ns
        except OSError:
            return {}
        cached = self._sidecars.get(side.name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        data = _read_json(side)
        data = data if isinstance(data, dict) else {}
        self._sidecars[side.name] = (stamp, data)
        return data

    def sample_labels(self, sample: str | Path) -> list[str]:
        """Row labels of a sample grid, from the ``.json`` written next to its ``.png`` ([] if none)."""
        rows = self._sample_sidecar(sample).get("rows", [])
        return [str(x) for x in rows] if isinstance(rows, list) else []

    def checkpoints(self) -> list[CheckpointInfo]:
        """Every checkpoint with its summary: kept epochs in order, then ``latest.pt``."""
        return [_checkpoint_info(p) for p in sorted(checkpoints_dir(self.path).glob(f"*{CHECKPOINT_SUFFIX}"))]

    def exports(self) -> list[ExportRecord]:
        """What ``gantrans export`` wrote from this run, oldest first; moved or deleted files are ``missing``."""
        data = _read_json(self.path / EXPORTS_FILE)
        entries = data.get("exports", []) if isinstance(data, dict) else []
        return [r for r in (_export_record(self.path, e) for e in entries) if r is not None]

    def summary(self) -> dict[str, Any]:
        """Everything ``gantrans runs show --json`` prints about this run."""
        return {"name": self.name, "path": str(self.path), "status": self.status().as_dict(),
                "checkpoints": [c.as_dict() for c in self.checkpoints()],
                "exports": [e.as_dict() for e in self.exports()],
                "samples": [str(p) for p in self.samples()]}


def _data_name(data: Any) -> str | None:
    if isinstance(data, dict):
        return str(data.get("path") or data.get("name") or "") or None
    return str(data) if data else None


def list_runs(runs_dir: str | Path = "runs") -> list[RunDir]:
    """Every run directory under ``runs_dir``, newest first."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    found: list[tuple[float, RunDir]] = []
    for p in root.iterdir():
        try:  # a run being deleted or renamed right now is simply not listed
            found.append(((p / CONFIG_FILE).stat().st_mtime, RunDir(p)))
        except (OSError, CheckpointError):
            continue
    return [run for _, run in sorted(found, key=lambda x: x[0], reverse=True)]
