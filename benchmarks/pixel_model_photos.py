"""A learned pixel model against the classical coder on whole photos: the question behind the photo work.

    python -m benchmarks.pixel_model_photos [FOLDER] [--model cifar10] [--limit 6]

For each photo (default: the first ``--limit`` of CBSD68): the model's code length of the whole image as one
tile (``flowzip.model_code_length``; what a file of it would cost, give or take the coder's 0.06 %), and the size
of a complete file from the classical coder alone (``tools=("classical",)``, one thread), in bits per subpixel,
with their totals.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import flowzip
from benchmarks.paths import CBSD68
from flowzip.container import MAX_TILE_LOG2
from flowzip.images import IMAGE_SUFFIXES, read_image_rgb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=CBSD68)
    parser.add_argument("--model", default="cifar10")
    parser.add_argument("--limit", type=int, default=6)
    args = parser.parse_args()
    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[: args.limit]
    print(f"| photo | {args.model}, whole image | classical coder, file | model seconds |\n|---|---|---|---|")
    totals, subpixels = np.zeros(2), 0
    for path in files:
        rgb = read_image_rgb(path)
        start = time.perf_counter()
        model_bits = flowzip.model_code_length(rgb, model=args.model, tile_size=1 << MAX_TILE_LOG2)
        seconds = time.perf_counter() - start
        classical_bits = 8 * len(flowzip.compress(rgb, tools=("classical",), jobs=1))
        totals += (model_bits, classical_bits)
        subpixels += rgb.size
        print(f"| {path.name} | {model_bits / rgb.size:.3f} | {classical_bits / rgb.size:.3f} | {seconds:.1f} |")
    model, classical = totals / subpixels
    print(f"| all {len(files)} | {model:.4f} | {classical:.4f} ({classical / model - 1:+.1%} against the model) | |")


if __name__ == "__main__":
    main()
