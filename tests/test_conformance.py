"""The conformance corpus (tests/conformance, written by its make_corpus.py): a file per coding path, each
decoding to the pixels its manifest records. tests/test_codepaths.py decodes it again on every CPU code path."""

from __future__ import annotations

import pytest
from corpus import TESTS, decode, deep_coverage, manifest, mismatches, stored_metadata

import flowzip
from flowzip.classical.methods import DEEP_FORMS, DEEP_TRANSFORMS, MIXED_METHODS, PHOTO_METHOD, PREDICTORS, TRANSFORMS
from flowzip.codec import coding_paths
from flowzip.container import COLOUR_KEY_CHANNELS, KINDS, MODES
from flowzip.learned.zoo import shipped_model_names

FOLDER = TESTS / "conformance"
MANIFEST = manifest(FOLDER)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_file_decodes_to_its_record(name: str) -> None:
    spec = MANIFEST[name]
    assert mismatches(decode(FOLDER, name, spec), spec, stored_metadata(FOLDER, name)) == []
    assert coding_paths((FOLDER / name).read_bytes()) == spec["paths"]


def _written_paths() -> set[str]:
    """Every path this flowzip writes: the raw and flow tools; the classical tool with each transform (the plain
    subtract green only older flowzips wrote) and with LZMA2 or the photo coder (context method 9); each predictor
    with LZMA2 and the cold context method on a plane."""
    lzma = {f"{p} + LZMA2" for p in PREDICTORS}
    return (
        {"raw", "flow"}
        | {f"classical: {t}" for t in TRANSFORMS if t != "subtract green"}
        | {f"classical coder: {c}" for c in ("none + LZMA2", f"context method {PHOTO_METHOD}")}
        | {f"plane: {c}" for c in lzma | {f"context method {MIXED_METHODS[0]}"}}
    )


def test_every_coding_path_is_covered() -> None:
    covered = {p for spec in MANIFEST.values() for p in spec["paths"]}
    classical = [p.removeprefix("classical: ").rsplit(", ", 1) for p in covered if p.startswith("classical: ")]
    covered |= {f"classical: {transform}" for transform, _ in classical}
    covered |= {f"classical coder: {coder}" for _, coder in classical}
    assert _written_paths() <= covered, sorted(_written_paths() - covered)


def test_every_model_mode_and_header_field_is_covered() -> None:
    headers = {name: flowzip.read_header((FOLDER / name).read_bytes()) for name in MANIFEST}
    assert {MANIFEST[n].get("model") for n in MANIFEST} >= set(shipped_model_names())
    assert {h.mode for h in headers.values()} == set(MODES)
    assert {h.kind for h in headers.values()} == set(KINDS)
    assert {h.mode for h in headers.values() if h.colour_key is not None} == set(COLOUR_KEY_CHANNELS)
    transparencies = {type(h.palette.transparency) for h in headers.values() if h.palette is not None}
    assert transparencies == {int, bytes}
    assert any(h.icc_profile for h in headers.values())
    assert any(len(h.metadata.records) > 1 for h in headers.values()), "a file with metadata of several kinds"
    sizes = {(h.width, h.height) for h in headers.values()}
    assert {(1, 1), (97, 1), (1, 97)} <= sizes
    grids = {h.tile_counts for h in headers.values() if MODES[h.mode].rgb_planes}
    assert any(rows > 1 and cols > 1 for rows, cols in grids), "a grid of several tiles"


def test_every_16_bit_form_is_covered() -> None:
    """Every form of a 16-bit section (the ranks of "indexed" too) and both transforms of the deep coder."""
    _, forms, transforms, _ = deep_coverage([FOLDER / name for name in MANIFEST])
    assert forms == set(DEEP_FORMS) and transforms == set(DEEP_TRANSFORMS)
