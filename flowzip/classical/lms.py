"""The LMS filter of the photo coder (method 9) and the 16-bit coder: a prediction corrected by a normalised LMS
filter over fourteen inputs (ten causal neighbours, the earlier channels' errors at this pixel, two predictions),
each relative to the prediction (L1codec's and NBLI's idea). Integers throughout, so the decoder repeats it."""

from __future__ import annotations

import numpy as np

from flowzip.jit import njit
from flowzip.learned.tiny_net import SAME, causal

LMS_INPUTS = 14


@njit(nogil=True, inline="always")  # once a subpixel in the coders' loops
def lms_correction(
    pixels: np.ndarray,
    i: int,
    j: int,
    k: int,
    a: int,
    blend: int,
    residuals: np.ndarray,
    first: int,
    third: int,
    weights: np.ndarray,
    inputs: np.ndarray,
    norm: int,
) -> tuple[int, int]:
    """(the prediction ``blend`` corrected, the filter's norm) at subpixel (i, j, k), in eighths: fills ``inputs``
    (the ten causal neighbours ``SAME``, the earlier channels' ``residuals`` here, the predictions ``first`` and
    ``third``, each less the blend) and adds channel k's ``weights[k]`` (units of 2^-16) times them; the norm is
    ``norm`` plus the inputs' squares."""
    for t in range(10):
        inputs[t] = 8 * causal(pixels, i, j, k, SAME[t][0], SAME[t][1], a) - blend
    inputs[10] = 8 * residuals[0] if k > 0 else 0
    inputs[11] = 8 * residuals[1] if k > 1 else 0
    inputs[12] = first - blend
    inputs[13] = third - blend
    correction = 0
    for q in range(LMS_INPUTS):
        correction += weights[k, q] * inputs[q]
        norm += inputs[q] * inputs[q]
    return blend + (correction >> 16), norm


@njit(nogil=True, inline="always")
def lms_learn(weights: np.ndarray, k: int, inputs: np.ndarray, error: int, limit: int, norm: int, shift: int) -> None:
    """Move channel k's ``weights[k]`` along ``inputs`` by the prediction's ``error`` (in eighths, clipped to
    +-``limit``) over ``norm``, scaled down by 2^``shift``."""
    step = (min(max(error, -limit), limit) << 16) // norm
    for q in range(LMS_INPUTS):
        weights[k, q] += (step * inputs[q]) >> shift
