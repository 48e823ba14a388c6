"""What the classical coder's try on the whole image costs and saves on large photos.

    python benchmarks/whole_image_try.py [--sizes 1.5,6] [--model photo]

Where the flow loses a tile, the encoder also codes the whole image with the classical coder (one core's work,
beside the tiles) and keeps that if it is shorter (``flowzip.tiles``). For each of the speed benchmark's mosaics of
training photos (``benchmarks/speed.py``), this compresses on all cores with the try (as shipped) and without it
(``EncoderSettings(whole_image_max_pixels=0)``), checks that both files decode to the image, and prints bytes, bits per
subpixel and encode seconds of each.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from speed import GRIDS, mosaic

import flowzip
from flowzip.learned.zoo import LARGE_IMAGE_MODEL, load_model
from flowzip.settings import DEFAULT_SETTINGS, EncoderSettings


def code(image: np.ndarray, model: str, limit: int) -> tuple[int, float]:
    """(file bytes, encode seconds) with the whole-image try up to ``limit`` pixels; the decode is checked."""
    start = time.perf_counter()
    data = flowzip.compress(image, model=model, settings=EncoderSettings(whole_image_max_pixels=limit))
    seconds = time.perf_counter() - start
    assert np.array_equal(flowzip.decompress(data, model=model), image)
    return len(data), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1.5,6", help=f"mosaic sizes among {','.join(GRIDS)}")
    parser.add_argument("--model", default=LARGE_IMAGE_MODEL)
    args = parser.parse_args()
    load_model(args.model)
    print("| mosaic | megapixels | with the try: bits/subpixel, encode s | without: bits/subpixel, encode s | change |")
    print("|---|---|---|---|---|")
    for size in args.sizes.split(","):
        image = mosaic(GRIDS[size])
        flowzip.compress(image[:64, :64], model=args.model)  # compile everything before timing
        with_try = code(image, args.model, DEFAULT_SETTINGS.whole_image_max_pixels)
        without = code(image, args.model, 0)
        bpsp = [8 * n / image.size for n, _ in (with_try, without)]
        print(
            f"| {size} | {image.shape[0] * image.shape[1] / 1e6:.2f} | {bpsp[0]:.4f}, {with_try[1]:.1f} "
            f"| {bpsp[1]:.4f}, {without[1]:.1f} | {100 * (without[0] / with_try[0] - 1):+.2f} % bytes |"
        )


if __name__ == "__main__":
    main()
