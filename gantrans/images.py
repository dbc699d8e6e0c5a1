"""Safe image loading and saving, shared by training and the torch-free inference engine.

Every file a user hands us is untrusted: it may be empty, truncated, mislabelled, a
decompression bomb, or not an image at all. :func:`load_image` turns each of those into one
:class:`~gantrans.errors.ImageError` naming the file and the problem, and never lets another
exception type escape, so callers (a data set skipping bad files, the GUI's batch translator)
only need one ``except``.

Policy decisions:

* **Lying extensions are refused.** A PNG named ``photo.jpg`` raises ``ImageError`` saying
  what the file really is and asking to rename it; a mislabelled file usually means a broken
  export or scraping step, and silently accepting it hides that. Files whose extension is not
  an image extension (``.dat``, none) are accepted when their content is a supported format.
* **Only PNG, JPEG (and MPO), WebP, BMP, TIFF and GIF are parsed**, so Pillow's more exotic
  (and less hardened) decoders never see user files.
* **The pixel limit** (:data:`DEFAULT_MAX_PIXELS`, or ``GANTRANS_MAX_PIXELS``, or
  ``max_pixels=``) is checked on the header size before decoding, and it is the one limit in
  force: Pillow's own (``PIL.Image.MAX_IMAGE_PIXELS``, 89 Mpx) is raised to it when it is set
  higher, and a bomb warning Pillow still gives is the same error with the same remedy.
* **EXIF orientation** is applied; unreadable EXIF is ignored (the pixels are still good), and
  Pillow's warnings about damaged metadata go to the debug log. (Python's warning filters are
  process-wide before 3.14, so a thread decoding at the same time shares that brief filter.)

This module imports numpy and Pillow only (no torch).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from gantrans.errors import DiskFullError, ImageError, PixelLimitError
from gantrans.fileio import discard, is_disk_full, publish, temp_path_for

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 16384 * 16384 // 4
"""Largest width x height accepted (67 Mpx); ``GANTRANS_MAX_PIXELS`` overrides it."""

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")

# What Pillow calls the formats behind each extension.
_FORMATS_BY_EXT: dict[str, frozenset[str]] = {
    ".png": frozenset({"PNG"}),
    ".jpg": frozenset({"JPEG", "MPO"}),
    ".jpeg": frozenset({"JPEG", "MPO"}),
    ".webp": frozenset({"WEBP"}),
    ".bmp": frozenset({"BMP", "DIB"}),
    ".tif": frozenset({"TIFF"}),
    ".tiff": frozenset({"TIFF"}),
    ".gif": frozenset({"GIF"}),
}
_ALLOWED_FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "BMP", "DIB", "TIFF", "GIF")
_EXT_FOR_FORMAT = {"PNG": ".png", "JPEG": ".jpg", "MPO": ".jpg", "WEBP": ".webp", "BMP": ".bmp",
                   "DIB": ".bmp", "TIFF": ".tif", "GIF": ".gif"}
_SAVE_FORMAT_BY_EXT = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
                       ".tif": "TIFF", ".tiff": "TIFF", ".gif": "GIF"}
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


@dataclass
class LoadedImage:
    """Decoded pixels plus what the inference engine needs to write a faithful result."""

    pixels: np.ndarray
    """H x W x C, uint8 (uint16 with ``keep_16bit`` and a 16-bit source); C = channels asked."""
    alpha: np.ndarray | None
    """H x W, same dtype as ``pixels``, when the source had transparency."""
    path: str | None
    source_mode: str
    """The PIL mode of the file (``RGB``, ``P``, ``I;16``, ``CMYK`` ...)."""
    bit_depth: int
    """8 or 16: the depth of the source samples (not of ``pixels``)."""
    frames: int = 1
    """Frames (pages) in the file; only the first is decoded (an animated GIF, a multi-page TIFF)."""

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as Pillow reports sizes."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


@dataclass(frozen=True)
class ImageInfo:
    """What the header says, without decoding the pixels."""

    path: str
    format: str
    mode: str
    width: int
    height: int
    quarter_turned: bool = False
    """Its EXIF orientation turns it a quarter turn, which :func:`load_image` applies."""

    @property
    def oriented_size(self) -> tuple[int, int]:
        """(width, height) as :func:`load_image` decodes it; ``width``/``height`` are as stored."""
        return (self.height, self.width) if self.quarter_turned else (self.width, self.height)

    @property
    def grey(self) -> bool:
        """A single-channel image (with or without alpha), as its mode says."""
        return self.mode in GREY_MODES


#: Pillow modes of single-channel images (bilevel, 8 and 16 bit, float; with or without alpha)
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})


def max_pixels_limit(max_pixels: int | None = None) -> int:
    """The pixel limit in force: the argument, else ``GANTRANS_MAX_PIXELS``, else the default."""
    if max_pixels is not None:
        return int(max_pixels)
    env = os.environ.get("GANTRANS_MAX_PIXELS", "").strip()
    if env:
        try:
            value = int(env.replace("_", ""))
        except ValueError:
            log.warning("GANTRANS_MAX_PIXELS=%r is not an integer; using %d", env, DEFAULT_MAX_PIXELS)
        else:
            if value > 0:
                return value
    return DEFAULT_MAX_PIXELS


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """True for names with an image extension; hidden files (macOS ``._x.jpg``) are not images."""
    name = os.path.basename(os.fspath(path))
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def iter_images(folder: str | os.PathLike[str], recursive: bool = True) -> Iterator[Path]:
    """Image files under ``folder`` in sorted order, skipping hidden files and folders: the files
    a data set is made of (the GUI's data panel lists the same ones)."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    subdirs = []
    for e in entries:
        if e.name.startswith("."):
            continue
        try:
            if e.is_dir():
                subdirs.append(e)
            elif is_image_file(e.name):
                yield Path(e.path)
        except OSError:
            continue
    if recursive:
        for d in subdirs:
            yield from iter_images(d.path, recursive=True)


# -- loading ------------------------------------------------------------------------------------

def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    text = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _sniff(head: bytes) -> str | None:
    """A human name for common non-image content, to make 'not an image' actionable."""
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "an HTML page (a failed download?)"
    if stripped.startswith(b"<svg") or (stripped.startswith(b"<?xml") and b"<svg" in stripped):
        return "an SVG vector image (convert it to PNG)"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "a HEIC/AVIF image, which gantrans does not read (convert it to PNG or JPEG)"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:64]):
        return "a text file"
    return None


_formats_ready: tuple[str, ...] | None = None


def _allowed_formats() -> tuple[str, ...]:
    """The allowed formats Pillow has plugins for (``Image.init`` registers MPO and DIB)."""
    global _formats_ready
    if _formats_ready is None:
        Image.init()
        _formats_ready = tuple(f for f in _ALLOWED_FORMATS if f in Image.OPEN)
    return _formats_ready


def _over_limit(path: str, size: str, limit: int) -> PixelLimitError:
    return PixelLimitError(f"{path}: {size} is over the limit of {limit} pixels (a decompression bomb?)")


def _open_checked(fp: Any, path: str, limit: int) -> Image.Image:
    """Open (header only), check the format against the extension and the size against the limit."""
    if Image.MAX_IMAGE_PIXELS is not None and limit > Image.MAX_IMAGE_PIXELS:
        # Pillow checks its own limit inside open(), before ours: only ever raised, process-wide,
        # so that GANTRANS_MAX_PIXELS really lets a large scan through.
        Image.MAX_IMAGE_PIXELS = limit
    try:
        im = Image.open(fp, formats=_allowed_formats())
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _over_limit(path, "the image", limit) from None
    except UnidentifiedImageError:
        fp.seek(0)
        what = _sniff(fp.read(512))
        if what:
            raise ImageError(f"{path}: not an image, it is {what}") from None
        raise ImageError(f"{path}: not an image gantrans can read (PNG, JPEG, WebP, BMP, TIFF or GIF), "
                         f"or its header is corrupt") from None
    ext = os.path.splitext(path)[1].lower()
    expected = _FORMATS_BY_EXT.get(ext)
    if expected is not None and im.format not in expected:
        real = _EXT_FOR_FORMAT.get(im.format or "", "")
        raise ImageError(f"{path}: the file is a {im.format} image but is named {ext}; "
                         f"rename it to {Path(path).stem}{real}")
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageError(f"{path}: the header declares an empty image ({width}x{height})")
    if width * height > limit:
        raise _over_limit(path, f"{width}x{height} = {width * height} pixels", limit)
    return im


def _split_modes(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Colour samples (H x W or H x W x 3) and alpha (H x W or None), uint8 or uint16."""
    mode = im.mode
    has_transparency = "transparency" in im.info
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im).astype(np.uint16), None
    if mode == "I":
        return np.clip(np.asarray(im), 0, 65535).astype(np.uint16), None
    if mode == "F":
        arr = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        if arr.size and float(arr.max()) <= 1.0:
            arr = arr * 65535.0
        return np.clip(np.rint(arr), 0, 65535).astype(np.uint16), None
    if mode == "1":
        return np.asarray(im.convert("L")), None
    if mode == "L":
        if has_transparency:
            la = np.asarray(im.convert("LA"))
            return la[..., 0].copy(), la[..., 1].copy()
        return np.asarray(im), None
    if mode in ("LA", "La"):
        la = np.asarray(im.convert("LA"))
        return la[..., 0].copy(), la[..., 1].copy()
    if mode == "RGB" and not has_transparency:
        return np.asarray(im), None
    if mode in ("RGBA", "RGBa", "PA") or has_transparency:
        rgba = np.asarray(im.convert("RGBA"))
        return rgba[..., :3].copy(), rgba[..., 3].copy()
    # P without transparency, RGBX, CMYK, YCbCr, LAB, HSV, ...
    return np.asarray(im.convert("RGB")), None


def _to_channels(color: np.ndarray, alpha: np.ndarray | None, channels: int) -> np.ndarray:
    full = np.iinfo(color.dtype).max
    if channels == 1:
        if color.ndim == 3:  # ITU-R 601 luma, as Pillow's convert("L")
            luma = color[..., 0] * 0.299 + color[..., 1] * 0.587 + color[..., 2] * 0.114
            color = np.clip(np.rint(luma), 0, full).astype(color.dtype)
        return color[..., None]
    rgb = color if color.ndim == 3 else np.repeat(color[..., None], 3, axis=2)
    if channels == 3:
        return np.ascontiguousarray(rgb)
    a = alpha if alpha is not None else np.full(rgb.shape[:2], full, dtype=rgb.dtype)
    return np.concatenate([rgb, a[..., None]], axis=2)


def _to_8bit(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    return ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _decode(path: str, channels: int, limit: int, keep_16bit: bool) -> LoadedImage:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied") from None
    if os.path.isdir(path):
        raise ImageError(f"{path}: is a folder, not an image file")
    if st.st_size == 0:
        raise ImageError(f"{path}: the file is empty (0 bytes)")
    try:
        fp = open(path, "rb")  # noqa: SIM115 - closed below, Pillow reads lazily
    except PermissionError:
        raise ImageError(f"{path}: permission denied (cannot read the file)") from None
    with fp, warnings.catch_warnings(record=True) as caught:
        # Pillow's bomb warning must stop us, never scroll by; its metadata complaints about
        # damaged files ("Corrupt EXIF data") go to the debug log instead of the console.
        warnings.simplefilter("always")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        im = _open_checked(fp, path, limit)
        source_mode = im.mode
        frames = int(getattr(im, "n_frames", 1) or 1)
        try:
            im.seek(0)  # GIF / multi-page TIFF: the first frame
        except EOFError:
            pass
        try:
            im.load()
        except OSError as exc:
            msg = _one_line(exc)
            kind = "truncated" if "truncated" in msg.lower() else "corrupt"
            raise ImageError(f"{path}: the image data is {kind} ({msg})") from None
        try:
            im = ImageOps.exif_transpose(im)
        except Exception as exc:  # noqa: BLE001 - bad EXIF does not spoil good pixels
            log.debug("%s: ignoring unreadable EXIF orientation (%s)", path, _one_line(exc))
        color, alpha = _split_modes(im)
    for w in caught:
        log.debug("%s: %s", path, w.message)
    bit_depth = 16 if color.dtype == np.uint16 else 8
    if not keep_16bit:
        color = _to_8bit(color)
        alpha = None if alpha is None else _to_8bit(alpha)
    elif alpha is not None and alpha.dtype != color.dtype:
        alpha = alpha.astype(np.uint16) * 257 if color.dtype == np.uint16 else _to_8bit(alpha)
    pixels = _to_channels(color, alpha, channels)
    return LoadedImage(pixels=pixels, alpha=alpha, path=path, source_mode=source_mode, bit_depth=bit_depth,
                       frames=frames)


def load_image(path: str | os.PathLike[str], channels: int = 3, *, max_pixels: int | None = None,
               keep_16bit: bool = False) -> LoadedImage:
    """Decode an image file into ``channels`` (1, 3 or 4) channels, or raise :class:`ImageError`.

    No other exception type escapes for anything about the file (a ``ValueError`` for a
    ``channels`` value other than 1, 3 or 4 is a programming error and is raised as such).
    """
    if channels not in (1, 3, 4):
        raise ValueError(f"channels must be 1, 3 or 4, not {channels!r}")
    spath = os.fspath(path)
    limit = max_pixels_limit(max_pixels)
    try:
        return _decode(spath, channels, limit, keep_16bit)
    except ImageError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageError(f"{spath}: refused as a decompression bomb ({_one_line(exc)})") from None
    except MemoryError:
        raise ImageError(f"{spath}: not enough memory to decode this image") from None
    except RecursionError:
        raise ImageError(f"{spath}: corrupt image (the decoder recursed too deep)") from None
    except Exception as exc:  # noqa: BLE001 - plugins raise OSError, SyntaxError, struct.error, ...
        raise ImageError(f"{spath}: corrupt or unreadable image ({_one_line(exc)})") from None


#: EXIF orientations (the tag's values) that turn an image a quarter turn: its sides swap
QUARTER_TURNS = frozenset({5, 6, 7, 8})
# the formats whose orientation load_image applies (Pillow gives a TIFF's size turned already)
_EXIF_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP"})


def _quarter_turned(im: Image.Image, path: str) -> bool:
    """Whether ``im``'s EXIF orientation turns it a quarter turn, from the header alone (the base
    class's ``getexif``: a PNG's own would decode the image); unreadable EXIF turns nothing, as
    :func:`load_image` ignores it too."""
    if im.format not in _EXIF_FORMATS:
        return False
    try:
        return Image.Image.getexif(im).get(ExifTags.Base.Orientation, 1) in QUARTER_TURNS
    except Exception as exc:  # noqa: BLE001 - bad EXIF does not spoil good pixels
        log.debug("%s: ignoring unreadable EXIF orientation (%s)", path, _one_line(exc))
        return False


def probe_image(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> ImageInfo:
    """Read the header only (format, mode, size) and apply the same checks as :func:`load_image`.

    Cheap enough to validate a whole data set up front; a file that passes may still be
    truncated further in, which only a full decode can tell.
    """
    spath = os.fspath(path)
    limit = max_pixels_limit(max_pixels)
    try:
        if os.path.isdir(spath):
            raise ImageError(f"{spath}: is a folder, not an image file")
        if os.path.getsize(spath) == 0:
            raise ImageError(f"{spath}: the file is empty (0 bytes)")
        with open(spath, "rb") as fp, warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = _open_checked(fp, spath, limit)
            w, h = im.size
            return ImageInfo(path=spath, format=str(im.format), mode=im.mode, width=w, height=h,
                             quarter_turned=_quarter_turned(im, spath))
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{spath}: no such file") from None
    except PermissionError:
        raise ImageError(f"{spath}: permission denied") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageError(f"{spath}: refused as a decompression bomb ({_one_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001
        raise ImageError(f"{spath}: corrupt or unreadable image ({_one_line(exc)})") from None


def image_to_float(img: LoadedImage) -> np.ndarray:
    """float32 H x W x C in [0, 1], whatever the stored depth."""
    scale = 65535.0 if img.pixels.dtype == np.uint16 else 255.0
    return img.pixels.astype(np.float32) / np.float32(scale)


# -- saving -------------------------------------------------------------------------------------

def _as_integer_image(array: Any) -> np.ndarray:
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(f"cannot save an array of shape {arr.shape}; expected H x W x 1, 3 or 4")
    if arr.dtype in (np.uint8, np.uint16):
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr.astype(np.float32), nan=0.0)
        return np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    raise ImageError(f"cannot save an array of dtype {arr.dtype}; use uint8, uint16 or float in [0, 1]")


_said_8bit: list[str] = []  # the 16-to-8-bit warning, once a process: a folder of 16-bit scans is one line


def _to_pil(arr: np.ndarray, fmt: str, dest: str) -> Image.Image:
    if arr.dtype == np.uint16:
        if arr.ndim == 2 and fmt in ("PNG", "TIFF"):
            return Image.fromarray(np.ascontiguousarray(arr))  # mode I;16
        if not _said_8bit:
            _said_8bit.append(dest)
            why = "Pillow writes 16 bits for greyscale PNG/TIFF only" if fmt in ("PNG", "TIFF") else \
                f"{fmt} holds 8 bits"
            log.warning("%s: written with 8 bits per channel from 16-bit pixels (%s); other such files are "
                        "not named", dest, why)
        arr = _to_8bit(arr)
    if arr.ndim == 3 and arr.shape[2] == 4 and fmt == "JPEG":
        log.warning("%s: JPEG has no transparency; the alpha channel is dropped", dest)
        arr = arr[..., :3]
    return Image.fromarray(np.ascontiguousarray(arr))


def save_image(array: Any, path: str | os.PathLike[str], *, alpha: Any = None, format: str | None = None,
               quality: int = 95, overwrite: bool = False) -> None:
    """Write an image atomically (temporary file, then rename); never replaces a file unless asked.

    ``array`` is H x W (x 1, 3 or 4), uint8, uint16 or float in [0, 1]; ``alpha`` (H x W) is
    attached as a fourth channel. 16-bit data is kept for greyscale PNG/TIFF and reduced to 8
    bits otherwise (Pillow writes no 16-bit colour). Parent folders are created.
    """
    dest = os.fspath(path)
    ext = os.path.splitext(dest)[1].lower()
    fmt = (format or _SAVE_FORMAT_BY_EXT.get(ext, "")).upper()
    if fmt == "JPG":
        fmt = "JPEG"
    if fmt not in ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF"):
        raise ImageError(f"{dest}: cannot tell the image format from the extension '{ext}'; "
                         f"use one of {', '.join(IMAGE_EXTENSIONS)}")
    arr = _as_integer_image(array)
    if alpha is not None:
        a = _as_integer_image(alpha)
        if a.ndim != 2 or a.shape != arr.shape[:2]:
            raise ImageError(f"{dest}: alpha of shape {a.shape} does not match the image {arr.shape[:2]}")
        if arr.ndim == 3 and arr.shape[2] == 4:
            raise ImageError(f"{dest}: the image already has 4 channels; cannot attach another alpha")
        if a.dtype != arr.dtype:
            a = _to_8bit(a) if arr.dtype == np.uint8 else a.astype(np.uint16) * 257
        grey = arr if arr.ndim == 2 else arr[..., 0] if arr.shape[2] == 1 else None
        if grey is not None and fmt in ("PNG", "TIFF"):  # grey with alpha stays so (a greyscale model's LA input)
            arr = np.stack([grey, a], axis=2)
        else:
            rgb = arr if grey is None else np.repeat(grey[..., None], 3, axis=2)
            arr = np.concatenate([rgb, a[..., None]], axis=2)
    if os.path.isdir(dest):  # not even --overwrite replaces a folder
        raise ImageError(f"{dest}: a folder stands where the image would go; rename it, or write elsewhere")
    if not overwrite and os.path.lexists(dest):
        raise ImageError(f"{dest}: already exists; not overwriting it")
    try:
        im = _to_pil(arr, fmt, dest)
        tmp = temp_path_for(dest)
    except OSError as exc:
        raise ImageError(f"{dest}: cannot write here ({_os_reason(exc)})") from None
    try:
        with open(tmp, "wb") as fh:
            kwargs: dict[str, Any] = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
            im.save(fh, format=fmt, **kwargs)
        publish(tmp, dest, overwrite=overwrite)
    except FileExistsError:
        raise ImageError(f"{dest}: already exists; not overwriting it") from None
    except Exception as exc:  # noqa: BLE001
        if is_disk_full(exc):
            raise DiskFullError(dest) from None
        raise ImageError(f"{dest}: cannot write the image ({_os_reason(exc)})") from None
    finally:
        discard(tmp)


def _os_reason(exc: BaseException) -> str:
    """An OS error's reason without the file names in it (ours would be the hidden temporary file)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return _one_line(exc)


