"""Would mixing several context models help the classical coder? An estimate in floating point.

    python benchmarks/context_mixing.py [FOLDER] [--limit 3] [--inputs 5] [--rate 0.005]

The context coder (``flowzip.planes``, method 6) codes each bit of a residual under one adaptive probability,
chosen by one context. Coders of the PAQ family instead mix the predictions of several contexts' probabilities
in the logistic domain, with weights learned online. Here the same residuals (same prediction, bias
correction and binarisation as method 6, on the centred subtract-green transform of each image) are coded in
theory, as the sum of -log2 P(bit), by (a) method 6's model and (b) a logistic mix of up to 5 models: method
6's context; the bias context (activity and the shape of the neighbourhood); the quantised errors at the left,
above and above-left; the previous channel's error at this pixel with the activity; and the gap between the
blended prediction and the median edge detector with the left error. Weights are per channel, bit slot and
activity. The floating point makes this an estimate, not a coder: a real one needs integer arithmetic that
the decoder repeats exactly.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from numba import njit

from flowzip.images import dataset_images
from flowzip.planes import (
    _ACTIVITY_CONTEXTS,
    _BITS_PER_CONTEXT,
    _SHAPES,
    _SUB_PREDICTORS,
    _bias,
    _blended_prediction,
    _context_model,
    _context_neighbours,
    _learn,
    _subtract_green,
)

SIGN_SLOT = _BITS_PER_CONTEXT  # the sign bit gets a slot of its own here
SLOTS = _BITS_PER_CONTEXT + 1
MAX_INPUTS = 5
LIMIT = 1 / 32768  # method 6's probabilities are 15-bit


@njit
def _adapt(row: np.ndarray, bit: int) -> None:
    """Method 6's adaptive probability (of a 1) in floating point: step 2**-shift, the shift growing with use."""
    shift = min(3 + int(row[1]) // 8, 6)
    row[1] = min(row[1] + 1, 24)
    row[0] += (bit - row[0]) / (1 << shift)


@njit
def _bucket(v: int) -> int:
    return min(int(math.log2(v + 1) * 1.5), 7)


@njit
def _bits_of(e: int, slots: np.ndarray, bits: np.ndarray) -> int:
    """Method 6's binarisation of residual ``e``: (slot, bit) pairs; returns how many."""
    m = abs(e)
    slots[0], bits[0] = 0, int(m != 0)
    n = 1
    if m:
        length = 0
        while m >> (length + 1):
            length += 1
        slots[n], bits[n] = SIGN_SLOT, int(e < 0)
        n += 1
        for t in range(min(length + 1, 7)):
            slots[n], bits[n] = 1 + t, int(t < length)
            n += 1
        for q in range(length):
            slots[n], bits[n] = 8 + 8 * length + q, (m >> (length - 1 - q)) & 1
            n += 1
    return n


@njit
def code_lengths(pixels: np.ndarray, inputs: int, rate: float) -> tuple[float, float]:
    """(method 6's, the mix's) ideal code length in bits of ``pixels`` (H, W, C)."""
    h, w, channels = pixels.shape
    sizes = (_ACTIVITY_CONTEXTS * _SHAPES, _ACTIVITY_CONTEXTS * _SHAPES, 512, 120, 128)
    tables = [np.zeros((channels, sizes[z], SLOTS, 2)) + np.array([0.5, 0.0]) for z in range(MAX_INPUTS)]
    weights = np.zeros((channels, SLOTS, _ACTIVITY_CONTEXTS, MAX_INPUTS + 1))
    weights[..., 0] = 1.0
    sums = np.zeros((channels, _ACTIVITY_CONTEXTS * _SHAPES), dtype=np.int64)
    counts = np.zeros_like(sums)
    errors = np.zeros((h, w, channels), dtype=np.int32)
    sub_errors = np.zeros((2, w, channels, _SUB_PREDICTORS), dtype=np.int64)
    sub = np.zeros(_SUB_PREDICTORS, dtype=np.int64)
    slots, bits = np.zeros(20, dtype=np.int64), np.zeros(20, dtype=np.int64)
    contexts, stretched = np.zeros(MAX_INPUTS, dtype=np.int64), np.zeros(MAX_INPUTS + 1)
    single = mixed = 0.0
    for i in range(h):
        for j in range(w):
            for k in range(channels):
                a, b, c, d = _context_neighbours(pixels, i, j, k)
                ctx, bias_ctx = _context_model(a, b, c, d, i, j, k, errors)
                prediction = _blended_prediction(a, b, c, d, i, j, k, sub_errors, sub)
                p = (prediction + _bias(sums, counts, k, bias_ctx)) & 255
                e = ((np.int32(pixels[i, j, k]) - p + 128) & 255) - 128
                left = errors[i, j - 1, k] if j > 0 else 0
                above = errors[i - 1, j, k] if i > 0 else 0
                above_left = errors[i - 1, j - 1, k] if i > 0 and j > 0 else 0
                previous_channel = errors[i, j, k - 1] if k > 0 else 0
                contexts[1] = bias_ctx
                contexts[2] = _bucket(left) * 64 + _bucket(above) * 8 + _bucket(above_left)
                contexts[3] = min(int(math.log2(previous_channel + 1) * 2), 11) * 10 + min(ctx // 2, 9)
                gap = abs(prediction - sub[0] // 8)
                contexts[4] = min(int(math.log2(gap + 1) * 3), 15) * 8 + _bucket(left)
                for r in range(_bits_of(e, slots, bits)):
                    s, bit = slots[r], bits[r]
                    contexts[0] = bias_ctx if s == SIGN_SLOT else ctx  # as method 6
                    p1 = min(max(tables[0][k, contexts[0], s, 0], LIMIT), 1 - LIMIT)
                    single -= math.log2(p1 if bit else 1 - p1)
                    dot = 0.0
                    for z in range(inputs):
                        pz = min(max(tables[z][k, contexts[z], s, 0], 1 / 4096), 1 - 1 / 4096)
                        stretched[z] = math.log(pz / (1 - pz))
                        dot += weights[k, s, ctx, z] * stretched[z]
                    stretched[inputs] = 0.3  # a bias input
                    dot += weights[k, s, ctx, inputs] * stretched[inputs]
                    pm = min(max(1 / (1 + math.exp(-dot)), LIMIT), 1 - LIMIT)
                    mixed -= math.log2(pm if bit else 1 - pm)
                    for z in range(inputs + 1):
                        weights[k, s, ctx, z] += rate * (bit - pm) * stretched[z]
                    for z in range(MAX_INPUTS):
                        _adapt(tables[z][k, contexts[z], s], bit)
                _learn(sums, counts, errors, i, j, k, bias_ctx, e)
                for q in range(_SUB_PREDICTORS):
                    sub_errors[i & 1, j, k, q] = abs(8 * np.int64(pixels[i, j, k]) - sub[q])
    return single, mixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(Path("..") / "shared" / "data" / "dev" / "cbsd68"))
    parser.add_argument("--limit", type=int, default=3)
    parser.add_argument("--inputs", type=int, default=MAX_INPUTS, choices=range(1, MAX_INPUTS + 1))
    parser.add_argument("--rate", type=float, default=0.005, help="Learning rate of the mixing weights.")
    args = parser.parse_args()
    _, images = dataset_images([args.folder], args.limit)
    single = mixed = subpixels = 0.0
    for name, image in images:
        pixels = np.ascontiguousarray(_subtract_green(image, -1, 128))
        s, m = code_lengths(pixels, args.inputs, args.rate)
        single, mixed, subpixels = single + s, mixed + m, subpixels + pixels.size
        print(f"{name}: method 6 {s / pixels.size:.4f}, mixed {m / pixels.size:.4f} bits per subpixel", flush=True)
    print(f"all: method 6 {single / subpixels:.4f}, mixed {mixed / subpixels:.4f} ({mixed / single - 1:+.2%})")


if __name__ == "__main__":
    main()
