"""Graph changes that make a model faster on ONNX Runtime's CPU provider, made at load time.

An exported ``.onnx`` file stays portable — it runs on any runtime and any CPU — so what only
pays on this provider, or on this CPU, is done here, in memory, when a CPU session opens. Each
change computes exactly the same numbers (tests compare the outputs), and each was measured on a
2-core Xeon with AMX, paper CycleGAN generator at 256x256, 2 threads (issue 18):

- **narrow output convolution in space-to-depth form.** ONNX Runtime's fp32 convolutions work
  on blocks of 16 channels, so the generators' last layer (7x7, 64 -> 3 channels) computes 16
  output channels to keep 3: it took 21 ms of the model's ~310. Over the input rearranged into
  2x2 blocks (``SpaceToDepth``), the same sums are a 4x4 convolution with 12 output channels,
  interleaved back by ``DepthToSpace``: 1.3x the multiply-adds, a quarter of the waste (about
  10 ms). Only where the output's height and width are even — the model's size rule says so.
- **int8 weights with zero point -1 on a CPU with AMX.** With symmetric int8 weights (zero
  point 0, the portable choice) ONNX Runtime runs its own int8 convolution kernels; with any
  other zero point it takes its matrix-product path, which uses AMX where the CPU has it: one
  256 -> 256 3x3 convolution at 64x64 went from 3.0 to 2.1 ms, and the int8 generator from
  ~141 to ~127 ms. Without AMX that path is slower (4.0 ms, measured with AMX withheld), so the
  change is made only where ``/proc/cpuinfo`` lists ``amx_int8``. Shifting every weight by -1
  and the zero point to -1 leaves each dequantized weight as it was (symmetric weights stay
  within -127..127, so -128..126 still fits).

Needs the ``onnx`` package (installed with training); without it models load as they are.

A process that must never stall (the desktop app) sets :data:`IN_CHILD`: the rewrite then runs
in a child process and is cached on disk. Importing ``onnx`` holds the interpreter lock for about
0.8 s (``ml_dtypes``' module set-up), which froze the window even from a worker thread.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["IN_CHILD", "has_amx_int8", "tune_for_cpu", "tuned_model_bytes"]

#: Rewrite models in a child process (cached) instead of importing ``onnx`` here; see the module.
IN_CHILD = False
#: Bumped when a change to the rewrite makes cached results stale.
TUNING_VERSION = 1
#: Tuned models kept in the cache (newest first); they are as large as the models.
CACHE_KEEP = 8

#: ONNX Runtime's blocked fp32 layout: channels are processed 16 at a time.
CHANNEL_BLOCK = 16
#: Unary elementwise ops between the output convolution and the graph output.
_PASS_THROUGH = {"Tanh", "Sigmoid", "Relu", "Clip", "Identity"}


@functools.cache
def has_amx_int8() -> bool:
    """Whether this CPU has AMX int8 matrix units (Linux: ``/proc/cpuinfo``; elsewhere False)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return "amx_int8" in line.split()
    except OSError:
        pass
    return False


def tuned_model_bytes(path: str | os.PathLike, done: list[str] | None = None) -> bytes | None:
    """The model at ``path`` with the CPU changes, serialized; None when none applies or the
    ``onnx`` package is missing (the caller then opens the file itself). What was changed is
    appended to ``done`` (benchmarks say what they timed)."""
    if IN_CHILD and "onnx" not in sys.modules:
        import importlib.util

        return _tuned_in_child(Path(path), done) if importlib.util.find_spec("onnx") is not None else None
    try:
        import onnx  # noqa: F401
    except ImportError:
        return None
    try:
        data, applied = _tune_file(path)
    except Exception:  # noqa: BLE001 - a file ONNX Runtime will judge, or over protobuf's 2 GB: as it is
        return None
    if done is not None:
        done.extend(applied)
    return data


def _tune_file(path: str | os.PathLike) -> tuple[bytes | None, list[str]]:
    """The tuned model serialized (None when no change applies) and what was changed."""
    import onnx

    model = onnx.load(str(Path(path)))
    applied = tune_for_cpu(model, amx_int8=has_amx_int8())
    return (model.SerializeToString() if applied else None), applied


def tune_for_cpu(model: Any, *, amx_int8: bool) -> list[str]:
    """Apply the changes (in place) to an ``onnx.ModelProto``; returns what was done."""
    from gantrans.errors import GantransError
    from gantrans.metadata import ModelContract

    done = []
    props = {p.key: p.value for p in model.metadata_props}
    try:
        contract = ModelContract.from_metadata_props(props) if props else None
    except GantransError:  # loading the model reports bad metadata; here it only means no rewrite
        contract = None
    if contract is not None and contract.task == "translate" and _even_sizes(contract):
        done += [f"space-to-depth {name}" for name in _output_conv_space_to_depth(model)]
    if amx_int8:
        count = _weights_off_zero(model)
        if count:
            done.append(f"{count} int8 weights with zero point -1")
    return done


def _even_sizes(contract: Any) -> bool:
    if contract.fixed_size is not None:
        return int(contract.fixed_size) % 2 == 0
    return int(contract.size_multiple or 1) % 2 == 0


def _output_conv_space_to_depth(model: Any) -> list[str]:
    """Rewrite the convolutions that make a graph output (through unary elementwise ops) with
    fewer than 16 output channels, stride 1, no padding of their own and an odd kernel."""
    import numpy as np
    from onnx import helper, numpy_helper

    from gantrans.onnx_edit import attributes, constant_weights, consumers, drop_replaced_initializers

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    readers = consumers(graph)

    def sole_reader(node: Any) -> bool:
        return len(readers.get(node.output[0], [])) <= 1

    targets = []
    for out in graph.output:
        node = producer.get(out.name)
        while node is not None and node.op_type in _PASS_THROUGH and sole_reader(node):
            node = producer.get(node.input[0])
        if node is not None and node.op_type == "Conv" and sole_reader(node):
            targets.append(node)
    done = []
    replaced: set[str] = set()
    for node in targets:
        a = attributes(node)
        if not constant_weights(node, inits):
            continue
        w = numpy_helper.to_array(inits[node.input[1]])
        if w.ndim != 4 or w.shape[2] != w.shape[3] or w.shape[2] % 2 == 0 or w.shape[0] >= CHANNEL_BLOCK:
            continue
        if int(a.get("group", 1)) != 1 or any(int(v) != 1 for v in a.get("strides", [1, 1])) \
                or any(int(v) != 1 for v in a.get("dilations", [1, 1])) or any(int(v) for v in a.get("pads", [])) \
                or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            continue
        o, c, k, _ = w.shape
        n = k // 2 + 1
        kernel = np.zeros((2, 2, o, 2, 2, c, n, n), dtype=w.dtype)  # [a, b, o, p, q, c, ty, tx]
        for ra in range(2):
            for rb in range(2):
                for p in range(2):
                    for q in range(2):
                        for ty in range(n):
                            ky = 2 * ty + p - ra
                            if not 0 <= ky < k:
                                continue
                            for tx in range(n):
                                kx = 2 * tx + q - rb
                                if 0 <= kx < k:
                                    kernel[ra, rb, :, p, q, :, ty, tx] = w[:, :, ky, kx]
        stem = f"{node.name or node.output[0]}_s2d"
        graph.initializer.append(numpy_helper.from_array(kernel.reshape(4 * o, 4 * c, n, n), f"{stem}_weight"))
        inputs = [f"{stem}_blocks", f"{stem}_weight"]
        if len(node.input) > 2 and node.input[2]:
            bias = numpy_helper.to_array(inits[node.input[2]])
            graph.initializer.append(numpy_helper.from_array(np.tile(bias, 4), f"{stem}_bias"))
            inputs.append(f"{stem}_bias")
        at = list(graph.node).index(node)
        new = [helper.make_node("SpaceToDepth", [node.input[0]], [f"{stem}_blocks"], name=f"{stem}_blocks",
                                blocksize=2),
               helper.make_node("Conv", inputs, [f"{stem}_phases"], name=node.name or stem, kernel_shape=[n, n]),
               helper.make_node("DepthToSpace", [f"{stem}_phases"], list(node.output), name=f"{stem}_interleave",
                                blocksize=2, mode="DCR")]
        graph.node.remove(node)
        for i, made in enumerate(new):
            graph.node.insert(at + i, made)
        done.append(node.name)
        replaced.update(node.input[1:])
    drop_replaced_initializers(graph, replaced)
    return done


def _weights_off_zero(model: Any) -> int:
    """Move symmetric per-channel int8 convolution weights to zero point -1; returns how many."""
    import numpy as np
    from onnx import numpy_helper

    from gantrans.onnx_edit import consumers

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    readers = consumers(graph)
    feeds_conv = {name for node in graph.node if node.op_type in ("Conv", "ConvTranspose") for name in node.input}
    count = 0
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or len(node.input) < 3 or node.output[0] not in feeds_conv:
            continue
        q_name, zp_name = node.input[0], node.input[2]
        if q_name not in inits or zp_name not in inits or len(readers[q_name]) != 1 or len(readers[zp_name]) != 1:
            continue
        q, zp = numpy_helper.to_array(inits[q_name]), numpy_helper.to_array(inits[zp_name])
        if q.dtype != np.int8 or zp.dtype != np.int8 or zp.any() or q.min() < -127:
            continue
        inits[q_name].CopyFrom(numpy_helper.from_array((q.astype(np.int16) - 1).astype(np.int8), q_name))
        inits[zp_name].CopyFrom(numpy_helper.from_array(np.full(zp.shape, -1, np.int8), zp_name))
        count += 1
    return count


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gantrans" / "cpu-tuned"


def _tuned_in_child(path: Path, done: list[str] | None) -> bytes | None:
    """:func:`tuned_model_bytes` computed by ``python -m gantrans.inference.cpu_tuning`` and cached
    by the file's identity (path, size, modification time), the CPU's AMX and the rewrite's version."""
    try:
        st = path.stat()
    except OSError:
        return None
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{has_amx_int8()}|{TUNING_VERSION}"
                         .encode()).hexdigest()[:32]
    folder = cache_dir()
    model, note = folder / f"{key}.onnx", folder / f"{key}.json"
    try:
        applied = json.loads(note.read_text(encoding="utf-8"))
        data = model.read_bytes() if applied else None
    except (OSError, ValueError):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run([sys.executable, "-m", __name__, str(path), str(model)],
                                  capture_output=True, text=True, timeout=600)
            applied = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            applied = None
        if not isinstance(applied, list):
            return None  # onnx missing or the file not readable: open it as it is
        data = model.read_bytes() if applied and model.is_file() else None
        if applied and data is None:
            return None
        try:
            note.write_text(json.dumps(applied), encoding="utf-8")  # written last: marks the entry complete
        except OSError:
            pass
        _prune(folder)
    if done is not None and data is not None:
        done.extend(str(x) for x in applied)
    return data


def _prune(folder: Path) -> None:
    try:
        notes = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in notes[CACHE_KEEP:]:
        for f in (old, old.with_suffix(".onnx")):
            try:
                f.unlink()
            except OSError:
                pass


def _main(argv: list[str]) -> int:
    """``python -m gantrans.inference.cpu_tuning MODEL OUT``: write the tuned model to OUT (when a
    change applies) and print the list of changes as JSON; exit 1 without the ``onnx`` package."""
    from gantrans.fileio import atomic_write

    try:
        data, applied = _tune_file(argv[0])
    except ImportError:
        return 1
    if data is not None:
        with atomic_write(argv[1]) as fh:
            fh.write(data)
    print(json.dumps(applied))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
