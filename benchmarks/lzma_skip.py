"""What running LZMA2's strongest preset only where a fast one came near the context coder costs and saves.

    python benchmarks/lzma_skip.py [FOLDER ...] [--mosaic 2] [--npy runs/cifar10/test.npy --step 20]

The classical coder (``flowzip.classical``) codes every array with the context coder and with LZMA2 and keeps the
shorter. LZMA2 at its strongest preset is the slowest part of it (several seconds per megapixel), and on photos
it loses to the context coder anyway. So it first runs LZMA2 at preset 3, and on three channels the strongest
preset only where preset 3 came within ``lzma_skip_ratio`` (``flowzip.settings``) of the context coder (single
planes, where palette images, text and line art are, always get it).

For each image of the folders (default: the dev sets and ``runs/synthetic``, which ``benchmarks/synthetic.py``
writes; every mode kept, as ``flowzip bench --native`` does), for the speed benchmark's mosaic of ``--mosaic`` x
``--mosaic`` training crops and for every ``--step``-th image of ``--npy``, this compresses with the classical
coder alone (``tools=("classical",)``, one thread), as shipped and with the strongest preset always run, checks
that both files decode to the image, and prints per set the bytes and encode seconds of each, and the image that
lost most.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
from paths import CBSD68, DEV, RUNS

import flowzip
from flowzip.images import IMAGE_SUFFIXES, open_image
from flowzip.settings import DEFAULT_SETTINGS, EncoderSettings

FOLDERS = (CBSD68, DEV / "set5", DEV / "set14", DEV / "waterloo", RUNS / "synthetic")
CLASSICAL = ("classical",)


def code(image, ratio: float) -> tuple[int, float]:
    """(file bytes, encode seconds) of the classical coder alone with ``lzma_skip_ratio = ratio``; the decode
    is checked."""
    start = time.perf_counter()
    data = flowzip.compress(image, jobs=1, settings=EncoderSettings(tools=CLASSICAL, lzma_skip_ratio=ratio))
    seconds = time.perf_counter() - start
    decoded = flowzip.decompress(data)
    assert np.array_equal(np.asarray(decoded), np.asarray(image)), "decode differs"
    return len(data), seconds


def measure(name: str, images: list[tuple[str, object]]) -> None:
    """One table row for a set of (name, image)."""
    total = {"shipped": [0, 0.0], "always": [0, 0.0]}
    worst = (0.0, "")
    for label, image in images:
        skip, skip_s = code(image, DEFAULT_SETTINGS.lzma_skip_ratio)
        always, always_s = code(image, math.inf)
        total["shipped"][0] += skip
        total["shipped"][1] += skip_s
        total["always"][0] += always
        total["always"][1] += always_s
        worst = max(worst, (skip / always - 1, label))
    (s_bytes, s_s), (a_bytes, a_s) = total["shipped"], total["always"]
    print(
        f"| {name} | {len(images)} | {a_bytes:,} | {s_bytes:,} ({s_bytes / a_bytes - 1:+.3%}) | {a_s:.1f} | "
        f"{s_s:.1f} ({s_s / a_s:.2f}x) | {worst[1]} {worst[0]:+.3%} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=list(FOLDERS))
    parser.add_argument("--mosaic", type=int, default=2, help="crops a side of the speed mosaic (0: none)")
    parser.add_argument("--npy", type=Path, help="also images (N, H, W, 3) of this .npy file, every --step-th")
    parser.add_argument("--step", type=int, default=20)
    args = parser.parse_args()
    flowzip.compress(np.zeros((8, 8, 3), np.uint8), tools=CLASSICAL)  # compile the coders first
    print(f"lzma_skip_ratio = {DEFAULT_SETTINGS.lzma_skip_ratio}\n")
    print(
        "| images | files | bytes, strongest preset always | bytes, shipped | encode s, always | encode s, shipped "
        "| most lost |\n|---|---|---|---|---|---|---|"
    )
    for folder in args.folders:
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        measure(folder.name, [(p.name, open_image(p)) for p in paths])
    if args.npy:
        arrays = np.load(args.npy, mmap_mode="r")[:: args.step]
        measure(f"{args.npy.name}[::{args.step}]", [(str(k), np.array(a)) for k, a in enumerate(arrays)])
    if args.mosaic:
        from speed import mosaic

        measure(f"speed mosaic {args.mosaic}x{args.mosaic}", [("mosaic", mosaic(args.mosaic))])


if __name__ == "__main__":
    main()
