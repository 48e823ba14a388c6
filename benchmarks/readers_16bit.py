"""Which library reads 16-bit images whole: Pillow against imagecodecs, file by file (issue 29's first point).

    python -m benchmarks.readers_16bit FILE_OR_FOLDER...

For each file: the mode and dtype Pillow gives and the array imagecodecs.imread gives (needs the optional
imagecodecs: ``pip install -e '.[jxl]'``), and whether Pillow kept every bit: "exact" if its samples equal
imagecodecs' 16-bit ones, "8 bits" if they are those samples' high bytes (Pillow's colour readers cut 16-bit
samples so), "differs" otherwise, or the reader's error. Pillow's test images (Tests/images of its repository:
16bit.cropped.tif, tiff_16bit_RGB.tiff, tiff_16bit_RGBa.tiff, 16_bit_binary.pgm, 12in16bit.tif,
uint16_1_4660.tif...) make a varied set; a 16-bit RGB PNG is not among them (imagecodecs.png_encode writes one).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from flowzip.images import IMAGE_SUFFIXES, find_files


def _pillow(path: Path) -> tuple[str, np.ndarray | None]:
    try:
        with Image.open(path) as image:
            image.load()
            return f"{image.mode} {np.asarray(image).dtype}", np.asarray(image)
    except Exception as e:  # any reader failure is a row of the table
        return f"error ({type(e).__name__})", None


def _imagecodecs(path: Path) -> tuple[str, np.ndarray | None]:
    import imagecodecs

    try:
        pixels = imagecodecs.imread(str(path))
    except Exception as e:  # any reader failure is a row of the table
        return f"error ({type(e).__name__})", None
    return f"{pixels.dtype} {pixels.shape}", pixels


def _verdict(pillow: np.ndarray | None, reference: np.ndarray | None) -> str:
    if pillow is None or reference is None:
        return "-"
    if pillow.shape != reference.shape:
        return f"shape {pillow.shape} vs {reference.shape}"
    if np.array_equal(pillow.astype(np.int64), reference.astype(np.int64)):
        return "exact"
    if reference.dtype.itemsize == 2 and np.array_equal(pillow.astype(np.int64), reference.astype(np.int64) >> 8):
        return "8 bits (high bytes)"
    return "differs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    files = [Path(found.path) for found in find_files(args.paths, IMAGE_SUFFIXES)]
    print("| file | Pillow | imagecodecs | Pillow's samples |")
    print("|---|---|---|---|")
    for path in files:
        (pillow_kind, pillow), (reference_kind, reference) = _pillow(path), _imagecodecs(path)
        print(f"| {path.name} | {pillow_kind} | {reference_kind} | {_verdict(pillow, reference)} |")


if __name__ == "__main__":
    main()
