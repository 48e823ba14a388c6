"""Write the compatibility corpus of the current format version (once per version; never regenerate one).

    python tests/compat/make_corpus.py

Writes tests/compat/v<FORMAT_VERSION>/ and refuses if it exists: every later flowzip must decode these files to
the pixels (and transparency) recorded in manifest.json (tests/test_compat.py). v1 was written by this script
when format 1 was current, without the colour-key cases; from v8 one file (metadata.fzi) holds metadata of every
kind, whose records manifest.json lists. RGB data is coded with compat.fzm, a copy of the small
test model (tests/models/tiny.fzm) kept beside them, so the files depend neither on the shipped models nor on
later changes to the test model; from v6 one file (shipped-model.fzi) is coded with a shipped model, whose number
the header holds (manifest.json names it).
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus import entry

import flowzip
from flowzip.container import FORMAT_VERSION, TILE_TOOLS
from flowzip.learned.zoo import load_model_file

from conftest import make_image

HERE = Path(__file__).resolve().parent / f"v{FORMAT_VERSION}"
SHIPPED_MODEL = "cifar10"


def _with_transparency(image: Image.Image, transparency: object) -> Image.Image:
    image.info["transparency"] = transparency
    return image


def _with_metadata(image: Image.Image) -> Image.Image:
    """``image`` as a PNG with an ICC profile, EXIF, XMP, text, gamma and resolution, read back by Pillow."""
    chunks = PngImagePlugin.PngInfo()
    chunks.add_text("Title", "compatibility")
    chunks.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta/>")
    chunks.add(b"gAMA", (45455).to_bytes(4, "big"))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    image.save(buf, "PNG", pnginfo=chunks, dpi=(300, 300), exif=exif, icc_profile=b"compatibility profile " * 50)
    return Image.open(buf)


def _ramp_of_two_strips() -> np.ndarray:
    """A 16-bit ramp of 1,100,000 pixels (two strips; ``container.DEEP_STRIP_PIXELS``) that codes to a few bytes."""
    i, j = np.mgrid[0:1000, 0:1100]
    return ((7 * j + 3 * i) * 3).astype(np.uint16)


def _deep_cases() -> dict[str, tuple[object, int]]:
    rng = np.random.default_rng(9)
    photo = make_image("photo", 37, 45, channels=4, seed=9).astype(np.uint16)
    deep = np.clip(photo * 257 + rng.normal(0, 20, photo.shape), 0, 65535).astype(np.uint16)
    grey = _with_transparency(Image.fromarray(deep[:, :, 0]), 4000)
    rgba = np.dstack(
        [(photo[:, :, :3] << 4 | rng.integers(0, 16, (37, 45, 3)).astype(np.uint16)) << 4, photo[:, :, 3:] * 257]
    )
    tint = rng.integers(-300, 300, (37, 45, 3))
    near_grey = np.clip(deep[:, :, :1].astype(np.int64) + tint, 0, 65535).astype(np.uint16)
    values = np.sort(rng.choice(65536, 600, replace=False)).astype(np.uint16)
    return {
        "deep-grey.fzi": (grey, 256),  # the deep coder, a colour key
        "deep-grey-alpha.fzi": (deep[:, :, :2], 256),
        "deep-rgb.fzi": (near_grey, 256),  # the deep coder, subtract green
        "deep-rgba.fzi": (rgba, 256),  # 12 bits shifted by 4, and alpha x 257
        "deep-narrow.fzi": (photo[:, :, 1] << 3, 256),  # 8 bits shifted by 3
        "deep-stored.fzi": (rng.integers(0, 65536, (5, 6, 3)).astype(np.uint16), 256),
        # the values that occur, and each sample's rank among them: over 256 (ranks coded at 9 bits) and 20 (at 8)
        "deep-indexed.fzi": (values[photo[:, :, 0] + photo[:, :, 1]], 256),
        "deep-strips.fzi": (_ramp_of_two_strips(), 256),  # over 2^20 pixels: two strips
        "deep-indexed-few.fzi": (rng.choice(65536, 20, replace=False).astype(np.uint16)[photo[:, :, :3] // 13], 256),
    }


def main() -> None:
    HERE.mkdir(parents=True)  # fails if this version's corpus exists
    shutil.copy(HERE.parents[1] / "models" / "tiny.fzm", HERE / "compat.fzm")
    model = load_model_file(HERE / "compat.fzm")
    rgba = make_image("photo", 37, 45, channels=4, seed=3)
    palette = Image.fromarray(rgba[:, :, :3]).quantize(colors=20)
    palette.info["transparency"] = 4
    with_icc = Image.fromarray(rgba[:, :, :3])
    with_icc.info["icc_profile"] = b"compatibility test profile bytes"
    drawing = np.zeros((40, 70, 3), dtype=np.uint8)
    drawing[5:30, 10:60] = (200, 30, 30)
    drawing[20:, 30:] = (10, 200, 90)
    grey = make_image("photo", 40, 60, channels=1, seed=6).astype(np.int16)
    tint = np.random.default_rng(6).integers(-2, 3, size=(40, 60, 3))
    near_grey = np.clip(grey + tint, 0, 255).astype(np.uint8)
    cases = {
        "rgb-tiles.fzi": (Image.fromarray(rgba[:, :, :3]), 32),
        "rgba.fzi": (Image.fromarray(rgba, "RGBA"), 64),
        "grey.fzi": (Image.fromarray(rgba[:, :, 0]), 256),
        "grey-alpha.fzi": (Image.fromarray(rgba[:, :, :2], "LA"), 256),
        "palette.fzi": (palette, 256),
        "bilevel.fzi": (Image.fromarray(rgba[:, :, 0] > 128), 256),
        "rgb-icc.fzi": (with_icc, 256),
        "array-hwc.fzi": (rgba[:, :, :3], 32),
        "array-hw.fzi": (rgba[:, :, 1], 256),
        "noise-1x1.fzi": (make_image("noise", 1, 1), 32),
        "rgb-colour-key.fzi": (_with_transparency(Image.fromarray(rgba[:, :, :3]), (12, 200, 7)), 32),
        "grey-colour-key.fzi": (_with_transparency(Image.fromarray(rgba[:, :, 0]), 77), 256),
        "bilevel-colour-key.fzi": (_with_transparency(Image.fromarray(rgba[:, :, 0] > 128), 255), 256),
        "classical-palette.fzi": (drawing, 32),
        "classical-few-colours.fzi": (make_image("gradient", 50, 70), 32),
        "classical-many-colours.fzi": (make_image("photo", 40, 60, seed=5), 64),
        "classical-near-grey.fzi": (near_grey, 64),  # from format 3: the centred subtract-green transform
    }
    # from format 8: metadata of every kind, a PNG's chunks among them, compressed in the metadata field
    cases["metadata.fzi"] = (_with_metadata(Image.fromarray(rgba[:, :, :3])), 64)
    # from format 9: every 16-bit mode, and each form of a 16-bit section (flowzip.classical.deep)
    cases.update(_deep_cases())
    manifest = {}
    for name, (image, tile) in cases.items():
        # the test model loses most tiles to the classical coder: but for the classical cases, code with the flow
        tools = TILE_TOOLS if name.startswith("classical") else ("flow",)
        data = flowzip.compress(image, model=model, tile_size=tile, tools=tools)
        (HERE / name).write_bytes(data)
        out = flowzip.decompress(data, model=model)
        manifest[name] = entry(out, flowzip.read_header(data).metadata)
    # from format 6: a shipped model named by its number (shipped models never change, so the file stays valid)
    data = flowzip.compress(make_image("photo", 16, 16, seed=7), model=SHIPPED_MODEL, tools=("flow",))
    (HERE / "shipped-model.fzi").write_bytes(data)
    manifest["shipped-model.fzi"] = {**entry(flowzip.decompress(data)), "model": SHIPPED_MODEL}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
