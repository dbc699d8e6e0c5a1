"""gantrans.images: decoding every supported kind of file, refusing bad ones, saving safely."""

from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from gantrans.errors import ImageError
from gantrans.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    LoadedImage,
    image_to_float,
    is_image_file,
    load_image,
    max_pixels_limit,
    probe_image,
    save_image,
)


def _rgb(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _smooth_rgb(h: int = 24, w: int = 32) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2)], -1).astype(np.uint8)


@pytest.fixture
def rgb() -> np.ndarray:
    return _rgb()


# -- supported files ------------------------------------------------------------------------------

@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".webp"])
def test_lossless_formats_round_trip_exactly(tmp_path, rgb, ext):
    path = tmp_path / f"img{ext}"
    Image.fromarray(rgb).save(path, **({"lossless": True} if ext == ".webp" else {}))
    img = load_image(path)
    assert isinstance(img, LoadedImage)
    assert img.pixels.dtype == np.uint8 and img.pixels.shape == (24, 32, 3)
    assert np.array_equal(img.pixels, rgb)
    assert img.alpha is None and img.bit_depth == 8 and img.source_mode == "RGB"
    assert img.path == str(path) and img.size == (32, 24)


def test_jpeg_decodes_close_to_the_source(tmp_path):
    src = _smooth_rgb()
    Image.fromarray(src).save(tmp_path / "a.jpg", quality=95)
    img = load_image(tmp_path / "a.jpg")
    assert np.abs(img.pixels.astype(int) - src).mean() < 4


def test_gif_first_frame_of_an_animation(tmp_path):
    frames = [Image.new("RGB", (16, 12), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    img = load_image(tmp_path / "anim.gif")
    assert img.source_mode == "P"
    assert img.pixels.shape == (12, 16, 3)
    assert tuple(img.pixels[5, 5]) == (255, 0, 0)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_channel_conversion_shapes(tmp_path, rgb, channels):
    Image.fromarray(rgb).save(tmp_path / "a.png")
    px = load_image(tmp_path / "a.png", channels).pixels
    assert px.shape == (24, 32, channels) and px.dtype == np.uint8
    if channels == 4:
        assert (px[..., 3] == 255).all() and np.array_equal(px[..., :3], rgb)
    if channels == 1:  # same luma as Pillow, within rounding
        expected = np.asarray(Image.fromarray(rgb).convert("L")).astype(int)
        assert np.abs(px[..., 0].astype(int) - expected).max() <= 1


def test_grayscale_to_rgb_repeats_the_channel(tmp_path):
    gray = _rgb()[..., 0]
    Image.fromarray(gray).save(tmp_path / "g.png")
    img = load_image(tmp_path / "g.png", 3)
    assert img.source_mode == "L"
    for c in range(3):
        assert np.array_equal(img.pixels[..., c], gray)


def test_rgba_keeps_alpha_aside(tmp_path, rgb):
    alpha = np.tile(np.arange(32, dtype=np.uint8) * 8, (24, 1))
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png", 3)
    assert img.pixels.shape == (24, 32, 3) and np.array_equal(img.pixels, rgb)
    assert img.alpha is not None and np.array_equal(img.alpha, alpha)
    assert np.array_equal(load_image(tmp_path / "a.png", 4).pixels[..., 3], alpha)


def test_la_and_palette_transparency(tmp_path, rgb):
    Image.fromarray(rgb).convert("LA").save(tmp_path / "la.png")
    la = load_image(tmp_path / "la.png", 1)
    assert la.source_mode == "LA" and la.alpha is not None and la.pixels.shape == (24, 32, 1)
    pal = Image.new("P", (10, 8), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.paste(1, (0, 0, 5, 8))
    pal.save(tmp_path / "p.png", transparency=0)
    img = load_image(tmp_path / "p.png", 3)
    assert img.source_mode == "P" and img.alpha is not None
    assert (img.alpha[:, :5] == 255).all() and (img.alpha[:, 5:] == 0).all()
    assert tuple(img.pixels[0, 0]) == (255, 0, 0)


def test_cmyk_and_bilevel_become_rgb(tmp_path, rgb):
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg")
    img = load_image(tmp_path / "c.jpg")
    assert img.source_mode == "CMYK" and img.pixels.shape == (24, 32, 3)
    Image.fromarray(rgb).convert("1").save(tmp_path / "b.png")
    bw = load_image(tmp_path / "b.png", 1)
    assert set(np.unique(bw.pixels)) <= {0, 255}


def test_16_bit_grayscale(tmp_path):
    v = (np.arange(20 * 30, dtype=np.uint32).reshape(20, 30) * 109 % 65536).astype(np.uint16)
    Image.fromarray(v).save(tmp_path / "g16.png")
    kept = load_image(tmp_path / "g16.png", 1, keep_16bit=True)
    assert kept.bit_depth == 16 and kept.pixels.dtype == np.uint16
    assert np.array_equal(kept.pixels[..., 0], v)
    eight = load_image(tmp_path / "g16.png", 3)
    assert eight.bit_depth == 16 and eight.pixels.dtype == np.uint8
    assert np.array_equal(eight.pixels[..., 1], np.rint(v / 257).astype(np.uint8))
    f = image_to_float(kept)
    assert f.dtype == np.float32 and np.allclose(f[..., 0], v / 65535.0)


def test_exif_orientation_is_applied(tmp_path):
    src = np.zeros((20, 40, 3), np.uint8)
    src[:, :20] = (255, 0, 0)  # left red, right blue
    src[:, 20:] = (0, 0, 255)
    im = Image.fromarray(src)
    exif = im.getexif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    im.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    px = load_image(tmp_path / "rot.jpg").pixels
    assert px.shape == (40, 20, 3)
    assert px[5, 10, 0] > 200 and px[5, 10, 2] < 60  # the left half is now on top
    assert px[35, 10, 2] > 200


def test_image_to_float_range(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "a.png")
    f = image_to_float(load_image(tmp_path / "a.png"))
    assert f.dtype == np.float32 and f.min() >= 0 and f.max() <= 1
    assert np.allclose(f * 255, rgb)


def test_is_image_file():
    assert IMAGE_EXTENSIONS == (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
    for name in ("a.png", "b.JPG", "dir/c.jpeg", "d.webp", "e.bmp", "f.TIF", "g.tiff", "h.gif"):
        assert is_image_file(name), name
    for name in ("a.txt", "png", "a.png.bak", "._a.jpg", ".hidden.png", "a.svg"):
        assert not is_image_file(name), name


def test_probe_reads_the_header_only(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "a.png")
    info = probe_image(tmp_path / "a.png")
    assert (info.format, info.mode, info.width, info.height) == ("PNG", "RGB", 32, 24)
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    probe_image(tmp_path / "t.png")  # the header is fine; only decoding finds the truncation
    with pytest.raises(ImageError, match="truncated"):
        load_image(tmp_path / "t.png")


def test_torch_free():
    code = ("import sys, gantrans.images, gantrans.data, gantrans.data.formats, gantrans.data.builtin, "
            "gantrans_plugins.datasets; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- refused files --------------------------------------------------------------------------------

def _png_with_size(width: int, height: int) -> bytes:
    """A valid-looking PNG header declaring ``width`` x ``height`` (no pixel data to speak of)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    out = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = b"IDAT" + zlib.compress(b"\x00" * 64)
    out += struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat))
    return out + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))


def _refusal(path: Path, **kwargs) -> str:
    with pytest.raises(ImageError) as info:
        load_image(path, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_missing_file_and_directory(tmp_path):
    assert "no such file" in _refusal(tmp_path / "missing.png")
    (tmp_path / "dir.png").mkdir()
    assert "folder" in _refusal(tmp_path / "dir.png")


def test_empty_file(tmp_path):
    (tmp_path / "e.png").write_bytes(b"")
    assert "empty" in _refusal(tmp_path / "e.png")


@pytest.mark.parametrize("ext,save", [(".png", {}), (".jpg", {"quality": 90}), (".gif", {}), (".webp", {})])
def test_truncated_files(tmp_path, ext, save):
    buf = io.BytesIO()
    Image.fromarray(_rgb(48, 48)).save(buf, format=Image.registered_extensions()[ext], **save)
    data = buf.getvalue()
    path = tmp_path / f"t{ext}"
    path.write_bytes(data[: len(data) * 2 // 3])
    msg = _refusal(path)
    assert "truncated" in msg or "corrupt" in msg


def test_not_an_image(tmp_path):
    (tmp_path / "page.jpg").write_text("<!DOCTYPE html><html><body>403 Forbidden</body></html>")
    assert "HTML" in _refusal(tmp_path / "page.jpg")
    (tmp_path / "notes.png").write_text("just some text\n")
    assert "not an image" in _refusal(tmp_path / "notes.png")
    (tmp_path / "noise.png").write_bytes(bytes(random.Random(0).randrange(256) for _ in range(300)))
    assert "not an image" in _refusal(tmp_path / "noise.png")


def test_extension_that_lies_is_refused_and_says_what_it_is(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "photo.jpg", format="PNG")
    msg = _refusal(tmp_path / "photo.jpg")
    assert "PNG" in msg and "photo.png" in msg
    Image.fromarray(rgb).save(tmp_path / "photo.png", format="JPEG")
    assert "JPEG" in _refusal(tmp_path / "photo.png")
    # an extension that makes no claim is judged by the content
    Image.fromarray(rgb).save(tmp_path / "blob.dat", format="PNG")
    assert load_image(tmp_path / "blob.dat").pixels.shape == (24, 32, 3)


def test_unsupported_formats_are_not_parsed(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "x.ico", format="ICO")
    _refusal(tmp_path / "x.ico")


def test_pixel_limit_checked_before_decoding(tmp_path, rgb, monkeypatch):
    Image.fromarray(rgb).save(tmp_path / "a.png")
    assert "over the limit" in _refusal(tmp_path / "a.png", max_pixels=100)
    monkeypatch.setenv("GANTRANS_MAX_PIXELS", "500")
    assert max_pixels_limit() == 500
    _refusal(tmp_path / "a.png")
    monkeypatch.delenv("GANTRANS_MAX_PIXELS")
    assert max_pixels_limit() == DEFAULT_MAX_PIXELS == 16384 * 16384 // 4
    (tmp_path / "bomb.png").write_bytes(_png_with_size(9000, 9000))  # over our limit, under Pillow's
    assert "over the limit" in _refusal(tmp_path / "bomb.png")
    with pytest.raises(ImageError, match="over the limit"):
        probe_image(tmp_path / "bomb.png")


def test_gantrans_max_pixels_is_the_one_limit_pillows_included(tmp_path, monkeypatch):
    """A 144 Mpx scan is over Pillow's own 89 Mpx guard, which fires inside Image.open: refused
    with our remedy, and let through once GANTRANS_MAX_PIXELS is raised (it used to stay refused)."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored afterwards
    (tmp_path / "scan.png").write_bytes(_png_with_size(12000, 12000))
    for huge in (12000, int((Image.MAX_IMAGE_PIXELS * 3) ** 0.5)):  # over Pillow's warning / its error
        (tmp_path / "scan.png").write_bytes(_png_with_size(huge, huge))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            msg = _refusal(tmp_path / "scan.png")
        assert f"is over the limit of {DEFAULT_MAX_PIXELS} pixels (a decompression bomb?); raise " \
               "GANTRANS_MAX_PIXELS to accept it" in msg
        assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    (tmp_path / "scan.png").write_bytes(_png_with_size(12000, 12000))
    monkeypatch.setenv("GANTRANS_MAX_PIXELS", "200000000")
    assert (probe_image(tmp_path / "scan.png").width, Image.MAX_IMAGE_PIXELS) == (12000, 200000000)


def test_unreadable_permissions(tmp_path, rgb):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("running as root: file permissions do not stop reads")
    path = tmp_path / "locked.png"
    Image.fromarray(rgb).save(path)
    path.chmod(0)
    try:
        assert "permission" in _refusal(path)
    finally:
        path.chmod(0o644)


def test_bad_channels_is_a_programming_error(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "a.png")
    with pytest.raises(ValueError):
        load_image(tmp_path / "a.png", 2)


# -- fuzzing: every outcome is a LoadedImage or an ImageError --------------------------------------

def _seed_corpus() -> dict[str, bytes]:
    out = {}
    src = Image.fromarray(_smooth_rgb(20, 28))
    for ext, fmt, extra in ((".png", "PNG", {}), (".jpg", "JPEG", {"quality": 80}), (".gif", "GIF", {}),
                            (".webp", "WEBP", {}), (".bmp", "BMP", {}), (".tif", "TIFF", {"compression": "tiff_lzw"})):
        buf = io.BytesIO()
        src.save(buf, format=fmt, **extra)
        out[ext] = buf.getvalue()
    buf = io.BytesIO()
    src.convert("RGBA").save(buf, format="PNG")
    out[".rgba.png"] = buf.getvalue()
    return out


CORPUS = _seed_corpus()


def _mutate(data: bytes, rnd: random.Random) -> bytes:
    b = bytearray(data)
    op = rnd.randrange(5)
    if op == 0:  # bit flips
        for _ in range(rnd.randint(1, 8)):
            i = rnd.randrange(len(b))
            b[i] ^= 1 << rnd.randrange(8)
    elif op == 1:  # truncation
        b = b[: rnd.randrange(1, len(b))]
    elif op == 2:  # header garbage
        n = rnd.randint(1, 24)
        start = rnd.randrange(0, min(len(b), 64))
        b[start:start + n] = bytes(rnd.randrange(256) for _ in range(n))
    elif op == 3:  # huge numbers in the header (sizes, lengths)
        i = rnd.randrange(4, min(len(b), 48))
        b[i:i + 4] = b"\xff\xff\xff\x7f"
    else:  # duplicated or dropped block
        i, j = sorted(rnd.randrange(len(b)) for _ in range(2))
        b = b[:i] + b[j:] if rnd.random() < 0.5 else b[:j] + b[i:j] + b[j:]
    return bytes(b)


def _check(path: Path) -> None:
    try:
        for channels in (3, 1):
            out = load_image(path, channels)
            assert isinstance(out, LoadedImage)
            assert out.pixels.ndim == 3 and out.pixels.shape[2] == channels
    except ImageError as exc:
        assert "\n" not in str(exc)


def test_seeded_mutation_corpus(tmp_path):
    rnd = random.Random(1234)
    outcomes = {"ok": 0, "refused": 0}
    for n in range(420):
        key = list(CORPUS)[n % len(CORPUS)]
        path = tmp_path / f"m{n}{key[key.rfind('.'):]}"
        path.write_bytes(_mutate(CORPUS[key], rnd))
        try:
            load_image(path)
            outcomes["ok"] += 1
        except ImageError:
            outcomes["refused"] += 1
        _check(path)
        path.unlink()
    assert outcomes["ok"] > 0 and outcomes["refused"] > 0  # the mutator exercises both paths


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(CORPUS)), seed=st.integers(0, 2**32 - 1),
       cut=st.one_of(st.none(), st.integers(0, 2000)))
def test_hypothesis_fuzz(tmp_path, key, seed, cut):
    data = _mutate(CORPUS[key], random.Random(seed))
    if cut is not None:
        data = data[:cut]
    path = tmp_path / f"fuzz{key[key.rfind('.'):]}"
    path.write_bytes(data)
    _check(path)


# -- saving ---------------------------------------------------------------------------------------

def test_save_round_trip_and_never_overwrites(tmp_path, rgb):
    dest = tmp_path / "out" / "a.png"
    save_image(rgb, dest)
    assert np.array_equal(load_image(dest).pixels, rgb)
    before = dest.read_bytes()
    with pytest.raises(ImageError, match="already exists"):
        save_image(np.zeros_like(rgb), dest)
    assert dest.read_bytes() == before
    save_image(np.zeros_like(rgb), dest, overwrite=True)
    assert load_image(dest).pixels.max() == 0
    assert sorted(p.name for p in dest.parent.iterdir()) == ["a.png"]  # no temporary files left


def test_save_float_alpha_and_16_bit(tmp_path, rgb, caplog):
    f = rgb.astype(np.float32) / 255
    alpha = np.full(rgb.shape[:2], 128, np.uint8)
    save_image(f, tmp_path / "f.png", alpha=alpha)
    back = load_image(tmp_path / "f.png", 3)
    assert np.array_equal(back.pixels, rgb) and np.array_equal(back.alpha, alpha)
    v = (np.arange(600, dtype=np.uint32).reshape(20, 30) * 97 % 65536).astype(np.uint16)
    save_image(v, tmp_path / "g.png")
    assert np.array_equal(load_image(tmp_path / "g.png", 1, keep_16bit=True).pixels[..., 0], v)
    save_image(rgb, tmp_path / "a.jpg", alpha=alpha, quality=90)  # JPEG drops alpha
    assert load_image(tmp_path / "a.jpg").alpha is None
    assert f"{tmp_path / 'a.jpg'}: JPEG has no transparency; the alpha channel is dropped" in caplog.text
    assert "8 bits per channel" not in caplog.text  # the 16-bit greyscale PNG kept its 16 bits


def test_grey_with_alpha_is_written_grey_with_alpha(tmp_path):
    """A greyscale model's output of an LA image came out RGBA."""
    grey = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30)
    alpha = np.full((20, 30), 200, np.uint8)
    save_image(grey[..., None], tmp_path / "la.png", alpha=alpha)
    with Image.open(tmp_path / "la.png") as im:
        assert im.mode == "LA"
    back = load_image(tmp_path / "la.png", 1)
    assert np.array_equal(back.pixels[..., 0], grey) and np.array_equal(back.alpha, alpha)
    save_image(grey, tmp_path / "la.webp", alpha=alpha)  # a format without LA: RGBA, as before
    with Image.open(tmp_path / "la.webp") as im:
        assert im.mode == "RGBA"


def test_16_bit_colour_written_as_8_bit_is_said_once(tmp_path, caplog, monkeypatch):
    from gantrans import images

    monkeypatch.setattr(images, "_said_8bit", [])
    deep = (np.arange(20 * 30 * 3).reshape(20, 30, 3) * 37 % 65536).astype(np.uint16)
    save_image(deep, tmp_path / "c.png")
    save_image(deep, tmp_path / "d.png")
    assert load_image(tmp_path / "c.png", 3, keep_16bit=True).pixels.dtype == np.uint8
    assert caplog.text.count("8 bits per channel") == 1
    assert (f"{tmp_path / 'c.png'}: written with 8 bits per channel from 16-bit pixels (Pillow writes 16 bits for "
            f"greyscale PNG/TIFF only); other such files are not named") in caplog.text


def test_save_refusals(tmp_path, rgb):
    with pytest.raises(ImageError, match="extension"):
        save_image(rgb, tmp_path / "a.xyz")
    with pytest.raises(ImageError, match="shape"):
        save_image(np.zeros((4, 4, 2), np.uint8), tmp_path / "b.png")
    with pytest.raises(ImageError, match="alpha"):
        save_image(rgb, tmp_path / "c.png", alpha=np.zeros((3, 3), np.uint8))
    assert not list(tmp_path.iterdir())


def test_saving_where_a_folder_stands_says_so_without_our_temporary_file(tmp_path):
    (tmp_path / "out.png").mkdir()
    for overwrite in (False, True):
        with pytest.raises(ImageError, match=r"out.png: a folder stands where the image would go; rename it"):
            save_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "out.png", overwrite=overwrite)
    (tmp_path / "ro").write_text("a file, not a folder")
    with pytest.raises(ImageError) as err:
        save_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "ro" / "x.png")
    assert ".tmp" not in str(err.value) and str(err.value).startswith(f"{tmp_path / 'ro' / 'x.png'}: cannot write")
