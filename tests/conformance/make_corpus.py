"""Write the conformance corpus: one small file per coding path this flowzip writes (never regenerate one).

    python tests/conformance/make_corpus.py

Like JPEG XL's conformance suite: each file takes a path through the coder (a tile tool, a shipped model, a
classical transform, a predictor with LZMA2 or a context method, a mode, an odd size, a colour key, an ICC
profile, metadata of every kind), and manifest.json records what it decodes to (``tests/corpus.py``) and the
paths it takes (``flowzip.codec.coding_paths``). tests/test_conformance.py checks that every path is covered
and every file decodes to its record, here and on every CPU code path of tests/test_codepaths.py. Paths that
only older flowzips wrote (context methods 5 and 6, the plain subtract green) are in the compatibility corpus.
A new coding path gets a new file here: add its case, and the script writes only the files the manifest lacks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus import entry

import flowzip
from flowzip.codec import coding_paths
from flowzip.learned.zoo import shipped_model_names
from flowzip.metadata import COMMENT, DPI, EXIF, ICC, IPTC, PHOTOSHOP, XMP, Metadata

from conftest import make_image

HERE = Path(__file__).resolve().parent


def _plane(kind: str, height: int, width: int, seed: int) -> np.ndarray:
    """Synthetic planes on which LZMA2 beats the context coder, each with a different best predictor."""
    rng = np.random.default_rng(seed)
    i, j = np.mgrid[:height, :width]
    if kind == "repeated-rows":  # none: the rows are one periodic row
        row = np.tile(rng.integers(0, 256, 8), width // 8 + 1)[:width]
        return np.tile(row, (height, 1)).astype(np.uint8)
    if kind == "ramp":  # left or paeth: a ramp with a periodic ripple
        ripple = np.tile(rng.integers(0, 4, (8, 8)), (height // 8 + 1, width // 8 + 1))[:height, :width]
        return ((i * rng.integers(1, 9) + j * rng.integers(1, 9) + ripple) % 256).astype(np.uint8)
    if kind == "steps":  # med: a staircase in both directions
        steps = (i // rng.integers(1, 5)) * rng.integers(1, 40) + (j // rng.integers(1, 5)) * rng.integers(1, 40)
        return steps.astype(np.uint8)
    if kind == "texture-ramp":  # up: a repeated 16x16 texture on a ramp
        texture = np.tile(rng.integers(0, 256, (16, 16)), (height // 16 + 1, width // 16 + 1))[:height, :width]
        return ((texture + i * 3 + j * 5) % 256).astype(np.uint8)
    raise ValueError(kind)


def _noise_beside(image: np.ndarray) -> np.ndarray:
    """``image`` with noise in its left half (raw tiles there)."""
    out = image.copy()
    out[:, : image.shape[1] // 2] = make_image("noise", image.shape[0], image.shape[1] // 2, image.shape[2])
    return out


def _with(image: Image.Image, **info: object) -> Image.Image:
    image.info.update(info)
    return image


def _every_metadata_kind() -> Metadata:
    """A record of every kind this flowzip writes, one (the ICC profile) long enough to be compressed."""
    exif = Image.Exif()
    exif[0x010F] = "conformance"
    return Metadata(
        (
            (ICC, b"conformance profile " * 40),
            (EXIF, exif.tobytes()[len(b"Exif\0\0") :]),
            (XMP, b"<x:xmpmeta/>"),
            (IPTC, b"\x1c\x02\x05\x00\x02Hi"),
            (PHOTOSHOP, b"8BIM\x04\x04\x00\x00\x00\x00\x00\x00"),
            (COMMENT, b"a comment"),
            (DPI, b"300.0 150.0"),
            ("png:tEXt", b"Title\0conformance"),
            ("png:cICP", bytes([1, 13, 0, 1])),
        )
    )


def _deep_cases() -> dict[str, tuple[object, dict]]:
    """Every 16-bit mode, every form of a 16-bit section and both transforms of the deep coder."""
    rng = np.random.default_rng(16)
    photo = make_image("photo", 37, 45, channels=4, seed=16).astype(np.uint16)
    deep = np.clip(photo * 257 + rng.normal(0, 20, photo.shape), 0, 65535).astype(np.uint16)
    near_grey = np.clip(deep[:, :, :1].astype(np.int64) + rng.integers(-300, 300, (37, 45, 3)), 0, 65535)
    twelve_bits = (photo[:, :, :3] << 4 | rng.integers(0, 16, (37, 45, 3)).astype(np.uint16)) << 4
    values = np.sort(rng.choice(65536, 600, replace=False)).astype(np.uint16)
    i, j = np.mgrid[0:1000, 0:1100]
    return {
        "deep-grey-colour-key.fzi": (_with(Image.fromarray(deep[:, :, 0]), transparency=4000), {}),
        "deep-grey-alpha.fzi": (deep[:, :, :2], {}),
        "deep-rgb-subtract-green.fzi": (near_grey.astype(np.uint16), {}),
        "deep-rgba-shifted-replicated.fzi": (np.dstack([twelve_bits, photo[:, :, 3:] * 257]), {}),
        "deep-narrow.fzi": (photo[:, :, 1] << 3, {}),
        "deep-stored.fzi": (rng.integers(0, 65536, (5, 6, 3)).astype(np.uint16), {}),
        "deep-indexed.fzi": (values[photo[:, :, 0] + photo[:, :, 1]], {}),
        "deep-strips.fzi": (((7 * j + 3 * i) * 3).astype(np.uint16), {}),  # 1,100,000 pixels: two strips
    }


def cases() -> dict[str, tuple[object, dict]]:
    """name -> (image, compress options)."""
    photo = make_image("photo", 37, 45, channels=4, seed=3)
    drawing = make_image("few-colours", 40, 70, seed=2)
    out: dict[str, tuple[object, dict]] = {
        # tile tools and models
        "tool-raw.fzi": (make_image("noise", 19, 23), {}),
        "tool-classical-context.fzi": (make_image("photo", 70, 100, seed=5), {"tools": ("classical",)}),
        "tool-classical-photo-coder.fzi": (make_image("photo", 70, 100, seed=9), {"tools": ("classical",)}),
        "classical-palette.fzi": (drawing, {"tools": ("classical",)}),
        "classical-pattern.fzi": (make_image("pattern", 33, 35, seed=1), {"tools": ("classical",)}),
        "classical-whole-image-text.fzi": (make_image("text", 70, 90), {"tile_size": 32, "tools": ("classical",)}),
        "tiles-partial-grid.fzi": (
            _noise_beside(make_image("sample", 71, 97, seed=4)),
            {"tile_size": 32, "tools": ("flow",)},  # no whole-image try: a grid of raw and flow tiles
        ),
        # modes and kinds, odd sizes
        "rgba.fzi": (Image.fromarray(photo, "RGBA"), {}),
        "grey.fzi": (Image.fromarray(photo[:, :, 0]), {}),
        "grey-alpha.fzi": (Image.fromarray(photo[:, :, :2], "LA"), {}),
        "bilevel.fzi": (Image.fromarray(photo[:, :, 0] > 128), {}),
        "palette-transparent-index.fzi": (_with(Image.fromarray(photo[:, :, :3]).quantize(20), transparency=4), {}),
        "palette-alpha-bytes.fzi": (
            _with(Image.fromarray(drawing).quantize(6), transparency=bytes([0, 80, 160, 255, 255, 255])),
            {},
        ),
        "array-hw.fzi": (photo[:, :, 1], {}),
        "array-hw1.fzi": (photo[:, :, 1:2], {}),
        "array-hwc.fzi": (np.ascontiguousarray(photo[:, :, :3]), {}),
        "size-1x1.fzi": (make_image("noise", 1, 1), {}),
        "size-1x97.fzi": (make_image("sample", 1, 97, seed=2), {}),
        "size-97x1.fzi": (make_image("sample", 97, 1, seed=2), {}),
        "size-2x3-two-colour.fzi": (make_image("two-colour", 2, 3, seed=4), {}),
        # colour keys (PNG's tRNS) and an ICC profile
        "rgb-colour-key.fzi": (_with(Image.fromarray(photo[:, :, :3]), transparency=(12, 200, 7)), {}),
        "grey-colour-key.fzi": (_with(Image.fromarray(photo[:, :, 0]), transparency=77), {}),
        "bilevel-colour-key.fzi": (_with(Image.fromarray(photo[:, :, 0] > 128), transparency=255), {}),
        "rgb-icc.fzi": (_with(Image.fromarray(photo[:, :, :3]), icc_profile=b"conformance profile bytes"), {}),
        "grey-metadata.fzi": (Image.fromarray(photo[:, :, 0]), {"metadata": _every_metadata_kind()}),
    }
    out.update(_deep_cases())
    for model in shipped_model_names():
        out[f"model-{model}.fzi"] = (make_image("sample", 29, 41, seed=7), {"model": model, "tools": ("flow",)})
    for kind, seed in (("repeated-rows", 0), ("ramp", 0), ("ramp", 1), ("steps", 0), ("texture-ramp", 0)):
        out[f"plane-{kind}-{seed}.fzi"] = (_plane(kind, 40, 64, seed), {})
    return out


def main() -> None:
    """Write the cases the manifest lacks (all of them the first time); never rewrite one it has."""
    path = HERE / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {}
    for name, (image, options) in cases().items():
        if name in manifest:
            continue
        data = flowzip.compress(image, **options)
        (HERE / name).write_bytes(data)
        manifest[name] = {
            **entry(flowzip.decompress(data), flowzip.read_header(data).metadata),
            "paths": coding_paths(data),
        }
        if "model" in options:
            manifest[name]["model"] = options["model"]
        print(name, len(data), sorted(set(manifest[name]["paths"])))
    path.write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
