"""torch -> ONNX export of trained generators, int8 quantization, and import of reference checkpoints.

``export_run`` writes one ONNX file per export head with its :class:`gantrans.metadata.ModelContract`
in ``metadata_props``; ``import_reference`` turns a reference CycleGAN/pix2pix generator
state_dict into a run directory that ``export_run`` accepts. Imports are lazy so that
``import gantrans.export`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["export_run", "import_reference"]


def __getattr__(name: str) -> Any:
    if name == "export_run":
        from gantrans.export.run_export import export_run

        return export_run
    if name == "import_reference":
        from gantrans.export.reference_import import import_reference

        return import_reference
    raise AttributeError(name)
