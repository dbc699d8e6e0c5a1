"""Regenerate the photographs of the built-in ``photos-*`` data sets from an installed scikit-image.

    pip install scikit-image && python tools/make_builtin_photos.py

Reads the public-domain / CC0 colour photographs that scikit-image ships in its wheel, shrinks
each so its longer side is ``MAX_SIDE`` px (Lanczos), and writes them as PNG next to the data
set code (``plugins/datasets/photos/``) together with ``LICENCES.md``. Only images whose
scikit-image docstring states public domain or CC0 are used; the stereo motorcycle pair
(Middlebury, no licence stated) and the IHC slide ("no known copyright restrictions") are not.
Deterministic: the same scikit-image gives byte-identical files.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

MAX_SIDE = 320

# file in skimage/data, split, licence, source (from scikit-image 0.26's skimage/data/_fetchers.py)
PHOTOS = (
    ("astronaut.png", "train", "public domain",
     "NASA, Eileen Collins (Great Images in NASA); scikit-image data.astronaut"),
    ("coffee.png", "train", "CC0", "Rachel Michetti (photographer); scikit-image data.coffee"),
    ("rocket.jpg", "train", "public domain",
     "SpaceX, DSCOVR launch on Falcon 9 (SpaceX Photos on Flickr); scikit-image data.rocket"),
    ("hubble_deep_field.jpg", "train", "public domain",
     "NASA, Hubble eXtreme Deep Field; scikit-image data.hubble_deep_field"),
    ("retina.jpg", "train", "CC0",
     "Häggström, Mikael (2014), Medical gallery of Mikael Häggström; scikit-image data.retina"),
    ("chelsea.png", "test", "CC0", "Stefan van der Walt (photographer); scikit-image data.chelsea"),
)


def main(out_dir: Path) -> int:
    try:
        import skimage
    except ImportError:
        print("scikit-image is not installed: pip install scikit-image", file=sys.stderr)
        return 1
    src = Path(skimage.__file__).parent / "data"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, split, licence, source in PHOTOS:
        image = Image.open(src / name).convert("RGB")
        scale = MAX_SIDE / max(image.size)
        size = (round(image.width * scale), round(image.height * scale))
        small = image.resize(size, Image.Resampling.LANCZOS)
        target = out_dir / (Path(name).stem + ".png")
        small.save(target, format="PNG", optimize=True)
        rows.append(f"| {target.name} | {split} | {size[0]}x{size[1]} | {licence} | {source} |")
        print(f"{target}: {size[0]}x{size[1]}")
    (out_dir / "LICENCES.md").write_text(
        "# Photographs of the built-in `photos-*` data sets\n\n"
        f"Downscaled (longer side {MAX_SIDE} px, Lanczos) from the sample images in the scikit-image "
        f"{skimage.__version__} wheel (`skimage/data`) by `tools/make_builtin_photos.py`. Each image's "
        "licence is the one its scikit-image docstring states (`skimage/data/_fetchers.py`); only "
        "public-domain and CC0 images are used. The split is by photograph: test crops come from "
        "photographs never seen in training.\n\n"
        "| file | split | size | licence | source |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n",
        encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(__file__).resolve().parent.parent / "plugins" / "datasets" / "photos"))
