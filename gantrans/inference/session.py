"""ONNX Runtime sessions for a desktop: providers, threads, no spinning, a small cache.

ONNX Runtime busy-waits its worker threads between runs by default, which burns a core of a
laptop while the GUI sits idle; sessions here switch spinning off unless asked. Sessions are
cached per (file, modification time, providers, options), so the GUI can re-open a model for
every job at no cost and still picks up a re-exported file.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from gantrans.errors import ConfigError, ModelError

CPU = "CPUExecutionProvider"
DEFAULT_PREFERENCE = ("CUDAExecutionProvider", CPU)
ALIASES = {
    "cpu": CPU,
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "dml": "DmlExecutionProvider",
    "directml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}
CACHE_SIZE = 4


@dataclass(frozen=True)
class SessionConfig:
    """Runtime options that change how a session is built (part of the cache key).

    ``threads`` is ONNX Runtime's intra-op thread count (None: one per physical core).
    """

    threads: int | None = None
    spinning: bool = False
    optimization: str = "all"

    def session_options(self) -> ort.SessionOptions:
        so = ort.SessionOptions()
        if self.threads is not None:
            if self.threads < 1:
                raise ConfigError(f"--threads must be at least 1, got {self.threads}")
            so.intra_op_num_threads = int(self.threads)
        so.inter_op_num_threads = 1
        spin = "1" if self.spinning else "0"
        so.add_session_config_entry("session.intra_op.allow_spinning", spin)
        so.add_session_config_entry("session.inter_op.allow_spinning", spin)
        levels = {"none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
                  "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                  "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                  "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
        so.graph_optimization_level = levels[self.optimization]
        so.log_severity_level = 3  # errors only: provider fallbacks are reported by us
        return so


#: Listed by stock onnxruntime builds but no place to run a model file: Azure's forwards requests
#: to a remote endpoint. Offered as a choice, it ran on the CPU without a word.
NOT_LOCAL = ("AzureExecutionProvider",)


def available_providers() -> list[str]:
    """The execution providers this onnxruntime can run a model file on."""
    return [p for p in ort.get_available_providers() if p not in NOT_LOCAL]


def resolve_providers(requested: Sequence[str] | None = None) -> list[str]:
    """The providers to ask for, in order, always ending with the CPU.

    ``None`` means CUDA when this onnxruntime build has it, then CPU. Short names (``cuda``,
    ``cpu``, ``dml``...) are accepted; a provider this build lacks is an error naming the ones
    it has, because silently running elsewhere would hide a broken install.
    """
    available = available_providers()
    if not requested:
        chosen = [p for p in DEFAULT_PREFERENCE if p in available]
    else:
        chosen = []
        for name in requested:
            for part in str(name).split(","):
                part = part.strip()
                if not part:
                    continue
                full = ALIASES.get(part.lower(), part)
                if full not in available:
                    raise ConfigError(f"execution provider '{part}' is not available in this onnxruntime; "
                                      f"available: {', '.join(available)}")
                if full not in chosen:
                    chosen.append(full)
    if CPU not in chosen:
        chosen.append(CPU)
    return chosen


def _create_session(path: str | bytes, options: ort.SessionOptions, providers: list[str]) -> ort.InferenceSession:
    """The one place a session is made (tests replace it to simulate a failing provider); ``path``
    may be the model itself, tuned for the CPU (:mod:`gantrans.inference.cpu_tuning`)."""
    return ort.InferenceSession(path, sess_options=options, providers=providers)


def _loadable(source: str | bytes) -> str | bytes:
    """``source``, or the model's bytes where its path cannot reach ONNX Runtime as text: a file
    name that is not valid in the file-system encoding (an ASCII locale, bytes that are not
    UTF-8) is held by Python as lone surrogates, which ORT's constructor refuses."""
    if isinstance(source, str):
        try:
            source.encode("utf-8")
        except UnicodeEncodeError:
            with open(source, "rb") as fh:
                return fh.read()
    return source


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_session(path: str | os.PathLike, providers: list[str], config: SessionConfig,
                 notes: list[str] | None = None, changes: list[str] | None = None) -> ort.InferenceSession:
    """Create a session; when the preferred provider fails to start, retry on the CPU.

    Fallback messages are appended to ``notes`` (the CLI prints them, the GUI shows them), and
    what the CPU changes of :mod:`gantrans.inference.cpu_tuning` changed to ``changes``.
    """
    path = str(path)
    notes = notes if notes is not None else []
    source: str | bytes = path
    if providers[:1] == [CPU] and config.optimization == "all":
        from gantrans.inference.cpu_tuning import tuned_model_bytes

        source = tuned_model_bytes(path, changes) or path
    source = _loadable(source)
    try:
        session = _create_session(source, config.session_options(), providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises many unrelated types
        if providers == [CPU]:
            raise ModelError(f"{path}: not a usable ONNX model ({_first_line(exc)})") from None
        notes.append(f"{providers[0]} failed to start ({_first_line(exc)}); falling back to {CPU}")
        try:
            session = _create_session(_loadable(path), config.session_options(), [CPU])
        except Exception as exc2:  # noqa: BLE001
            raise ModelError(f"{path}: not a usable ONNX model ({_first_line(exc2)})") from None
        return session
    used = session.get_providers()
    if providers and used and used[0] != providers[0]:
        notes.append(f"{providers[0]} could not be used; running on {used[0]}")
    return session


class SessionCache:
    """A small LRU of sessions keyed by file identity, providers and options."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple, tuple[ort.InferenceSession, list[str], list[str]]] = OrderedDict()

    def get(self, path: str | os.PathLike, providers: list[str], config: SessionConfig,
            notes: list[str] | None = None, changes: list[str] | None = None) -> ort.InferenceSession:
        """The cached session (opened now if need be); its notes and CPU changes, as
        :func:`open_session` reports them, are appended to ``notes`` and ``changes``."""
        p = Path(path)
        try:
            st = p.stat()
        except OSError:
            raise ModelError(f"{p}: no such model file") from None
        if not p.is_file():
            raise ModelError(f"{p}: not a file")
        key = (str(p.resolve()), st.st_mtime_ns, st.st_size, tuple(providers), config)
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
        if item is None:
            own_notes: list[str] = []
            own_changes: list[str] = []
            item = (open_session(p, providers, config, own_notes, own_changes), own_notes, own_changes)
            with self._lock:
                self._items[key] = item
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        if notes is not None:
            notes.extend(item[1])
        if changes is not None:
            changes.extend(item[2])
        return item[0]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


SESSIONS = SessionCache()
