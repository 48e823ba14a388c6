"""Every damaged file of tests/fuzz_corpus decodes to its original's pixels or fails with a FlowzipError."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import flowzip

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "fuzz_corpus"
ORIGINALS = HERE / "compat" / "v1"
SOURCES = json.loads((CORPUS / "sources.json").read_text())
EXPECTED = json.loads((ORIGINALS / "manifest.json").read_text())


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_damaged_file(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    try:
        out = flowzip.decompress(data, model=str(ORIGINALS / "compat.fzm"))
    except flowzip.FlowzipError as e:
        assert str(e) and "\n" not in str(e)
        return
    digest = hashlib.sha256(np.ascontiguousarray(np.asarray(out)).tobytes()).hexdigest()
    assert digest == EXPECTED[SOURCES[name]]["sha256"], f"{name} decoded to other pixels"
