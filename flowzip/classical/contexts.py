"""The context model of methods 5 and 6: an activity context from local gradients and recent errors, a bias
context that adds the neighbourhood's shape, and the mean error of each bias context (LOCO-I's correction)."""

from __future__ import annotations

import numpy as np

from flowzip.jit import njit

ACTIVITY_CONTEXTS = 24
BITS_PER_CONTEXT = 1 + 7 + 8 * 8  # zero flag, the unary length (7), the mantissa bits (by length, position)
SHAPES = 27  # signs of three gradients
_BIAS_LIMIT = 128  # the error sums of a context are halved when it has seen this many


@njit(nogil=True)
def context_model(a: int, b: int, c: int, d: int, i: int, j: int, k: int, errors: np.ndarray) -> tuple[int, int]:
    """(activity context, bias context) of pixel (i, j) in channel k with neighbours a, b, c, d."""
    ew = errors[i, j - 1, k] if j > 0 else 0
    en = errors[i - 1, j, k] if i > 0 else 0
    ctx = half_octave(abs(a - c) + abs(b - c) + abs(d - b) + ew + en, ACTIVITY_CONTEXTS - 1)
    # the bias context adds the shape of the neighbourhood: the signs of three gradients
    shape = 9 * _sign3(b - c) + 3 * _sign3(a - c) + _sign3(d - b)
    return ctx, ctx * SHAPES + shape


@njit(nogil=True)
def half_octave(v: int, cap: int) -> int:
    """A quantiser of v >= 0 in half-octave steps, at most ``cap``: the bit length n of v where n <= 1, else
    2n - 1 + the bit below the top one (0, 1, 2, 3 -> 0, 1, 3, 4; 4..5 -> 5, 6..7 -> 6, 8..11 -> 7, ...)."""
    length = 0
    while v >> length:
        length += 1
    return min(2 * length - 1 + ((v >> (length - 2)) & 1) if length >= 2 else length, cap)


@njit(nogil=True)
def _sign3(x: int) -> int:
    return 0 if x < 0 else (1 if x == 0 else 2)


@njit(nogil=True)
def bias(sums: np.ndarray, counts: np.ndarray, k: int, ctx: int) -> int:
    """The mean error of a context so far, rounded to nearest (exact integer arithmetic on both sides)."""
    n = counts[k, ctx]
    return 0 if n == 0 else (2 * sums[k, ctx] + n) // (2 * n)


@njit(nogil=True)
def learn(sums: np.ndarray, counts: np.ndarray, errors: np.ndarray, i: int, j: int, k: int, ctx: int, e: int) -> None:
    sums[k, ctx] += e
    counts[k, ctx] += 1
    if counts[k, ctx] >= _BIAS_LIMIT:
        sums[k, ctx] >>= 1  # arithmetic shift: rounds towards minus infinity on both sides
        counts[k, ctx] >>= 1
    errors[i, j, k] = abs(e)


@njit(nogil=True)
def unary_slots(length: int) -> int:
    return min(length + 1, 7)  # the lengths 0..6 end with a 0 bit; 7, the longest, needs none
