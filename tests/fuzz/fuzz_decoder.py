#!/usr/bin/env python3
"""Coverage-guided fuzzing of the decoder with atheris (libFuzzer for Python, as OSS-Fuzz runs Python projects).

    python tests/fuzz/fuzz_decoder.py CORPUS_DIR -max_total_time=SECONDS [libFuzzer options]

Each input goes to ``flowzip.read_header``, ``flowzip.decompress`` and, through the Pillow plugin,
``Image.open``: it must end in the image or a ``FlowzipError`` (or, from Pillow, the errors Pillow raises for a
file it cannot read). Any other exception is a crash, which libFuzzer saves and reports; its -timeout and
-rss_limit_mb turn a hang or a huge allocation into one too. New inputs go to CORPUS_DIR; the seeds, read
too, are the compatibility and conformance corpora, the damaged files of tests/fuzz_corpus and tests/fuzz/seeds
(what earlier campaigns found that adds coverage, merged with -merge=1). tests/test_fuzz.py runs it briefly in
CI; run it longer by hand for a campaign. flowzip's modules are instrumented for coverage but for those with
compiled loops (numba compiles from the bytecode that instrumentation changes), and PyTorch is not, so coverage
counts the parser, the codec, the tile and section logic and the models' Python.
"""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path

import atheris
import numpy as np  # noqa: F401  (imported before instrumentation: only flowzip is instrumented)
import torch  # noqa: F401
from PIL import Image, UnidentifiedImageError

# numba compiles the pixel loops from their bytecode, which instrumentation would change
PACKAGE = Path(__file__).resolve().parents[2] / "flowzip"
COMPILED = [
    ".".join(("flowzip", *p.relative_to(PACKAGE).with_suffix("").parts))
    for p in sorted(PACKAGE.rglob("*.py"))
    if "njit" in p.read_text()
]
with atheris.instrument_imports(include=["flowzip"], exclude=COMPILED):
    import flowzip
    import flowzip.tiles
    from flowzip.container import MAGIC
    from flowzip.errors import FlowzipError
    from flowzip.frontends import pillow_plugin
    from flowzip.learned.zoo import load_model_file

TESTS = Path(__file__).resolve().parents[1]
SEED_DIRS = [
    *sorted((TESTS / "compat").glob("v*")),
    TESTS / "conformance",
    TESTS / "fuzz_corpus",
    TESTS / "fuzz" / "seeds",
]
TEST_MODEL = load_model_file(TESTS / "models" / "tiny.fzm")  # the model of the compatibility corpus' RGB files
MAX_PIXELS = 1 << 20  # a decode's work grows with the pixels a file claims; keep each input's time short


def test_one_input(data: bytes) -> None:
    """Decode ``data`` every way a user can; anything but an image or a clean refusal escapes."""
    try:
        header = flowzip.read_header(data, max_pixels=MAX_PIXELS)
        model = TEST_MODEL if header.model_id and TEST_MODEL.weights_hash.startswith(header.model_id) else None
        flowzip.decompress(data, model=model, max_pixels=MAX_PIXELS)
    except FlowzipError as e:
        assert "\n" not in str(e), "errors are one line"
    if data[: len(MAGIC)] != MAGIC:
        return  # Pillow's own formats are Pillow's to fuzz
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[pillow_plugin.FORMAT]) as image:
                if image.width * image.height <= MAX_PIXELS:
                    image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, FlowzipError):
        pass


def main() -> None:
    """Fuzz, reading the seeds after the corpus folder (the first argument that is not an option), or run the
    input files given instead."""
    args = sys.argv[:]
    first = next((k for k, a in enumerate(args[1:], 1) if not a.startswith("-")), None)
    if first is not None and Path(args[first]).is_dir() and "-merge=1" not in args:
        args[first + 1 : first + 1] = [str(d) for d in SEED_DIRS if d.is_dir()]
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
