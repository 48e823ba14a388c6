"""What a file of the compatibility or conformance corpus must decode to (its manifest entry), and the check.

An entry holds the decoded type and shape, the SHA-256 of the pixels and of the palette, the transparency and
(from format 8, for files that have them) the metadata records' names and SHA-256.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

import flowzip
from flowzip.classical.methods import DEEP_FORMS, DEEP_TRANSFORMS, indexed_ranks
from flowzip.container import MODES, read_container
from flowzip.metadata import NO_METADATA, Metadata

TESTS = Path(__file__).resolve().parent
CORPORA = [*sorted((TESTS / "compat").glob("v*")), TESTS / "conformance"]


_ENTRY_FIELDS = ("type", "shape", "sha256", "palette_sha256", "transparency", "metadata")


def entry(out: Image.Image | np.ndarray, metadata: Metadata = NO_METADATA) -> dict:
    """What a file must decode to: its type, shape, pixels' and palette's hashes and transparency, and its
    metadata records (if it has any)."""
    pixels = np.asarray(out)
    image = not isinstance(out, np.ndarray)
    records = [[name, hashlib.sha256(value).hexdigest()] for name, value in metadata.records]
    return {
        "type": f"image {out.mode}" if image else "array",
        "shape": list(pixels.shape),
        "sha256": hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest(),
        "palette_sha256": hashlib.sha256(bytes(out.getpalette() or [])).hexdigest() if image else None,
        "transparency": _json(out.info.get("transparency")) if image else None,
        **({"metadata": records} if records else {}),
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


def stored_metadata(folder: Path, name: str) -> Metadata:
    """The metadata a corpus file holds, read from its header."""
    return flowzip.read_header((folder / name).read_bytes()).metadata


def mismatches(out: Image.Image | np.ndarray, spec: dict, metadata: Metadata = NO_METADATA) -> list[str]:
    """The fields of ``spec`` that the decoded ``out`` and the file's ``metadata`` do not match (format 1
    recorded no transparency, formats before 8 no metadata)."""
    got = entry(out, metadata)
    return [k for k in _ENTRY_FIELDS if k in spec and got.get(k) != spec[k]]


def deep_coverage(paths: list[Path]) -> tuple[set[str], set[str], set[str], set[int]]:
    """What the 16-bit files among ``paths`` cover: their modes, their sections' forms (an "indexed" section's
    ranks too), the deep coder's transforms of three channels, and their numbers of strips."""
    modes, forms, transforms, strips = set(), set(), set(), set()
    for path in paths:
        header, sections = read_container(path.read_bytes())
        parts = header.deep_sections()
        if not parts:
            continue
        modes.add(header.mode)
        strips.add(len(parts) // len(MODES[header.mode].deep_groups))
        for section, (_, group) in zip(sections, parts, strict=True):
            forms.add(DEEP_FORMS[section[0]])
            if DEEP_FORMS[section[0]] == "indexed":
                section = indexed_ranks(section)
                forms.add(DEEP_FORMS[section[0]])
            if DEEP_FORMS[section[0]] == "deep" and group.stop - group.start == 3:
                transforms.add(DEEP_TRANSFORMS[section[3]])
    return modes, forms, transforms, strips
