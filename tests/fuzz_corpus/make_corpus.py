"""Write the mutated-file corpus: damaged copies of the format-1 compatibility files (seeded, reproducible).

    python tests/fuzz_corpus/make_corpus.py

Each file in this folder is a truncation, bit flips, byte edits, an insertion or junk appended to one file of
tests/compat/v1; sources.json names the original. tests/test_fuzz_corpus.py requires every one to decode to
its original's pixels or fail with a FlowzipError.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ORIGINALS = HERE.parent / "compat" / "v1"


def mutations(data: bytes, rng: np.random.Generator) -> dict[str, bytes]:
    n = len(data)
    out = {
        "truncated-header": data[: rng.integers(1, 12)],
        "truncated-payload": data[: rng.integers(12, n)],
        "junk-appended": data + rng.bytes(int(rng.integers(1, 40))),
        "zeros-appended": data + bytes(int(rng.integers(4, 9))),
        "inserted": data[:12] + rng.bytes(3) + data[12:],
    }
    for k in range(3):
        flipped = bytearray(data)
        for pos in rng.choice(n, size=k + 1, replace=False):
            flipped[pos] ^= 1 << int(rng.integers(8))
        out[f"bitflip-{k + 1}"] = bytes(flipped)
    for field, pos in (("version", 2), ("flags", 3), ("width", 4), ("height", 5), ("after-size", 6)):
        edited = bytearray(data)
        edited[pos] = int(rng.choice([0, 1, 0x7F, 0x80, 0xFF, int(rng.integers(256))]))
        out[f"field-{field}"] = bytes(edited)
    return out


def main() -> None:
    rng = np.random.default_rng(20261123)
    sources = {}
    for original in sorted(ORIGINALS.glob("*.fzi")):
        for kind, data in mutations(original.read_bytes(), rng).items():
            name = f"{original.stem}--{kind}.fzi"
            (HERE / name).write_bytes(data)
            sources[name] = original.name
    (HERE / "sources.json").write_text(json.dumps(sources, indent=1) + "\n")


if __name__ == "__main__":
    main()
