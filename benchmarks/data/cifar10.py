"""Convert the shared CIFAR-10 sprite sheets into ``.npy`` arrays for ``flowzip train`` and ``flowzip bench``.

    python -m benchmarks.data.cifar10 [--data ../shared/data/cifar10] [--out runs/cifar10]

Writes OUT/train.npy (50000, 32, 32, 3) and OUT/test.npy (10000, 32, 32, 3), uint8, after checking every
sheet against the SHA-256 in the data's ``checksums.json``. The sheets' layout is described in the data's
README: image ``i`` of a sheet is the 32x32 tile at row ``i // 100``, column ``i % 100``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.paths import RUNS, SHARED_DATA

DATA = SHARED_DATA / "cifar10"


def read_sheet(path: Path) -> np.ndarray:
    """The 10,000 images of one sheet as a uint8 array (10000, 32, 32, 3), in sheet order."""
    with Image.open(path) as im:
        a = np.asarray(im.convert("RGB"))
    return np.ascontiguousarray(a.reshape(100, 32, 100, 32, 3).transpose(0, 2, 1, 3, 4).reshape(10000, 32, 32, 3))


def load_split(data: Path, split: str) -> np.ndarray:
    """All images of ``split`` ("train" or "test"), each sheet verified against ``checksums.json``."""
    checksums = json.loads((data / "checksums.json").read_text())
    names = sorted(n for n in checksums if n.startswith(split))
    sheets = []
    for name in names:
        sheet = read_sheet(data / name)
        if hashlib.sha256(sheet.tobytes()).hexdigest() != checksums[name]["sha256_of_uint8_NHWC"]:
            raise SystemExit(f"{data / name}: pixels do not match checksums.json")
        sheets.append(sheet)
    return np.concatenate(sheets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=RUNS / "cifar10")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        images = load_split(args.data, split)
        np.save(args.out / f"{split}.npy", images)
        print(f"{args.out / split}.npy: {images.shape}")


if __name__ == "__main__":
    main()
