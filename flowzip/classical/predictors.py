"""Causal predictors: each pixel from its decoded neighbours in its own channel. One fixed predictor for a whole
array (for LZMA2), and method 6's blend of four weighted by their recent errors (for the context coder)."""

from __future__ import annotations

import numpy as np

from flowzip.classical.methods import PREDICTORS
from flowzip.jit import njit


@njit(nogil=True)  # tiles are coded on threads
def _neighbours(pixels: np.ndarray, i: int, j: int, k: int) -> tuple[int, int, int]:
    """(left, above, above left) of pixel (i, j) in channel k; outside the image, the left is the pixel above
    (0 for the first pixel), the above is the left, the above left is the above."""
    a = np.int32(pixels[i, j - 1, k]) if j > 0 else np.int32(pixels[i - 1, j, k]) if i > 0 else np.int32(0)
    b = np.int32(pixels[i - 1, j, k]) if i > 0 else a
    c = np.int32(pixels[i - 1, j - 1, k]) if i > 0 and j > 0 else b
    return a, b, c


@njit(nogil=True)
def median_edge(a: int, b: int, c: int) -> int:
    """The median edge detector of LOCO-I / JPEG-LS."""
    return min(a, b) if c >= max(a, b) else (max(a, b) if c <= min(a, b) else a + b - c)


@njit(nogil=True)
def apply_predictor(pixels: np.ndarray, residual: np.ndarray, method: int, undo: bool) -> None:
    """Forward: residual = pixels - prediction. Undo: pixels = residual + prediction (all mod 256).

    Arrays are (H, W, C); each channel is predicted from its own causal neighbours.
    """
    h, w, channels = pixels.shape
    for i in range(h):
        for j in range(w):
            for k in range(channels):
                a, b, c = _neighbours(pixels, i, j, k)
                if method == 0:
                    p = np.int32(0)
                elif method == 1:
                    p = a
                elif method == 2:
                    p = b
                elif method == 3:  # Paeth (PNG)
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                else:
                    p = median_edge(a, b, c)
                if undo:
                    pixels[i, j, k] = (np.int32(residual[i, j, k]) + p) & 255
                else:
                    residual[i, j, k] = (np.int32(pixels[i, j, k]) - p) & 255


def _entropy(values: np.ndarray) -> float:
    counts = np.bincount(values.ravel(), minlength=256)
    p = counts[counts > 0] / values.size
    return float(-(p * np.log2(p)).sum())


def best_prediction(pixels: np.ndarray) -> tuple[float, int, np.ndarray]:
    """(order-0 entropy, predictor, residuals) of the predictor with the lowest entropy."""
    best: tuple[float, int, np.ndarray] | None = None
    for method in range(len(PREDICTORS)):
        residual = np.empty_like(pixels)
        apply_predictor(pixels, residual, method, False)
        cost = _entropy(residual)
        if best is None or cost < best[0]:
            best = (cost, method, residual)
    assert best is not None
    return best


@njit(nogil=True)
def context_neighbours(pixels: np.ndarray, i: int, j: int, k: int) -> tuple[int, int, int, int]:
    """(left, above, above left, above right) of pixel (i, j) in channel k: ``_neighbours``, and above right,
    which is the above where there is none."""
    a, b, c = _neighbours(pixels, i, j, k)
    d = np.int32(pixels[i - 1, j + 1, k]) if i > 0 and j + 1 < pixels.shape[1] else b
    return a, b, c, d


SUB_PREDICTORS = 4
_BLEND_EPSILON = 32  # in eighths of a level: keeps the weights finite where every neighbour was predicted exactly


@njit(nogil=True)
def blended_prediction(
    a: int, b: int, c: int, d: int, i: int, j: int, k: int, sub_errors: np.ndarray, sub: np.ndarray, top: int
) -> int:
    """Method 6's prediction: four predictions (in eighths of a level) weighted by how well each predicted the
    four causal neighbours (left, above, above left, above right): the median edge detector, the mean of left
    and above, the gradient a + b - c, and b + d + a - c halved. ``sub`` receives the four, ``sub_errors`` holds
    each one's |8 x - prediction| for this row and the last (row i % 2). The blend is clamped to 0..``top``, the
    largest sample (255 for 8 bits)."""
    sub[0] = 8 * median_edge(a, b, c)
    sub[1] = 4 * (a + b)
    sub[2] = 8 * (a + b - c)
    sub[3] = 4 * (b + d + a - c)
    total, weights = error_weighted(i, j, k, sub, sub_errors)
    return min(max((total + 4 * weights) // (8 * weights), 0), top)


@njit(nogil=True, inline="always")
def error_weighted(i: int, j: int, k: int, predictions: np.ndarray, errors: np.ndarray) -> tuple[int, int]:
    """(sum of weight x prediction, sum of the weights) for subpixel (i, j, k): each prediction weighted by
    1 + 2^40 / (its errors at W, N, NW and NE + epsilon)^2, from ``errors`` (2, W, C, predictions): each one's
    |8 x - prediction| for this row and the last (row i % 2). Methods 6 and 9 blend so."""
    w = errors.shape[1]
    total, weights = 0, 0
    for q in range(predictions.shape[0]):
        spread = _BLEND_EPSILON
        if j > 0:
            spread += errors[i & 1, j - 1, k, q]
        if i > 0:
            spread += errors[(i - 1) & 1, j, k, q]
            if j > 0:
                spread += errors[(i - 1) & 1, j - 1, k, q]
            if j + 1 < w:
                spread += errors[(i - 1) & 1, j + 1, k, q]
        weight = 1 + (1 << 40) // (spread * spread)
        total += weight * predictions[q]
        weights += weight
    return total, weights
