"""Cut small crops of a folder of photos into a ``.npy`` array, for measuring small-image coding.

    python -m benchmarks.data.crops [FOLDER] [--size 32] [--per-image 16] [--seed 0] [--out runs/cbsd68-crops32.npy]

Takes ``--per-image`` crops of ``--size`` pixels at random positions (seeded) from every image of FOLDER
(default ``../shared/data/dev/cbsd68``) and writes them as a uint8 array (N, size, size, 3), in file order;
``flowzip bench`` then codes each crop as a file of its own.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.paths import CBSD68, RUNS
from flowzip.images import IMAGE_SUFFIXES, read_image_rgb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(CBSD68))
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--per-image", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RUNS / "cbsd68-crops32.npy")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    crops = []
    for path in sorted(p for p in Path(args.folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        image = read_image_rgb(path)
        for _ in range(args.per_image):
            top = rng.integers(image.shape[0] - args.size + 1)
            left = rng.integers(image.shape[1] - args.size + 1)
            crops.append(image[top : top + args.size, left : left + args.size])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, np.stack(crops))
    print(f"{args.out}: {len(crops)} crops of {args.size}x{args.size}")


if __name__ == "__main__":
    main()
