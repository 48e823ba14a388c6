"""Files written by earlier flowzip versions keep decoding to the same pixels (the promise in docs/format.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus import CORPORA, TESTS, decode, deep_coverage, manifest, mismatches, stored_metadata

from flowzip.classical.methods import CONTEXT_METHODS, DEEP_FORMS, DEEP_TRANSFORMS, TRANSFORMS
from flowzip.container import MODES, read_container
from flowzip.tiles import CLASSICAL, FLOW

CORPUS = TESTS / "compat"
CASES = [
    (folder, name, spec) for folder in CORPORA if folder.parent == CORPUS for name, spec in manifest(folder).items()
]


@pytest.mark.parametrize(("folder", "name", "spec"), CASES, ids=[f"{folder.name}/{name}" for folder, name, _ in CASES])
def test_corpus_decodes(folder: Path, name: str, spec: dict) -> None:
    # From v6 one file names a shipped model by its number, which decoding finds by itself, as a user's would
    # (its manifest records the model's name when it was written; a later model of that name takes the name).
    assert mismatches(decode(folder, name, spec), spec, stored_metadata(folder, name)) == []


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
    method 7; classical RGB tiles of format 5 files by method 8, of format 7 files by method 9. All must keep
    decoding."""
    palette = TRANSFORMS.index("palette")
    for version, method in zip(("v2", "v3", "v4", "v5", "v7"), CONTEXT_METHODS, strict=True):
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


def test_corpus_exercises_every_16_bit_form() -> None:
    """From format 9 every 16-bit mode and every form of a 16-bit section (and both deep transforms) is in the
    corpus."""
    modes, forms, transforms, strips = deep_coverage(sorted((CORPUS / "v9").glob("*.fzi")))
    assert modes == {mode for mode, layout in MODES.items() if layout.deep_groups}
    assert forms == set(DEEP_FORMS) and transforms == set(DEEP_TRANSFORMS)
    assert max(strips) > 1, "an image of several strips"
