"""What a file of the compatibility or conformance corpus must decode to (its manifest entry), and the check.

An entry holds the decoded type and shape, the SHA-256 of the pixels and of the palette, and the transparency.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

import flowzip

TESTS = Path(__file__).resolve().parent
CORPORA = [*sorted((TESTS / "compat").glob("v*")), TESTS / "conformance"]


def entry(out: Image.Image | np.ndarray) -> dict:
    """What a file must decode to: its type, shape, pixels' and palette's hashes and transparency."""
    pixels = np.asarray(out)
    image = not isinstance(out, np.ndarray)
    return {
        "type": f"image {out.mode}" if image else "array",
        "shape": list(pixels.shape),
        "sha256": hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest(),
        "palette_sha256": hashlib.sha256(bytes(out.getpalette() or [])).hexdigest() if image else None,
        "transparency": _json(out.info.get("transparency")) if image else None,
    }


def _json(value: object) -> object:
    """A transparency as JSON: an int, a list of ints (a colour key), or a hex string (palette alpha)."""
    return value.hex() if isinstance(value, bytes) else list(value) if isinstance(value, tuple) else value


def manifest(folder: Path) -> dict[str, dict]:
    """A corpus folder's manifest: file name -> entry (and, for some, the model or coding paths)."""
    return json.loads((folder / "manifest.json").read_text())


def decode(folder: Path, name: str, spec: dict, jobs: int | None = None) -> Image.Image | np.ndarray:
    """Decode a corpus file as a user would (``jobs`` tiles at once): a file of a shipped model with no model
    given, the others with the folder's own model, compat.fzm."""
    own_model = folder / "compat.fzm"
    model = str(own_model) if own_model.exists() and "model" not in spec else None
    return flowzip.decompress((folder / name).read_bytes(), model=model, jobs=jobs)


def mismatches(out: Image.Image | np.ndarray, spec: dict) -> list[str]:
    """The fields of ``spec`` that the decoded ``out`` does not match (format 1 recorded no transparency)."""
    got = entry(out)
    return [k for k in got if k in spec and got[k] != spec[k]]
