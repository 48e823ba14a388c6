"""What each image's metadata becomes: stored in the .fzi, then written to each output format and read back.

    python -m benchmarks.metadata_table FILE_OR_FOLDER... [--markdown]

For each image: the records it carries (``flowzip.metadata.of_image`` on the file's bytes, as the command line
reads it), what of its metadata is not kept (``unkept_of_image``, which compress names in a warning), its .fzi's
size against the file's, and for each output format (PNG, WebP, TIFF, BMP) what came back,
read again by Pillow and compared record by record with what was stored: "all", or the records it left out,
which the command line names in a warning. A record that came back different is an error (exit status 1). The
pixels are checked too. Pillow's test images (Tests/images of its repository) make a varied set: hopper.jpg,
exif.png, iptc.jpg, xmp_test.jpg, icc_profile_big.jpg, itxt_chunks.png, photoshop-200dpi.jpg, hopper.iccprofile.tif.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import flowzip
from flowzip.frontends.batch import encode_output
from flowzip.images import IMAGE_SUFFIXES, find_files, open_image
from flowzip.metadata import (
    COMMENT,
    DPI,
    EXIF,
    ICC,
    IPTC,
    PHOTOSHOP,
    PNG_CHUNK,
    XMP,
    Metadata,
    of_image,
    record_kind,
    save_options,
    to_info,
    unkept_of_image,
)
from flowzip.settings import EFFORTS

OUTPUTS = {".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".bmp": "BMP"}
_TIFF_TAGS = {IPTC: 33723, PHOTOSHOP: 34377}
_ORIENTATION = 0x0112


def _came_back(kept: Metadata, suffix: str, data: bytes) -> dict[str, bool]:
    """For each record of ``kept`` that the output format holds, whether Pillow reads it back from ``data``
    (the output file) as it was."""
    out = Image.open(io.BytesIO(data))
    out.load()
    back = of_image(out, data)
    checks: dict[str, bool] = {}
    for name, value in kept.records:
        if name == PNG_CHUNK + "pHYs" and suffix != ".png":  # written as the format's resolution
            checks[name] = "dpi" in out.info and np.allclose(out.info["dpi"], to_info(kept)["dpi"], rtol=1e-3)
        elif name.startswith(PNG_CHUNK):
            checks[name] = suffix == ".png" and (name, value) in back.records
        elif name in (ICC, XMP):
            checks[name] = back.get(name) == value
        elif name == EXIF and suffix != ".tif":
            checks[name] = back.get(EXIF) == value
        elif name == EXIF:  # a TIFF holds EXIF's tags in its own directory (repr: an unset rational is NaN)
            checks[name] = repr(_exif_tags(back.get(EXIF))) == repr(_exif_tags(value))
        elif name in _TIFF_TAGS:
            checks[name] = suffix == ".tif" and bytes(out.tag_v2.get(_TIFF_TAGS[name], b"")) == value
        elif name == COMMENT:
            checks[name] = out.info.get("Comment", "").encode("latin-1") == value
        elif name == DPI:
            want = [float(v) for v in value.split()]
            checks[name] = "dpi" in out.info and np.allclose(out.info["dpi"], want, rtol=1e-3)
    return checks


def _exif_tags(exif: bytes | None) -> dict:
    """The EXIF tags a TIFF's directory holds as they were (and its sub-directories): the descriptive ones, not
    the orientation (Pillow's TIFF reader turns the pixels by it and drops it) nor the layout."""
    if not exif:
        return {}
    tags = Image.Exif()
    tags.load(exif)
    kept = (270, 271, 272, 305, 306, 315, 33432, 0x8769, 0x8825)
    return {tag: tags.get_ifd(tag) if tag in (0x8769, 0x8825) else tags[tag] for tag in kept if tag in tags}


def measure(path: Path) -> tuple[list[str], bool]:
    """The table row of one image, and whether everything that came back was exact."""
    raw = path.read_bytes()
    image = open_image(io.BytesIO(raw), str(path))
    kept = of_image(image, raw)
    data = flowzip.compress(image, settings=EFFORTS[1], metadata=kept)
    decoded = flowzip.decompress_image(data)
    exact = np.array_equal(np.asarray(decoded), np.asarray(image))
    not_kept = "; ".join(unkept_of_image(image)) or "-"
    row = [path.name, "; ".join(kept.describe()) or "none", not_kept, f"{len(data):,} / {len(raw):,}"]
    for suffix, fmt in OUTPUTS.items():
        try:
            written, _ = encode_output(decoded, Path("out" + suffix), kept)
        except flowzip.FlowzipError as e:
            row.append(f"refused ({e})")
            continue
        unkept = save_options(kept, fmt).unkept
        checks = _came_back(kept, suffix, written)
        wrong = sorted({record_kind(n) for n, ok in checks.items() if not ok and record_kind(n) not in unkept})
        exact &= not wrong
        row.append(("all" if not unkept else "no " + ", ".join(unkept)) + (f"; WRONG: {wrong}" if wrong else ""))
    return row, exact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    files = [Path(found.path) for found in find_files(args.paths, IMAGE_SUFFIXES)]
    header = [
        "file",
        "kept",
        "not kept (named in a warning)",
        ".fzi / file bytes",
        *(f"{s[1:].upper()} back" for s in OUTPUTS),
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    failed = False
    for path in files:
        try:
            row, exact = measure(path)
        except flowzip.FlowzipError as e:
            row, exact = [path.name, f"refused: {e}"] + [""] * (len(header) - 2), True
        failed |= not exact
        print("| " + " | ".join(row) + " |", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
