"""Files written by earlier flowzip versions keep decoding to the same pixels (the promise in docs/format.md)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import flowzip
from flowzip.container import read_container
from flowzip.planes import CONTEXT_METHODS, TRANSFORMS
from flowzip.tiles import CLASSICAL, FLOW

CORPUS = Path(__file__).resolve().parent / "compat"
CASES = [
    (v, name, spec)
    for v in sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
    for name, spec in json.loads((CORPUS / v / "manifest.json").read_text()).items()
]


@pytest.mark.parametrize(("version", "name", "spec"), CASES, ids=[f"{v}/{n}" for v, n, _ in CASES])
def test_corpus_decodes(version: str, name: str, spec: dict) -> None:
    folder = CORPUS / version
    # From v6 one file names a shipped model by its number, which decoding finds by itself, as a user's would
    # (its manifest records the model's name when it was written; a later model of that name takes the name).
    model = None if "model" in spec else str(folder / "compat.fzm")
    out = flowzip.decompress((folder / name).read_bytes(), model=model)
    pixels = np.asarray(out)
    kind = "array" if isinstance(out, np.ndarray) else f"image {out.mode}"
    assert (kind, list(pixels.shape)) == (spec["type"], spec["shape"])
    assert hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest() == spec["sha256"]
    if spec["palette_sha256"] is not None:
        assert hashlib.sha256(bytes(out.getpalette() or [])).hexdigest() == spec["palette_sha256"]
    if "transparency" in spec:  # recorded since format 2
        t = None if isinstance(out, np.ndarray) else out.info.get("transparency")
        t = t.hex() if isinstance(t, bytes) else list(t) if isinstance(t, tuple) else t
        assert t == spec["transparency"]


def test_corpus_exercises_every_tool() -> None:
    """Every RGB file has tiles coded by the flow (format 1: not stored raw; 2: its tool byte), but the 1x1 one
    and the classical ones, whose tiles the classical coder codes."""
    for path in sorted(CORPUS.glob("v*/*.fzi")):
        header, sections = read_container(path.read_bytes())
        tiles = header.rgb_tiles()
        if path.name.startswith("classical"):
            assert all(s[:1] == CLASSICAL for s in sections[: len(tiles)]), path.name
        elif tiles and path.name != "noise-1x1.fzi":
            raw = [3 * (r.stop - r.start) * (c.stop - c.start) for r, c in tiles]
            flow = [s[:1] == FLOW if header.version > 1 else len(s) != n for s, n in zip(sections, raw, strict=False)]
            assert any(flow), path.name


def test_corpus_exercises_each_context_coder() -> None:
    """Planes of format 2 files are context-coded by method 5, of format 3 files by method 6, of format 4 files by
    method 7; classical RGB tiles of format 5 files by method 8. All must keep decoding."""
    palette = TRANSFORMS.index("palette")
    for version, method in zip(("v2", "v3", "v4", "v5"), CONTEXT_METHODS, strict=True):
        methods = set()
        for path in sorted((CORPUS / version).glob("*.fzi")):
            header, sections = read_container(path.read_bytes())
            tiles = len(header.rgb_tiles())
            methods |= {s[0] for s in sections[tiles:]}  # the planes' predicted data
            methods |= {s[2] for s in sections[:tiles] if s[:1] == CLASSICAL and s[1] != palette}
        assert method in methods, version


def test_corpus_exercises_the_centred_transform() -> None:
    """Format 3's centred subtract green codes a classical tile of the v3 corpus."""
    header, sections = read_container((CORPUS / "v3" / "classical-near-grey.fzi").read_bytes())
    transform = TRANSFORMS.index("subtract green, centred")
    assert any(s[:2] == CLASSICAL + bytes([transform]) for s in sections[: len(header.rgb_tiles())])
