"""NumPy pixels <-> QImage, for showing what the engine computed and taking pasted images in.

The display copy is 8-bit (16-bit results are rounded for the screen only; saving uses the
engine's own pixels). Every QImage returned owns its memory (no view into a NumPy buffer that
could be freed under it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QImage

if TYPE_CHECKING:  # numpy is imported on first use, not at start-up
    import numpy as np


def to_display(pixels: np.ndarray, alpha: np.ndarray | None = None) -> QImage:
    """HxW(xC) uint8/uint16 (C in 1, 3, 4) plus optional HxW alpha to an 8-bit QImage."""
    import numpy as np

    arr = np.asarray(pixels)
    if arr.dtype == np.uint16:
        arr = ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if alpha is not None:
        a = np.asarray(alpha)
        if a.dtype == np.uint16:
            a = ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
        rgb = arr if arr.ndim == 3 else np.repeat(arr[:, :, None], 3, axis=2)
        arr = np.concatenate([rgb[:, :, :3], a.astype(np.uint8)[:, :, None]], axis=2)
    arr = np.ascontiguousarray(arr)
    h, w = arr.shape[:2]
    if arr.ndim == 2:
        fmt, bpl = QImage.Format.Format_Grayscale8, w
    elif arr.shape[2] == 3:
        fmt, bpl = QImage.Format.Format_RGB888, 3 * w
    elif arr.shape[2] == 4:
        fmt, bpl = QImage.Format.Format_RGBA8888, 4 * w
    else:
        raise ValueError(f"cannot show an image with {arr.shape[2]} channels")
    return QImage(arr.data, w, h, bpl, fmt).copy()


def from_qimage(image: QImage) -> tuple[np.ndarray, np.ndarray | None]:
    """A QImage (pasted, dropped as data) to HxWx3 uint8 pixels and an HxW alpha (None if opaque)."""
    import numpy as np

    img = image.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w = img.height(), img.width()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes())
    arr = buf.reshape(h, img.bytesPerLine())[:, : 4 * w].reshape(h, w, 4).copy()
    alpha = arr[:, :, 3]
    return np.ascontiguousarray(arr[:, :, :3]), (None if bool((alpha == 255).all()) else np.ascontiguousarray(alpha))


def loaded_from_qimage(image: QImage):
    """Pixels without a file (clipboard, dragged image data) as a ``LoadedImage`` and its cache key
    (a digest of the pixels: the same pasted image is the same source)."""
    import hashlib

    from gantrans.images import LoadedImage

    pixels, alpha = from_qimage(image)
    digest = hashlib.sha1(pixels.tobytes() + (alpha.tobytes() if alpha is not None else b"")).hexdigest()[:16]
    loaded = LoadedImage(pixels=pixels, alpha=alpha, path=None, source_mode="RGBA" if alpha is not None else "RGB",
                         bit_depth=8)
    return loaded, f"pasted:{digest}"


def qimage_rgb(image: QImage) -> np.ndarray:
    """HxWx3 uint8 of a QImage (what a test compares against engine output)."""
    return from_qimage(image)[0]


def translate_for_display(request, cancel=None, on_tile=None):
    """:func:`gantrans_gui.inference_jobs.translate` plus the QImage to show (in the worker:
    converting a large result takes a while, and a QImage may be made in any thread)."""
    from gantrans_gui.inference_jobs import translate

    outcome = translate(request, cancel, on_tile)
    outcome.display = to_display(outcome.result.pixels, outcome.result.alpha)
    return outcome


def load_for_display(path):
    """An image file as the engine reads it, with its QImage (both made in the worker)."""
    from gantrans_gui.inference_jobs import load_display_image

    image = load_display_image(path)
    return image, to_display(image.pixels, image.alpha)
