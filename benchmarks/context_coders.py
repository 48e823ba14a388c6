"""The classical coder's context coders side by side: bytes and seconds of each method on the same images.

    python -m benchmarks.context_coders [FOLDER ...] [--limit N]

Each image (RGB) goes through the transform the classical coder writes (centred subtract green), then through
every context method (``flowzip.classical.methods.CONTEXT_METHODS``: 5 to 8 of formats 2 to 5), one
after another on one thread; every stream is decoded and checked. The defaults are the images the methods were
tuned on (the training photos) and one dev set (CBSD68). Prints bits per subpixel and each method's change
against method 6, with encode and decode seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.paths import CBSD68, TRAIN_PHOTOS
from flowzip.classical.context_coder import context_decode, context_encode
from flowzip.classical.methods import CONTEXT_METHODS
from flowzip.classical.transforms import subtract_green
from flowzip.images import dataset_images


def measure(folder: str, limit: int | None) -> None:
    count, images = dataset_images([folder], limit)
    size = dict.fromkeys(CONTEXT_METHODS, 0)
    encode_s = dict.fromkeys(CONTEXT_METHODS, 0.0)
    decode_s = dict.fromkeys(CONTEXT_METHODS, 0.0)
    subpixels = 0
    for name, image in images:
        pixels = np.ascontiguousarray(subtract_green(np.asarray(image)[:, :, :3]))
        for method in CONTEXT_METHODS:
            start = time.perf_counter()
            coded = context_encode(pixels.copy(), 10 * pixels.size + 64, method)
            encode_s[method] += time.perf_counter() - start
            assert coded is not None
            start = time.perf_counter()
            decoded = context_decode(coded, *pixels.shape)
            decode_s[method] += time.perf_counter() - start
            if not np.array_equal(decoded, pixels):
                raise SystemExit(f"{name}: method {method} did not decode exactly")
            size[method] += len(coded)
        subpixels += pixels.size
    print(f"\n{folder}: {count} images, {subpixels:,} subpixels, every stream decoded and checked\n")
    print("| method | bits per subpixel | against method 6 | encode s | decode s |\n|---|---|---|---|---|")
    for method in CONTEXT_METHODS:
        change = size[method] / size[CONTEXT_METHODS[1]] - 1
        print(
            f"| {method} | {8 * size[method] / subpixels:.4f} | {change:+.2%} | {encode_s[method]:.1f} "
            f"| {decode_s[method]:.1f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", default=[str(TRAIN_PHOTOS), str(CBSD68)])
    parser.add_argument("--limit", type=int, default=None, help="The first N images of each folder.")
    args = parser.parse_args()
    for method in CONTEXT_METHODS:  # compile before timing
        context_decode(context_encode(np.zeros((2, 2, 3), np.uint8), 64, method) or b"", 2, 2, 3)
    for folder in args.folders:
        measure(folder, args.limit)


if __name__ == "__main__":
    main()
