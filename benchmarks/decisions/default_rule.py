"""Which models should ``flowzip compress`` try on a small image? Each model alone, and every set of them.

    python -m benchmarks.decisions.default_rule [--models photo,cifar10] [--limit 500] [--json runs/default_rule.json]

Sets of small images, none of them test images: the CIFAR-10 training images that training holds out (the
default split: 5 %, seed 0; from ``runs/cifar10/train.npy``, which ``benchmarks/data/cifar10.py`` writes), crops of
the CBSD68 photos (``runs/cbsd68-crops32.npy`` and ``runs/cbsd68-crops64.npy``, from ``benchmarks/data/crops.py``
with ``--per-image`` 16 and 4) and 32x32 crops of the synthetic graphics (``runs/synthetic-crops32.npy``: the
PNGs of ``benchmarks/data/synthetic.py`` cut by ``benchmarks/data/crops.py runs/synthetic --per-image 16``). A missing
set is skipped with a note. ``--limit`` takes the first N images of each set.

Every image is coded as a whole file by each model on one core (with every tool, as compress codes it), decoded and
compared pixel for pixel. A set of models costs what compress pays when it tries them all and keeps the
shortest file: per image the shortest of their files, and the sum of their encode times. Prints, per image
set, bits per subpixel (whole files) and encode milliseconds per image for every non-empty set of models.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

import flowzip
from benchmarks.paths import RUNS
from flowzip.images import load_rgb_images
from flowzip.learned.config import TrainConfig
from flowzip.learned.train import split_held_out
from flowzip.learned.zoo import LARGE_IMAGE_MODEL

CROP_SETS = (
    ("CBSD68 crops 32x32", "cbsd68-crops32.npy"),
    ("CBSD68 crops 64x64", "cbsd68-crops64.npy"),
    ("synthetic crops 32x32", "synthetic-crops32.npy"),
)


def image_sets(limit: int) -> dict[str, np.ndarray]:
    """The sets that exist here, by name, each (N, H, W, 3) uint8."""
    sets = {}
    cifar = RUNS / "cifar10" / "train.npy"
    if cifar.exists():
        split = TrainConfig(data=[str(cifar)], out="")  # training's default held-out split
        _, held_out = split_held_out(load_rgb_images([str(cifar)]), split.val_fraction, split.seed)
        sets["CIFAR-10 held-out (32x32)"] = np.stack(held_out[:limit])
    else:
        print(f"(skipped CIFAR-10: {cifar} not found)")
    for name, file in CROP_SETS:
        if (RUNS / file).exists():
            sets[name] = np.load(RUNS / file)[:limit]
        else:
            print(f"(skipped {name}: {RUNS / file} not found)")
    return sets


def measure(images: np.ndarray, model: str) -> tuple[np.ndarray, np.ndarray]:
    """File bytes and encode seconds of every image with ``model`` on one core, every decode checked."""
    sizes, seconds = np.zeros(len(images)), np.zeros(len(images))
    for i, image in enumerate(images):
        start = time.perf_counter()
        data = flowzip.compress(image, model=model, jobs=1)
        seconds[i] = time.perf_counter() - start
        if not np.array_equal(flowzip.decompress(data, model=model, jobs=1), image):
            raise SystemExit(f"model {model}: image {i} did not decode exactly")
        sizes[i] = len(data)
    return sizes, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=f"{LARGE_IMAGE_MODEL},cifar10", help="comma-separated")
    parser.add_argument("--limit", type=int, default=500, help="the first N images of each set")
    parser.add_argument("--json", type=Path, help="also write every file size and time here")
    args = parser.parse_args()
    models = args.models.split(",")
    record = {}
    for set_name, images in image_sets(args.limit).items():
        results = {model: measure(images, model) for model in models}
        record[set_name] = {m: {"bytes": s.tolist(), "seconds": t.tolist()} for m, (s, t) in results.items()}
        print(f"\n### {set_name}: {len(images)} images\n")
        print("| models tried | bits per subpixel | encode ms per image |\n|---|---|---|")
        for r in range(1, len(models) + 1):
            for chosen in itertools.combinations(models, r):
                sizes = np.min([results[m][0] for m in chosen], axis=0)
                seconds = np.sum([results[m][1] for m in chosen], axis=0)
                bits = 8 * sizes.sum() / images.size
                print(f"| {' + '.join(chosen)} | {bits:.4f} | {1000 * seconds.mean():.1f} |")
    if args.json:
        args.json.write_text(json.dumps(record))


if __name__ == "__main__":
    main()
