"""The photo issue's yardstick: each codec's total over the union of the dev photo sets, from ``flowzip bench``.

    python -m benchmarks.photo_sets [RESULTS]      (default: runs/results, as benchmarks/readme_numbers.sh writes)

Reads ``cbsd68.json``, ``set5.json``, ``set14.json`` and ``waterloo.json`` (``flowzip bench --json``) and keeps
their colour photos (``colour_photos``): every codec's bits per subpixel over all of them together, its change
against JPEG XL e7, and the same per set. Every file in those runs was decoded and checked by ``flowzip bench``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.paths import CBSD68, DEV, RUNS
from flowzip.images import IMAGE_SUFFIXES

PHOTO_SETS = (CBSD68, DEV / "set5", DEV / "set14", DEV / "waterloo")
SYNTHETIC_COLOURS = 1 << 14  # waterloo's RGB images with fewer colours are drawings (frymire, serrano)
JPEG_XL_E7 = "JPEG XL lossless e7"


def colour_photos(folder: Path) -> list[Path]:
    """The colour photos of a dev set: its RGB images (grey ones left out), and in waterloo only those of at
    least ``SYNTHETIC_COLOURS`` colours."""
    chosen = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        with Image.open(path) as image:
            if image.mode != "RGB":
                continue
            if folder.name == "waterloo":
                rgb = np.asarray(image).reshape(-1, 3)
                if len(np.unique(rgb, axis=0)) < SYNTHETIC_COLOURS:
                    continue
        chosen.append(path)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=RUNS / "results")
    args = parser.parse_args()
    totals: dict[str, dict[str, int]] = {}  # set -> codec -> bits, with "subpixels"
    for folder in PHOTO_SETS:
        run = json.loads((args.results / f"{folder.name}.json").read_text())
        names = {p.name for p in colour_photos(folder)}
        rows = [row for row in run["per_image"] if Path(row["name"]).name in names]
        if len(rows) != len(names):
            raise SystemExit(f"{folder.name}.json has {len(rows)} of the set's {len(names)} colour photos")
        totals[folder.name] = {"subpixels": sum(row["subpixels"] for row in rows)}
        totals[folder.name] |= {codec: sum(row[codec] for row in rows) for codec in run["codecs"]}
    union = {key: sum(t.get(key, 0) for t in totals.values()) for key in totals[CBSD68.name]}
    # only the codecs run on every set count in the union
    codecs = [c for c in union if c != "subpixels" and all(c in t for t in totals.values())]
    header = " | ".join(f"{name} ({t['subpixels']:,})" for name, t in (*totals.items(), ("union", union)))
    print(f"| codec | {header} |\n|---|" + "---|" * (len(totals) + 1))
    for codec in codecs:
        cells = []
        for t in (*totals.values(), union):
            change = f" ({t[codec] / t[JPEG_XL_E7] - 1:+.2%})" if JPEG_XL_E7 in t and codec != JPEG_XL_E7 else ""
            cells.append(f"{t[codec] / t['subpixels']:.4f}{change}")
        print(f"| {codec} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
