"""The model library: which ``.onnx`` files the user has, what each one is, and which are broken.

Qt-free (the napari split): :class:`ModelLibrary` holds folders and models and tells listeners
through :attr:`ModelLibrary.changed`; ``library_view.py`` draws it and ``main_window.py`` wires
it to QSettings and a file watcher. Cards are read with :func:`gantrans.metadata.read_metadata_props`,
which never builds an ONNX Runtime session, so listing a folder of 50 MB models costs nothing.
A file that cannot be used is kept in the list with its reason instead of being dropped.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gantrans.errors import GantransError
from gantrans.metadata import ModelContract, read_metadata_props

MODEL_SUFFIX = ".onnx"
INT8_SUFFIX = ".int8.onnx"
CHECKPOINT_SUFFIXES = (".pth", ".pt")
MAX_SCAN_DEPTH = 4


class Event:
    """A minimal Qt-free signal: ``connect(callback)``, ``disconnect(callback)``, ``emit(*args)``."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)


def is_int8_file(path: Path) -> bool:
    return path.name.lower().endswith(INT8_SUFFIX)


@dataclass(frozen=True)
class ModelEntry:
    """One ``.onnx`` file as the library sees it: its contract, or why it cannot be used."""

    path: Path
    contract: ModelContract | None = None
    error: str | None = None
    size: int = 0
    mtime_ns: int = 0
    #: For a file without metadata: what loading it will make of its declared inputs and outputs.
    probed: ModelContract | None = None

    @property
    def valid(self) -> bool:
        return self.error is None

    @property
    def has_metadata(self) -> bool:
        return self.contract is not None

    @property
    def provenance(self) -> dict[str, Any]:
        return dict(self.contract.provenance) if self.contract else {}

    @property
    def int8(self) -> bool:
        return is_int8_file(self.path) or bool(self.provenance.get("quantization"))

    @property
    def task(self) -> str:
        """``translate``, ``generate``, ``generate-conditional``; for a model without metadata, what
        its inputs make it (as loading it will decide)."""
        c = self.contract or self.probed
        return c.task if c else "translate"

    @property
    def direction(self) -> str:
        return (self.contract.direction if self.contract else None) or ""

    @property
    def stem(self) -> str:
        """The file name without ``.onnx`` / ``.int8.onnx``."""
        name = self.path.name
        for suffix in (INT8_SUFFIX, MODEL_SUFFIX):
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return self.path.stem

    @property
    def group_stem(self) -> str:
        """The stem without its direction (``shapes_A2B`` -> ``shapes``): heads of one export share it."""
        d = self.direction
        if d and self.stem.endswith(f"_{d}"):
            return self.stem[: -len(d) - 1]
        return self.stem

    @property
    def group_key(self) -> tuple[str, str, bool]:
        return (str(self.path.parent), self.group_stem, self.int8)

    @property
    def direction_label(self) -> str:
        c = self.contract
        if c and c.source_domain and c.target_domain:
            return f"{c.source_domain} → {c.target_domain}"
        if c is None and self.probed is not None:  # what it was taken for, and that it was a guess
            return f"{self.probed.task}, no gantrans metadata"
        return self.direction or "—"

    @property
    def display_name(self) -> str:
        parts = [self.group_stem]
        if self.direction:
            parts.append(self.direction)
        name = " ".join(parts)
        return f"{name} (int8)" if self.int8 else name

    def card(self) -> list[tuple[str, str]]:
        """The metadata card: (label, value) rows, in the order a user reads them."""
        rows: list[tuple[str, str]] = [("File", str(self.path))]
        if not self.valid:
            rows.append(("Problem", self.error or ""))
            return rows
        rows.append(("Size", _format_size(self.size)))
        c = self.contract
        if c is None:
            rows.append(("Metadata", "none — driven by what its inputs and outputs say"))
            if self.probed is not None:
                rows.extend(_probed_rows(self.probed))
            return rows
        rows.append(("Task", c.task))
        if c.task == "translate" and (c.direction or c.source_domain):  # a generator's head name is no direction
            rows.append(("Direction", f"{c.direction or '?'}: {c.source_domain or '?'} → {c.target_domain or '?'}"))
        if c.task == "translate":
            rows.append(("Channels", f"{c.in_channels} in, {c.out_channels} out"))
        if c.fixed_size:
            rows.append(("Size rule", f"fixed {c.fixed_size} px"))
        elif c.task == "translate":
            rows.append(("Size rule", f"multiple of {c.size_multiple}, at least {c.min_size} px"))
        if c.latent_size:
            rows.append(("Latent", str(c.latent_size)))
        if c.class_names:
            rows.append(("Classes", ", ".join(c.class_names)))
        if c.task == "translate":
            tile = f", tile {c.tile_size} px, overlap {c.tile_overlap} px" if c.tile_size else ""
            rows.append(("Tiling", f"{c.tiling}{tile}"))
        p = self.provenance
        rows.append(("Precision", "int8 (QDQ)" if self.int8 else "fp32"))
        if self.int8 and p.get("int8_psnr_db") is not None:
            rows.append(("Parity", f"int8 vs fp32: {float(p['int8_psnr_db']):.1f} dB PSNR"))
        elif p.get("parity_max_abs_diff") is not None:
            rows.append(("Parity", f"ONNX vs PyTorch: max |Δ| {float(p['parity_max_abs_diff']):.1e}"))
        if p.get("run_name"):
            where = [f"epoch {p['epoch']}" if p.get("epoch") is not None else "",
                     f"step {p['step']}" if p.get("step") is not None else ""]
            extra = ", ".join(w for w in where if w)
            rows.append(("Source run", f"{p['run_name']}" + (f" ({extra})" if extra else "")))
        if p.get("recipe"):
            rows.append(("Recipe", f"{p['recipe']}" + (f" — {p['plugin']}" if p.get("plugin") else "")))
        if p.get("imported_from"):
            rows.append(("Imported from", str(p["imported_from"])))
        if p.get("export_date"):
            rows.append(("Exported", str(p["export_date"])))
        return rows


def _probed_rows(c: ModelContract) -> list[tuple[str, str]]:
    """The card of a model without metadata: what its inputs and outputs made of it, and what was assumed."""
    lo, hi = c.value_range
    rows = [("Task", c.task)]
    if c.task == "translate":
        rows.append(("Channels", f"{c.in_channels} in, {c.out_channels} out"))
        rows.append(("Size rule", f"fixed {c.fixed_size} px" if c.fixed_size else "any size (assumed)"))
    elif c.latent_size:
        rows.append(("Latent", str(c.latent_size)))
    rows.append(("Value range", f"{lo:g}..{hi:g} (assumed)"))
    return rows


def unique_labels(entries: Iterable[ModelEntry]) -> dict[Path, str]:
    """Short names that tell entries apart: ``shapes A2B``, then the epoch, then the folder."""
    entries = list(entries)
    return distinct_labels({e.path: e.display_name for e in entries}, {e.path: e for e in entries})


def distinct_labels(labels: dict[Any, str], entries: dict[Any, ModelEntry]) -> dict[Any, str]:
    """``labels`` (by any key) made distinct the one way every view names models: a label that
    repeats gets its model's epoch, then, if it still repeats, the model's folder."""
    labels = dict(labels)
    for _ in range(2):
        counts = Counter(labels.values())
        for key, e in entries.items():
            if counts[labels[key]] > 1:
                epoch = e.provenance.get("epoch")
                tag = f"epoch {epoch}" if epoch is not None and "epoch" not in labels[key] else \
                    f"{e.path.parent.name}/"
                labels[key] = f"{labels[key]} — {tag}"
    return labels


def _format_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def read_entry(path: str | os.PathLike) -> ModelEntry:
    """A library entry for one file; every problem becomes the entry's one-line ``error``."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        return ModelEntry(p, error="the file is gone (moved or deleted); Forget it here, or add the folder it is in now")
    except OSError as exc:
        return ModelEntry(p, error=f"cannot read the file ({exc.strerror or exc})")
    if p.is_dir():
        return ModelEntry(p, error="a folder, not an .onnx file")
    try:
        props = read_metadata_props(p)
        contract = ModelContract.from_metadata_props(props, source=p.name)
        probed = None
        if contract is None:  # rare: only then is ONNX Runtime's side of gantrans imported
            from gantrans.inference.model import probe_file

            probed = probe_file(p)
    except GantransError as exc:
        message = str(exc)
        prefix = f"{p}: "
        message = message[len(prefix):] if message.startswith(prefix) else message
        prefix = f"{p.name}: "
        message = message[len(prefix):] if message.startswith(prefix) else message
        return ModelEntry(p, error=message, size=st.st_size, mtime_ns=st.st_mtime_ns)
    return ModelEntry(p, contract=contract, size=st.st_size, mtime_ns=st.st_mtime_ns, probed=probed)


def find_model_files(folder: Path, depth: int = MAX_SCAN_DEPTH) -> list[Path]:
    """``.onnx`` files under ``folder`` (hidden folders and temporary files skipped), sorted."""
    found: list[Path] = []
    base = len(folder.parts)
    for root, dirs, files in os.walk(folder):
        rootp = Path(root)
        if len(rootp.parts) - base >= depth:
            dirs[:] = []
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(rootp / f for f in sorted(files)
                     if f.lower().endswith(MODEL_SUFFIX) and not f.startswith("."))
    return found


def _norm(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


@dataclass
class Snapshot:
    """The result of one scan: every entry plus the folders that were actually read."""

    entries: list[ModelEntry] = field(default_factory=list)
    scanned: list[Path] = field(default_factory=list)


class ModelLibrary:
    """Folders the user keeps models in, single models added by hand, and what is in them.

    ``collect()`` is pure and thread-safe (run it in a worker); ``publish(snapshot)`` swaps the
    entries in and emits :attr:`changed`; ``rescan()`` does both at once. Call ``publish`` and
    ``rescan`` from the GUI thread (listeners are widgets); from Qt code, prefer
    ``MainWindow.rescan_library()``, which collects in a worker.
    """

    def __init__(self, folders: Iterable[str | os.PathLike] = (), models: Iterable[str | os.PathLike] = (),
                 default_folders: Iterable[str | os.PathLike] = ()) -> None:
        self.changed = Event()
        self._lock = threading.Lock()
        self._default_folders = [_norm(f) for f in default_folders]
        self._folders: list[Path] = []
        self._models: list[Path] = []
        self._entries: list[ModelEntry] = []
        self._cache: dict[Path, ModelEntry] = {}
        for f in folders:
            self._add_unique(self._folders, _norm(f))
        for m in models:
            self._add_unique(self._models, _norm(m))

    @staticmethod
    def _add_unique(items: list[Path], p: Path) -> bool:
        if p in items:
            return False
        items.append(p)
        return True

    # -- what the user keeps ---------------------------------------------------------------
    @property
    def default_folders(self) -> list[Path]:
        return list(self._default_folders)

    @property
    def folders(self) -> list[Path]:
        """Folders the user added (remembered across sessions)."""
        return list(self._folders)

    @property
    def all_folders(self) -> list[Path]:
        return self._default_folders + [f for f in self._folders if f not in self._default_folders]

    @property
    def models(self) -> list[Path]:
        """Single files the user added (remembered across sessions)."""
        return list(self._models)

    def add_folder(self, path: str | os.PathLike, scan: bool = True) -> bool:
        """Add a folder (and scan, unless the caller scans in a worker); False when already there."""
        p = _norm(path)
        if p in self._default_folders or not self._add_unique(self._folders, p):
            return False
        if scan:
            self.rescan()
        return True

    def remove_folder(self, path: str | os.PathLike, scan: bool = True) -> None:
        p = _norm(path)
        if p in self._folders:
            self._folders.remove(p)
            if scan:
                self.rescan()

    def add_model(self, path: str | os.PathLike, scan: bool = True) -> ModelEntry:
        """Add one ``.onnx`` file (kept even when it lies in no library folder); returns its entry."""
        p = _norm(path)
        if not any(p.is_relative_to(f) for f in self.all_folders):
            self._add_unique(self._models, p)
        if scan:
            self.rescan()
            return self.entry(p) or read_entry(p)
        return read_entry(p)

    def remove_model(self, path: str | os.PathLike, scan: bool = True) -> None:
        p = _norm(path)
        if p in self._models:
            self._models.remove(p)
            if scan:
                self.rescan()

    # -- scanning --------------------------------------------------------------------------
    def collect(self) -> Snapshot:
        """Read every folder and model (cards cached by size and modification time)."""
        snap = Snapshot()
        seen: set[Path] = set()
        paths: list[Path] = []
        for folder in self.all_folders:
            if folder.is_dir():
                snap.scanned.append(folder)
                for f in find_model_files(folder):
                    if f not in seen:
                        seen.add(f)
                        paths.append(f)
        for m in self._models:
            if m not in seen:
                seen.add(m)
                paths.append(m)
        for p in paths:
            try:
                st = p.stat()
                key = (st.st_size, st.st_mtime_ns)
            except OSError:
                key = None
            with self._lock:
                hit = self._cache.get(p)
            if hit is not None and key is not None and (hit.size, hit.mtime_ns) == key:
                snap.entries.append(hit)
                continue
            entry = read_entry(p)
            with self._lock:
                self._cache[p] = entry
            snap.entries.append(entry)
        return snap

    def publish(self, snapshot: Snapshot) -> None:
        self._entries = list(snapshot.entries)
        self.changed.emit()

    def rescan(self) -> None:
        self.publish(self.collect())

    # -- reading ---------------------------------------------------------------------------
    @property
    def entries(self) -> list[ModelEntry]:
        return list(self._entries)

    def valid_entries(self, task: str | None = "translate") -> list[ModelEntry]:
        return [e for e in self._entries if e.valid and (task is None or e.task == task)]

    def invalid_entries(self) -> list[ModelEntry]:
        return [e for e in self._entries if not e.valid]

    def entry(self, path: str | os.PathLike) -> ModelEntry | None:
        p = _norm(path)
        return next((e for e in self._entries if e.path == p), None)

    def siblings(self, entry: ModelEntry) -> list[ModelEntry]:
        """The heads exported together with ``entry`` (same folder, name and precision)."""
        return [e for e in self._entries if e.valid and e.task == entry.task and e.group_key == entry.group_key]


def checkpoint_advice(path: str | os.PathLike) -> str:
    """What to tell a user who hands the GUI a PyTorch checkpoint instead of an ONNX model."""
    p = Path(path)
    return (f"{p.name} is a PyTorch checkpoint, not an exported model. The GUI runs ONNX models only "
            f"(no PyTorch needed to translate). If it is a generator from the reference CycleGAN/pix2pix "
            f"code, import it and export it:\n"
            f"    gantrans import \"{p}\"\n"
            f"    gantrans export runs/{p.stem}\n"
            f"If it is a gantrans training checkpoint, export its run:\n"
            f"    gantrans export \"{p}\"\n"
            f"Both need the training extra: pip install 'gantrans[train]'. The exported .onnx files "
            f"appear in the library.")
