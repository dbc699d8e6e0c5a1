"""The contract an exported ONNX model carries in ``metadata_props``.

Written by :mod:`gantrans.export`, read by :mod:`gantrans.inference` with onnxruntime alone —
so this module imports neither torch nor onnx. Besides the standard ONNX image keys
(``Image.BitmapPixelFormat``, ``Image.ColorSpaceGamma``, ``Image.NominalPixelRange``) one JSON
value under :data:`METADATA_KEY` holds everything gantrans needs to run the model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
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


def _string_entry(buf: bytes) -> tuple[str, str]:
    import io

    fh, key, value = io.BytesIO(buf), "", ""
    while fh.tell() < len(buf):
        tag = _read_varint(fh, "metadata entry")
        field_no, wire = tag >> 3, tag & 7
        if wire != 2:
            raise ValueError("malformed metadata entry")
        data = fh.read(_read_varint(fh, "metadata entry"))
        if field_no == _ENTRY_KEY:
            key = data.decode("utf-8", "replace")
        elif field_no == _ENTRY_VALUE:
            value = data.decode("utf-8", "replace")
    return key, value


def read_metadata_props(path: str | os.PathLike) -> dict[str, str]:
    """The ``metadata_props`` of an ``.onnx`` file, read without onnx or ONNX Runtime.

    Raises :class:`ModelError` naming the file when it is not a (complete) ONNX model.
    """
    props: dict[str, str] = {}
    seen_graph = False
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            while fh.tell() < size:
                tag = _read_varint(fh, "field tag")
                field_no, wire = tag >> 3, tag & 7
                if field_no == 0:
                    raise ValueError("field number 0")
                if wire == 0:
                    _read_varint(fh, "value")
                elif wire == 1:
                    fh.seek(8, os.SEEK_CUR)
                elif wire == 5:
                    fh.seek(4, os.SEEK_CUR)
                elif wire == 2:
                    length = _read_varint(fh, "length")
                    if fh.tell() + length > size:
                        raise ValueError("truncated file")
                    if field_no == _MODEL_METADATA_FIELD:
                        key, value = _string_entry(fh.read(length))
                        props[key] = value
                    else:
                        seen_graph |= field_no == _MODEL_GRAPH_FIELD
                        fh.seek(length, os.SEEK_CUR)
                else:
                    raise ValueError(f"unexpected wire type {wire}")
            if fh.tell() != size:
                raise ValueError("truncated file")
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ModelError(f"{path}: not an ONNX model ({exc}: damaged, cut short, or another kind of file); "
                         f"export or copy it again, or choose another file") from None
    if not seen_graph:
        raise ModelError(f"{path}: not an ONNX model (it holds no graph); export or copy it again, or choose "
                         f"another file")
    return props
