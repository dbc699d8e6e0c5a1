"""Open an ``.onnx`` file and work out how to drive it.

A gantrans export carries its contract in ``metadata_props`` (:mod:`gantrans.metadata`). Any
other image-to-image model is probed: one 4-D float input makes it a translator, and the
documented defaults below apply unless the caller overrides them.

Defaults for a model without gantrans metadata: task ``translate``; channels from the input's
static channel dimension, else 3; value range ``-1,1`` (the CycleGAN/pix2pix convention; pass
``0,1`` for others); size multiple 1 (pass ``size_multiple`` for strided networks), or the fixed
size when the input's height and width are static; tiling ``discouraged`` (normalisation layers
are unknown), so it is used only when asked for (an image over the memory bound is refused with
:class:`~gantrans.inference.translate.TilingNeeded`, which says how to ask).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import onnxruntime as ort

from gantrans.errors import ConfigError, ModelError
from gantrans.inference.session import SESSIONS, SessionConfig, available_providers, resolve_providers
from gantrans.metadata import ModelContract, read_graph_io

FLOAT_TYPES = ("tensor(float)", "tensor(float16)", "tensor(double)")
INT_TYPES = ("tensor(int64)", "tensor(int32)")


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[Any, ...]  # ints for static dimensions, strings or None for dynamic ones
    type: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "type": self.type}


@dataclass
class Overrides:
    """Caller overrides for models without gantrans metadata (ignored fields stay None)."""

    value_range: tuple[float, float] | None = None
    channels: int | None = None
    size_multiple: int | None = None


def parse_value_range(text: str | Sequence[float]) -> tuple[float, float]:
    """``"-1,1"`` or ``"0,1"`` (also ``signed``/``unit``, or a pair) to a tuple."""
    if isinstance(text, str):
        text = {"signed": "-1,1", "unit": "0,1"}.get(text.strip().lower(), text)
        parts = text.replace(" ", "").split(",")
        try:
            lo, hi = (float(p) for p in parts)
        except ValueError:
            raise ConfigError(f"value range must look like '-1,1' or '0,1', not '{text}'") from None
    else:
        lo, hi = (float(v) for v in text)
    if not hi > lo:
        raise ConfigError(f"value range must be increasing, got {lo},{hi}")
    return lo, hi


@dataclass
class Model:
    """An opened model: its session, its contract and what was used to run it."""

    path: Path
    session: ort.InferenceSession
    contract: ModelContract
    has_metadata: bool
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    requested_providers: list[str]
    notes: list[str] = field(default_factory=list)
    #: What opening the session changed for the CPU (:mod:`gantrans.inference.cpu_tuning`).
    cpu_changes: list[str] = field(default_factory=list)

    @property
    def providers(self) -> list[str]:
        """The providers the session actually uses, best first."""
        return list(self.session.get_providers())

    @property
    def input_name(self) -> str:
        return self.inputs[0].name

    @property
    def output_name(self) -> str:
        return self.contract.output_names[0] if self.contract.output_names else self.outputs[0].name

    def run(self, feeds: dict[str, Any]) -> Any:
        return self.session.run([self.output_name], feeds)[0]

    def describe(self) -> dict[str, Any]:
        """Everything ``gantrans info`` shows, JSON-ready."""
        c = self.contract
        return {
            "path": str(self.path),
            "has_gantrans_metadata": self.has_metadata,
            "task": c.task,
            "direction": c.direction,
            "source_domain": c.source_domain,
            "target_domain": c.target_domain,
            "in_channels": c.in_channels,
            "out_channels": c.out_channels,
            "value_range": list(c.value_range),
            "min_size": c.min_size,
            "size_multiple": c.size_multiple,
            "fixed_size": c.fixed_size,
            "latent_size": c.latent_size,
            "class_names": list(c.class_names),
            "tiling": c.tiling,
            "tile_size": c.tile_size,
            "tile_overlap": c.tile_overlap,
            "provenance": dict(c.provenance),
            "schema_version": c.schema_version,
            "inputs": [t.as_dict() for t in self.inputs],
            "outputs": [t.as_dict() for t in self.outputs],
            "providers_available": available_providers(),
            "providers_requested": list(self.requested_providers),
            "providers_used": self.providers,
            "notes": list(self.notes),
        }


def _tensor_infos(nodes) -> list[TensorInfo]:
    return [TensorInfo(n.name, tuple(n.shape), n.type) for n in nodes]


def _static(dim: Any) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def probe_contract(path: Path, inputs: list[TensorInfo], outputs: list[TensorInfo],
                   overrides: Overrides) -> ModelContract:
    """A contract for a model without gantrans metadata, from its inputs and outputs."""
    out4 = [o for o in outputs if len(o.shape) == 4]
    if not out4:
        raise ModelError(f"{path}: no 4-D image output (outputs: "
                         f"{', '.join(f'{o.name}{list(o.shape)}' for o in outputs)}); not an image model")
    out = out4[0]
    float4 = [i for i in inputs if len(i.shape) == 4 and i.type in FLOAT_TYPES]
    vr = overrides.value_range or (-1.0, 1.0)
    out_ch = _static(out.shape[1]) or overrides.channels or 3
    if len(inputs) == 1 and float4:
        x = float4[0]
        in_ch = _static(x.shape[1])
        if overrides.channels is not None:
            if in_ch is not None and in_ch != overrides.channels:
                raise ConfigError(f"{path}: the model takes {in_ch} channels, not {overrides.channels}")
            in_ch = overrides.channels
        in_ch = in_ch or 3
        h, w = _static(x.shape[2]), _static(x.shape[3])
        fixed = h if (h is not None and h == w) else None
        if h is not None and h != w:
            raise ModelError(f"{path}: fixed non-square input {h}x{w} is not supported")
        return ModelContract(task="translate", in_channels=in_ch, out_channels=out_ch, value_range=vr,
                             size_multiple=overrides.size_multiple or 1, fixed_size=fixed,
                             tiling="discouraged", input_names=[x.name], output_names=[out.name],
                             provenance={"probed": True})
    floats2 = [i for i in inputs if len(i.shape) == 2 and i.type in FLOAT_TYPES]
    ints1 = [i for i in inputs if len(i.shape) == 1 and i.type in INT_TYPES]
    if floats2 and len(inputs) == 1 and _static(floats2[0].shape[1]):
        return ModelContract(task="generate", in_channels=0, out_channels=out_ch, value_range=vr,
                             latent_size=_static(floats2[0].shape[1]), input_names=[floats2[0].name],
                             output_names=[out.name], provenance={"probed": True})
    if floats2 and ints1 and len(inputs) == 2 and _static(floats2[0].shape[1]):
        return ModelContract(task="generate-conditional", in_channels=0, out_channels=out_ch, value_range=vr,
                             latent_size=_static(floats2[0].shape[1]),
                             input_names=[floats2[0].name, ints1[0].name], output_names=[out.name],
                             provenance={"probed": True})
    desc = ", ".join(f"{i.name}{list(i.shape)} {i.type}" for i in inputs)
    raise ModelError(f"{path}: cannot tell how to drive this model (inputs: {desc}); expected one 4-D float "
                     f"image input")


_SIZE_RULES: dict[tuple[Path, int, int], tuple[int, int] | None] = {}
_PROBE_SIDES = (33, 35)  # odd on purpose: a network that needs a multiple shows it on these


def probe_size_rule(path: Path, session: Any, image: TensorInfo, channels: int) -> tuple[int, int] | None:
    """``(size_multiple, min_size)`` of a translation model without metadata, found by running it:
    a strided network pads odd sides up to its multiple (the output is larger) or fails on them.
    None when it keeps any size, or changes sizes in a way no multiple explains. Cached per file."""
    try:
        st = path.stat()
        key = (path.resolve(), st.st_mtime_ns, st.st_size)
    except OSError:
        key = None
    if key is not None and key in _SIZE_RULES:
        return _SIZE_RULES[key]
    dtype = "float16" if image.type == "tensor(float16)" else "float32"
    import numpy as np

    from gantrans.inference.processing import round_up

    quiet = ort.RunOptions()
    quiet.log_severity_level = 4  # a size it refuses is an answer here, not an error to print

    def run(h: int, w: int) -> tuple[int, int] | None:
        try:
            out = session.run(None, {image.name: np.zeros((1, channels, h, w), dtype=dtype)}, quiet)[0]
        except Exception:  # noqa: BLE001 - a size the network cannot take
            return None
        return tuple(out.shape[2:]) if getattr(out, "ndim", 0) == 4 else None

    rule: tuple[int, int] | None = None
    h, w = _PROBE_SIDES
    got = run(h, w)
    if got is not None and got != (h, w):
        rule = next(((m, 1) for m in (2 ** k for k in range(1, 9)) if got == (round_up(h, m), round_up(w, m))), None)
    elif got is None:  # it cannot take odd sides: the smallest power of two whose odd multiples it takes
        for m in (2 ** k for k in range(1, 9)):
            side = m * (-(-32 // m) | 1)  # a multiple of m and of no larger power of two, 32 px or more
            if run(side, side) == (side, side):
                rule = (m, m)
                break
    if rule is not None or got is not None:
        # the smallest side it takes: a network that reflects its padding at the bottleneck needs a
        # few pixels there (a 4x4 input of a CycleGAN generator fails, an 8x8 one runs)
        m = rule[0] if rule else 1
        least = next((k * m for k in range(1, 64 // m + 1) if run(k * m, k * m) is not None), m)
        rule = (m, max(least, rule[1] if rule else 1))
        if rule == (1, 1):
            rule = None
    if key is not None:
        _SIZE_RULES[key] = rule
    return rule


def _require_io(path: Path, inputs: list[TensorInfo], outputs: list[TensorInfo]) -> None:
    if not inputs or not outputs:
        raise ModelError(f"{path}: the model has no inputs or no outputs")


def probe_file(path: str | os.PathLike) -> ModelContract:
    """What :func:`load_model` makes of a model without gantrans metadata, read from the file's
    declared inputs and outputs without a session, so a list of models can say which files are
    translators, which generators and which no image model at all before one is opened.

    Raises :class:`ModelError` (or :class:`ConfigError`) naming the file, as loading it would.
    """
    p = Path(path)
    declared_in, declared_out = read_graph_io(p)
    inputs = [TensorInfo(*t) for t in declared_in]
    outputs = [TensorInfo(*t) for t in declared_out]
    _require_io(p, inputs, outputs)
    return probe_contract(p, inputs, outputs, Overrides())


def load_model(path: str | os.PathLike, *, providers: Sequence[str] | None = None,
               threads: int | None = None, overrides: Overrides | None = None,
               config: SessionConfig | None = None) -> Model:
    """Open a model file through the session cache and resolve its contract."""
    p = Path(path)
    from gantrans.inference.not_onnx import explain

    what = explain(p)
    if what is not None:
        raise ModelError(what)
    if p.is_dir():
        raise ModelError(f"{p}: is a folder, not an .onnx model file")
    wanted = resolve_providers(providers)
    config = config or SessionConfig(threads=threads)
    notes: list[str] = []
    changes: list[str] = []
    session = SESSIONS.get(p, wanted, config, notes, changes)
    inputs, outputs = _tensor_infos(session.get_inputs()), _tensor_infos(session.get_outputs())
    _require_io(p, inputs, outputs)
    props = session.get_modelmeta().custom_metadata_map or {}
    contract = ModelContract.from_metadata_props(props, source=str(p))
    overrides = overrides or Overrides()
    if contract is None:
        contract = probe_contract(p, inputs, outputs, overrides)
        has_metadata = False
        if contract.task == "translate" and contract.fixed_size is None and overrides.size_multiple is None:
            image = next(i for i in inputs if i.name == contract.input_names[0])
            rule = probe_size_rule(p, session, image, contract.in_channels)
            if rule is not None:
                contract = replace(contract, size_multiple=rule[0], min_size=max(contract.min_size, rule[1]),
                                   provenance={**contract.provenance, "size_rule": "probed by running it"})
    else:
        has_metadata = True
        # The overrides describe models without metadata; one that contradicts the model's own
        # record would only give wrong colours or sizes, so it is refused, not obeyed.
        if overrides.value_range is not None and tuple(overrides.value_range) != tuple(contract.value_range):
            lo, hi = contract.value_range
            raise ConfigError(f"{p}: the model's metadata says its values range {lo:g}..{hi:g}; --value-range is "
                              f"for models without gantrans metadata, leave it out")
        if overrides.channels is not None and overrides.channels != contract.in_channels:
            raise ConfigError(f"{p}: the model takes {contract.in_channels} channels, not {overrides.channels}")
        if overrides.size_multiple is not None and contract.size_multiple % overrides.size_multiple:
            raise ConfigError(f"{p}: the model's metadata says its sides must be multiples of "
                              f"{contract.size_multiple}; --size-multiple is for models without gantrans metadata, "
                              f"leave it out")
        if not contract.input_names:
            contract = replace(contract, input_names=[i.name for i in inputs])
        missing = [n for n in contract.input_names if n not in {i.name for i in inputs}]
        if missing:
            raise ModelError(f"{p}: metadata names input(s) {', '.join(missing)} the graph does not have")
    # Order inputs as the contract names them, so ``inputs[0]`` is the image or z.
    order = {n: k for k, n in enumerate(contract.input_names)}
    inputs.sort(key=lambda t: order.get(t.name, len(order)))
    return Model(p, session, contract, has_metadata, inputs, outputs, wanted, notes, changes)


def int8_path(path: str | os.PathLike) -> Path:
    """``<model>.int8.onnx`` beside ``<model>.onnx``; an error naming it when it is missing."""
    p = Path(path)
    stem = p.name[:-5] if p.name.endswith(".onnx") else p.name
    q = p.with_name(f"{stem}.int8.onnx")
    if not q.is_file():
        raise ModelError(f"{q}: no int8 model beside {p.name} (make one with 'gantrans export --int8')")
    return q


__all__ = ["Model", "Overrides", "TensorInfo", "load_model", "int8_path", "parse_value_range",
           "probe_contract", "probe_file"]
