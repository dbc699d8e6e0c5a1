"""gantrans: GAN image-to-image translation — train, export to ONNX, translate.

Importing this package is cheap and torch-free: the inference path and the GUI import it
without pulling in torch. Plugin authors import :data:`hookimpl` from here.
"""

from gantrans.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
