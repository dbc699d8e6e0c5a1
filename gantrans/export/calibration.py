"""Images for int8 calibration and for measuring the quantized model on held-out inputs."""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gantrans.errors import ExportError, GantransError, ImageError
from gantrans.recipe import ExportHead
from gantrans.runs import data_path, read_config, usable_data

from .onnx_graph import round_up

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
MAX_CALIBRATION = 48
MAX_HELD_OUT = 8


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _domain_letter(head: ExportHead, data: Mapping[str, Any]) -> str:
    domains = list(data.get("domains") or ["A", "B"])
    if head.source_domain in domains:
        return "AB"[domains.index(head.source_domain)]
    return head.source_domain if head.source_domain in ("A", "B") else "A"


def data_root(run_dir: Path | None) -> Path | None:
    """The data set path recorded in a run's config.json, if it still exists."""
    config = read_config(run_dir)
    if config is None:
        return None
    data = config.get("data")
    path = data.get("path") if isinstance(data, Mapping) else data
    if not path:
        return None
    p = data_path(run_dir, path)
    return p if p.is_dir() else None


def find_images(root: Path, head: ExportHead, data: Mapping[str, Any]) -> tuple[list[Path], str | None, Path]:
    """Files of the head's source domain under ``root``, which half of side-by-side pairs to use, the folder.

    Unpaired layouts keep one folder per domain (``testA``, ``trainA`` ...); paired ``aligned``
    layouts store A|B side by side in one image, so the half matters.
    """
    letter = _domain_letter(head, data)
    for name in (f"test{letter}", f"val{letter}", f"train{letter}", letter):
        if (root / name).is_dir() and (files := _images_under(root / name)):
            return files, None, root / name
    files = _images_under(root)
    half = ("left" if letter == "A" else "right") if data.get("kind") == "paired" else None
    return files, half, root


def load_for(head: ExportHead, path: Path, size: int, half: str | None) -> np.ndarray:
    """One image as CHW float32 in [-1, 1]: resized (shorter side) and centre-cropped to ``size``."""
    from gantrans.images import image_to_float, load_image

    channels = head.in_channels if head.in_channels in (1, 3, 4) else 3
    arr = image_to_float(load_image(path, channels=channels))  # H x W x C in [0, 1]
    if half is not None and arr.shape[1] >= 2 * arr.shape[0] - 1:
        w = arr.shape[1] // 2
        arr = arr[:, :w] if half == "left" else arr[:, w:2 * w]
    h, w = arr.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    chans = [np.asarray(Image.fromarray(arr[..., c]).resize((nw, nh), Image.BICUBIC)) for c in range(arr.shape[2])]
    arr = np.stack(chans, axis=-1)
    top, left = (nh - size) // 2, (nw - size) // 2
    arr = np.clip(arr[top:top + size, left:left + size], 0.0, 1.0)
    if head.in_channels not in (1, 3, 4):
        raise ExportError(f"head '{head.name}': cannot calibrate a {head.in_channels}-channel input from image files")
    return (arr.transpose(2, 0, 1) * 2.0 - 1.0).astype(np.float32)


def calibration_sets(head: ExportHead, data: Mapping[str, Any], root: Path | None,
                     seed: int = 0, recorded: Any = None) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    """(calibration inputs, held-out inputs, description); each input is one CHW image or one z.

    ``recorded`` is the run's data path as its config holds it, named when it cannot be found.
    """
    if head.task != "translate":
        rng = np.random.default_rng(seed)
        latent = int(head.latent_size or 0)
        z = rng.standard_normal((MAX_CALIBRATION + MAX_HELD_OUT, latent)).astype(np.float32)
        return list(z[:MAX_CALIBRATION]), list(z[MAX_CALIBRATION:]), "random z"
    if root is None:
        where = (f"the run's data set '{recorded}' is found neither from here nor from where training started"
                 if isinstance(recorded, str) and recorded else "the run's data set is not available")
        raise ExportError(f"head '{head.name}': no calibration images ({where}); pass --calibration DIR")
    files, half, folder = find_images(root, head, data)
    if len(files) < 2:
        raise ExportError(f"{root}: found {len(files)} image(s) for calibrating head '{head.name}'; need at least 2")
    random.Random(seed).shuffle(files)
    n_held = max(1, min(MAX_HELD_OUT, len(files) // 4))
    held, calib = files[:n_held], files[n_held:n_held + MAX_CALIBRATION]
    size = int(data.get("size") or 256)
    size = round_up(max(size, head.min_size), head.size_multiple) if head.fixed_size is None else head.fixed_size
    load = []
    for group in (calib, held):
        arrays = []
        for f in group:
            try:
                arrays.append(load_for(head, f, size, half))
            except ImageError:
                continue  # a bad file in a data set should not stop an export; it just is not used
        load.append(arrays)
    if not load[0] or not load[1]:
        raise ExportError(f"{root}: not enough readable images to calibrate head '{head.name}'")
    return load[0], load[1], f"{len(load[0])} calibration + {len(load[1])} held-out images from {folder}"


def _split_held_out(n: int, seed: int) -> tuple[list[int], list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_held = max(1, min(MAX_HELD_OUT, n // 4))
    return order[n_held:n_held + MAX_CALIBRATION], order[:n_held]


def run_dataset_sets(head: ExportHead, run_dir: Path | None, data: Mapping[str, Any],
                     seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray], str] | None:
    """Calibration/held-out inputs through the data loader the run trained with (test split first).

    Goes through :func:`gantrans.data.open_dataset`, so built-in data set names, aligned A|B
    pairs and every registered layout work as in training (eval transforms, no flips). None
    when the run's data set cannot be opened.
    """
    config = read_config(run_dir) if head.task == "translate" else None
    if config is None:
        return None
    source = usable_data(run_dir, config.get("data"))
    if not source or not isinstance(source, str):
        return None
    from gantrans.data import open_dataset

    m = max(1, head.size_multiple)
    size = head.fixed_size or round_up(max(int(config.get("crop_size") or data.get("size") or 256), head.min_size), m)
    channels = head.in_channels if head.in_channels in (1, 3, 4) else 3
    kind = data.get("kind") or "unpaired"
    for split in ("test", "val", "train"):
        try:
            ds = open_dataset(source, accepted_kinds=[kind], data_format=config.get("data_format"), split=split,
                              load_size=size, crop_size=size, preprocess=config.get("preprocess") or "resize_and_crop",
                              flip=False, train=False, channels=channels, serial=True, seed=seed, size_multiple=m,
                              min_items=2)
        except GantransError:
            continue
        break
    else:
        return None
    key = _domain_letter(head, data) if kind in ("unpaired", "paired") else "image"
    calib_idx, held_idx = _split_held_out(len(ds), seed)
    try:
        calib = [ds[i][key].float().numpy() for i in calib_idx]
        held = [ds[i][key].float().numpy() for i in held_idx]
    except (GantransError, KeyError):
        return None
    if not calib or not held:
        return None
    return calib, held, f"{len(calib)} calibration + {len(held)} held-out images of {source} ({split} split)"
