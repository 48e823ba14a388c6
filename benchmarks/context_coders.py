"""The classical coder's context coders side by side: bytes and time of each method on the same images.

    python -m benchmarks.context_coders [FOLDER ...] [--limit N]

Each image (RGB) goes through the transform the classical coder writes (centred subtract green), then through
every context method (``flowzip.classical.methods.CONTEXT_METHODS``: 5 to 9 of formats 2 to 7), one after
another on one thread; every stream is decoded and checked. Two more rows measure what method 9's learned
network adds: method 9's coder from a cold start (no learnt state, which was learnt with the network), with and
without the network (its input 0, its context model the predictions' spread). The defaults are the images the
methods were tuned on (the training photos) and one dev set (CBSD68). Prints bits per subpixel, each method's
change against method 6, and microseconds per subpixel each way.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from benchmarks.paths import CBSD68, TRAIN_PHOTOS
from flowzip.classical.context_coder import context_decode, context_encode
from flowzip.classical.methods import CONTEXT_METHODS
from flowzip.classical.photo_coder import photo_code
from flowzip.classical.state import photo_cold_state
from flowzip.classical.transforms import subtract_green
from flowzip.images import dataset_images
from flowzip.learned.tiny_net import tiny_net

Encode = Callable[[np.ndarray], bytes]
Decode = Callable[[bytes, tuple[int, int, int]], np.ndarray]


def _method(method: int) -> tuple[Encode, Decode]:
    def encode(pixels: np.ndarray) -> bytes:
        coded = context_encode(pixels.copy(), 10 * pixels.size + 64, method)
        assert coded is not None
        return coded

    return encode, lambda coded, shape: context_decode(coded, *shape)


def _cold_photo_coder(use_net: bool) -> tuple[Encode, Decode]:
    def encode(pixels: np.ndarray) -> bytes:
        out = np.empty(10 * pixels.size + 64, dtype=np.uint8)
        written = photo_code(pixels.copy(), out, False, *photo_cold_state(3), tiny_net(), use_net)
        return out[1:written].tobytes()  # the coder's first byte is always 0

    def decode(coded: bytes, shape: tuple[int, int, int]) -> np.ndarray:
        pixels = np.empty(shape, dtype=np.uint8)
        photo_code(pixels, np.frombuffer(coded, np.uint8).copy(), True, *photo_cold_state(3), tiny_net(), use_net)
        return pixels

    return encode, decode


CODERS = {str(m): _method(m) for m in CONTEXT_METHODS} | {
    "9 cold": _cold_photo_coder(True),
    "9 cold, no network": _cold_photo_coder(False),
}


def measure(folder: str, limit: int | None) -> None:
    count, images = dataset_images([folder], limit)
    size = dict.fromkeys(CODERS, 0)
    encode_s = dict.fromkeys(CODERS, 0.0)
    decode_s = dict.fromkeys(CODERS, 0.0)
    subpixels = 0
    for name, image in images:
        pixels = np.ascontiguousarray(subtract_green(np.asarray(image)[:, :, :3]))
        for label, (encode, decode) in CODERS.items():
            start = time.perf_counter()
            coded = encode(pixels)
            encode_s[label] += time.perf_counter() - start
            start = time.perf_counter()
            decoded = decode(coded, pixels.shape)
            decode_s[label] += time.perf_counter() - start
            if not np.array_equal(decoded, pixels):
                raise SystemExit(f"{name}: {label} did not decode exactly")
            size[label] += len(coded)
        subpixels += pixels.size
    print(f"\n{folder}: {count} images, {subpixels:,} subpixels, every stream decoded and checked\n")
    print("| method | bits per subpixel | against method 6 | encode µs/subpixel | decode µs/subpixel |")
    print("|---|---|---|---|---|")
    for label in CODERS:
        change = size[label] / size[str(CONTEXT_METHODS[1])] - 1
        print(
            f"| {label} | {8 * size[label] / subpixels:.4f} | {change:+.2%} | {1e6 * encode_s[label] / subpixels:.2f} "
            f"| {1e6 * decode_s[label] / subpixels:.2f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", default=[str(TRAIN_PHOTOS), str(CBSD68)])
    parser.add_argument("--limit", type=int, default=None, help="The first N images of each folder.")
    args = parser.parse_args()
    for encode, decode in CODERS.values():  # compile before timing
        decode(encode(np.zeros((2, 2, 3), np.uint8)), (2, 2, 3))
    for folder in args.folders:
        measure(folder, args.limit)


if __name__ == "__main__":
    main()
