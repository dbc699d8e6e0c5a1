"""The contract an exported ONNX model carries in ``metadata_props``.

Written by :mod:`gantrans.export`, read by :mod:`gantrans.inference` with onnxruntime alone —
so this module imports neither torch nor onnx. Besides the standard ONNX image keys
(``Image.BitmapPixelFormat``, ``Image.ColorSpaceGamma``, ``Image.NominalPixelRange``) one JSON
value under :data:`METADATA_KEY` holds everything gantrans needs to run the model.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from gantrans.errors import ModelError

METADATA_KEY = "gantrans"
SCHEMA_VERSION = 1
TASKS = ("translate", "generate", "generate-conditional")

_PIXEL_FORMAT = {1: "Gray8", 3: "Rgb8", 4: "Rgba8"}
_NOMINAL_RANGE = {(-1.0, 1.0): "Normalized_1_1", (0.0, 1.0): "Normalized_0_1", (0.0, 255.0): "NominalRange_0_255"}


@dataclass
class ModelContract:
    """Everything the inference side needs to pre- and post-process and describe a model.

    ``min_size``/``size_multiple`` give the spatial size rule (``fixed_size`` when the network
    only accepts one size); ``tiling`` is ``ok``, ``discouraged`` (instance norm: tiles change
    statistics) or ``unsupported``.
    """

    task: str
    in_channels: int
    out_channels: int
    value_range: tuple[float, float] = (-1.0, 1.0)
    direction: str | None = None
    source_domain: str | None = None
    target_domain: str | None = None
    min_size: int = 1
    size_multiple: int = 1
    fixed_size: int | None = None
    latent_size: int | None = None
    class_names: list[str] = field(default_factory=list)
    tiling: str = "ok"
    tile_size: int | None = None
    tile_overlap: int | None = None
    input_names: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ModelError(f"unknown task '{self.task}' in model metadata; known: {', '.join(TASKS)}")
        self.value_range = (float(self.value_range[0]), float(self.value_range[1]))

    def to_json(self) -> str:
        d = asdict(self)
        d["value_range"] = list(self.value_range)
        return json.dumps(d, sort_keys=True)

    def metadata_props(self) -> dict[str, str]:
        """The key/value pairs to store in the ONNX model's ``metadata_props``."""
        props = {METADATA_KEY: self.to_json()}
        if self.task == "translate" or self.out_channels in _PIXEL_FORMAT:
            props["Image.BitmapPixelFormat"] = _PIXEL_FORMAT.get(self.in_channels if self.task == "translate"
                                                                 else self.out_channels, "Rgb8")
            props["Image.ColorSpaceGamma"] = "SRGB"
            props["Image.NominalPixelRange"] = _NOMINAL_RANGE.get(self.value_range, "Normalized_1_1")
        return props

    @classmethod
    def from_metadata_props(cls, props: Mapping[str, str], source: str = "model") -> ModelContract | None:
        """Parse the contract; None when the model carries no gantrans metadata."""
        raw = props.get(METADATA_KEY)
        if raw is None:
            return None
        try:
            d = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{source}: gantrans metadata is not valid JSON ({exc.msg})") from None
        version = d.get("schema_version", 0)
        if version > SCHEMA_VERSION:
            raise ModelError(f"{source}: metadata schema {version} is newer than this gantrans understands "
                             f"({SCHEMA_VERSION}); upgrade gantrans")
        known = {f for f in cls.__dataclass_fields__}
        try:
            return cls(**{k: v for k, v in d.items() if k in known})
        except TypeError as exc:
            raise ModelError(f"{source}: incomplete gantrans metadata ({exc})") from None


# -- reading the contract without onnx or a session ------------------------------------------------
# A model library lists many files and must not build an ONNX Runtime session (hundreds of ms and
# the whole weight file in memory) just to show a card. ``ModelProto`` is a protobuf message whose
# ``metadata_props`` (field 14) sit beside the graph (field 7), so a reader that walks the top-level
# fields and seeks over the graph's bytes reads the contract of a 50 MB model in microseconds.
_MODEL_GRAPH_FIELD = 7
_MODEL_METADATA_FIELD = 14
_ENTRY_KEY, _ENTRY_VALUE = 1, 2


def _read_varint(fh, what: str) -> int:
    shift = result = 0
    while True:
        b = fh.read(1)
        if not b:
            raise ValueError(f"truncated {what}")
        result |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise ValueError(f"malformed {what}")


def _fields(fh, end: int) -> Iterator[tuple[int, int, Any]]:
    """The protobuf fields up to offset ``end``: ``(number, wire type, value)``.

    A varint's value is the int; a length-delimited field's is ``(offset, length)`` and the file is
    moved past it after the caller has looked (or not), so a 50 MB initializer is never read.
    """
    while fh.tell() < end:
        tag = _read_varint(fh, "field tag")
        field_no, wire = tag >> 3, tag & 7
        if field_no == 0:
            raise ValueError("field number 0")
        if wire == 0:
            yield field_no, wire, _read_varint(fh, "value")
        elif wire in (1, 5):
            fh.seek(8 if wire == 1 else 4, os.SEEK_CUR)
            yield field_no, wire, None
        elif wire == 2:
            length = _read_varint(fh, "length")
            at = fh.tell()
            if at + length > end:
                raise ValueError("truncated file")
            yield field_no, wire, (at, length)
            fh.seek(at + length)
        else:
            raise ValueError(f"unexpected wire type {wire}")
    if fh.tell() != end:
        raise ValueError("truncated file")


def _bytes_of(fh, where: tuple[int, int]) -> bytes:
    fh.seek(where[0])
    return fh.read(where[1])


def _string_entry(buf: bytes) -> tuple[str, str]:
    fh, key, value = io.BytesIO(buf), "", ""
    for field_no, wire, where in _fields(fh, len(buf)):
        if wire != 2:
            raise ValueError("malformed metadata entry")
        data = _bytes_of(fh, where)
        if field_no == _ENTRY_KEY:
            key = data.decode("utf-8", "replace")
        elif field_no == _ENTRY_VALUE:
            value = data.decode("utf-8", "replace")
    return key, value


@contextmanager
def _reading(path: str | os.PathLike) -> Iterator[Any]:
    """The open file; every way of failing to read it as ONNX becomes one :class:`ModelError`."""
    try:
        with open(path, "rb") as fh:
            yield fh
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ModelError(f"{path}: not an ONNX model ({exc}: damaged, cut short, or another kind of file); "
                         f"export or copy it again, or choose another file") from None


def _no_graph(path: str | os.PathLike) -> ModelError:
    return ModelError(f"{path}: not an ONNX model (it holds no graph); export or copy it again, or choose "
                      f"another file")


def read_metadata_props(path: str | os.PathLike) -> dict[str, str]:
    """The ``metadata_props`` of an ``.onnx`` file, read without onnx or ONNX Runtime.

    Raises :class:`ModelError` naming the file when it is not a (complete) ONNX model.
    """
    props: dict[str, str] = {}
    seen_graph = False
    with _reading(path) as fh:
        for field_no, wire, where in _fields(fh, os.fstat(fh.fileno()).st_size):
            if wire == 2 and field_no == _MODEL_METADATA_FIELD:
                key, value = _string_entry(_bytes_of(fh, where))
                props[key] = value
            seen_graph |= wire == 2 and field_no == _MODEL_GRAPH_FIELD
    if not seen_graph:
        raise _no_graph(path)
    return props


# GraphProto: initializer 5 (TensorProto, name 8), input 11, output 12 (ValueInfoProto: name 1,
# type 2 -> TypeProto.tensor_type 1 -> elem_type 1, shape 2 -> dim 1 -> dim_value 1 | dim_param 2).
_GRAPH_INITIALIZER, _GRAPH_INPUT, _GRAPH_OUTPUT, _TENSOR_NAME = 5, 11, 12, 8
#: ONNX TensorProto.DataType numbers, named as ONNX Runtime names them (``tensor(float)``).
ELEMENT_TYPES = {1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
                 8: "string", 9: "bool", 10: "float16", 11: "double", 12: "uint32", 13: "uint64",
                 16: "bfloat16"}

#: One declared graph input or output: name, shape (an int per static dimension, else the
#: dimension's name or None) and ONNX Runtime's type name.
DeclaredTensor = tuple[str, tuple[Any, ...], str]


def _message(buf: bytes) -> Iterator[tuple[int, int, Any, io.BytesIO]]:
    fh = io.BytesIO(buf)
    for field_no, wire, value in _fields(fh, len(buf)):
        yield field_no, wire, value, fh


def _declared(buf: bytes) -> DeclaredTensor:
    name, elem, dims, kind = "", 0, [], "not a tensor"
    for f, w, v, fh in _message(buf):
        if (f, w) == (1, 2):
            name = _bytes_of(fh, v).decode("utf-8", "replace")
        elif (f, w) == (2, 2):
            for tf, tw, tv, tfh in _message(_bytes_of(fh, v)):
                if (tf, tw) != (1, 2):
                    continue  # not a tensor (a sequence, a map): no element type or shape
                kind = "tensor"
                for ef, ew, ev, efh in _message(_bytes_of(tfh, tv)):
                    if (ef, ew) == (1, 0):
                        elem = ev
                    elif (ef, ew) == (2, 2):
                        for df, dw, dv, dfh in _message(_bytes_of(efh, ev)):
                            if (df, dw) == (1, 2):
                                dims.append(_dimension(_bytes_of(dfh, dv)))
    if kind != "tensor":
        return name, (), kind
    return name, tuple(dims), f"tensor({ELEMENT_TYPES.get(elem, f'type {elem}')})"


def _dimension(buf: bytes) -> Any:
    value: Any = None
    for f, w, v, fh in _message(buf):
        if (f, w) == (1, 0):
            value = v
        elif (f, w) == (2, 2):
            value = _bytes_of(fh, v).decode("utf-8", "replace")
    return value


def read_graph_io(path: str | os.PathLike) -> tuple[list[DeclaredTensor], list[DeclaredTensor]]:
    """The graph's declared inputs and outputs, read without onnx or ONNX Runtime.

    Inputs that are initializers (weights, listed as inputs by models of IR version 3) are left
    out, as ONNX Runtime leaves them out. Raises :class:`ModelError` as :func:`read_metadata_props`.
    """
    inputs: list[DeclaredTensor] = []
    outputs: list[DeclaredTensor] = []
    weights: set[str] = set()
    seen_graph = False
    with _reading(path) as fh:
        for field_no, wire, where in _fields(fh, os.fstat(fh.fileno()).st_size):
            if (field_no, wire) != (_MODEL_GRAPH_FIELD, 2):
                continue
            seen_graph = True
            for g, gw, gwhere in _fields(fh, where[0] + where[1]):
                if gw != 2:
                    continue
                if g in (_GRAPH_INPUT, _GRAPH_OUTPUT):
                    (inputs if g == _GRAPH_INPUT else outputs).append(_declared(_bytes_of(fh, gwhere)))
                elif g == _GRAPH_INITIALIZER:
                    for t, tw, twhere in _fields(fh, gwhere[0] + gwhere[1]):
                        if (t, tw) == (_TENSOR_NAME, 2):
                            weights.add(_bytes_of(fh, twhere).decode("utf-8", "replace"))
    if not seen_graph:
        raise _no_graph(path)
    return [i for i in inputs if i[0] not in weights], outputs
