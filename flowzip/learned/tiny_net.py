"""The tiny network inside method 9 (``flowzip.classical.photo_coder``): each subpixel's discretized logistic,
from its causal neighbours, in integer arithmetic, so that every machine decodes the same bits. No PyTorch:
trained in floating point by ``benchmarks/decisions/tiny_net.py``, rounded to integers by ``quantize`` and
shipped as plain arrays (``TINY_NET``, checked by its hash). The arithmetic is specified in ``docs/format.md``
("Context-coded data", method 9).

Inputs, in the centred subtract-green space: ten causal neighbours in the subpixel's channel, and for each other
channel its value at this pixel where coded already and three causal neighbours, each as ``2 v - (W + N)`` of
its channel (twice its distance from the mean of the left and above neighbours); one hidden layer of 16 ReLUs
(a bias per channel); out come the logistic's mean, in 1/32 of a level, and its log-scale, in eighths of an
octave.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from flowzip.jit import njit
from flowzip.shipped import shipped_arrays

SAME = ((0, -1), (-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0), (-1, -2), (-1, 2), (-2, -1), (-2, 1))
OTHER = ((0, -1), (-1, 0), (-1, 1))  # causal in every channel: pixels before this one
INPUTS = len(SAME) + 2 * (1 + len(OTHER))
_SAME = np.array(SAME, dtype=np.int64)
_OTHER = np.array(OTHER, dtype=np.int64)
HIDDEN_BITS = 16  # hidden units in units of 2^-16
OUT_BITS = 28  # the outputs' sums, before the shift, in units of 2^-28
INPUT_BOUND = 510  # every input is 2 v - (W + N) of levels 0..255, or 0
INPUT_UNIT = 64  # the float network's inputs are (v - base) / 32 = (2 v - W - N) / 64
MEAN_UNIT = 32  # the mean in 1/32 of a level; the float network's mean offset is in units of 32 levels
SCALE_STEPS = 8  # the log-scale in eighths of an octave
LOG_SCALE_RANGE = (-35, 69)  # e^-3 .. e^6, as the float network clamps it
CDF_BITS = 24

TINY_NET = "tiny-net-1.npz"  # in flowzip.models
TINY_NET_SHA256 = "62312b3e6985cc1b56b5a2f014ca7c187125d18fd018662bcf791179a7225be8"


class TinyNetWeights(NamedTuple):
    """The integer network: hidden = relu(b1[channel] + w1 @ inputs) in units of 2^-16; (mean, log-scale) =
    round((b2 + w2 @ hidden) / 2^28)."""

    w1: np.ndarray  # (hidden, INPUTS) int64
    b1: np.ndarray  # (3, hidden) int64: the bias and the channel's one-hot weight
    w2: np.ndarray  # (2, hidden) int64
    b2: np.ndarray  # (2,) int64


def quantize(w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> TinyNetWeights:
    """The integer network nearest the float one of ``benchmarks/decisions/tiny_net.py`` (its ``l1`` and ``l2``
    weights and biases; ``w1``'s last three columns the channel's one-hot)."""
    out_scale = np.array([[MEAN_UNIT * 32.0], [SCALE_STEPS / math.log(2)]])  # nats -> eighths of an octave
    return TinyNetWeights(
        np.round(w1[:, :INPUTS] * (1 << HIDDEN_BITS) / INPUT_UNIT).astype(np.int64),
        np.round((b1[None, :] + w1[:, INPUTS:].T) * (1 << HIDDEN_BITS)).astype(np.int64),
        np.round(w2 * out_scale * (1 << (OUT_BITS - HIDDEN_BITS))).astype(np.int64),
        np.round(b2 * out_scale[:, 0] * (1 << OUT_BITS)).astype(np.int64),
    )


def from_checkpoint(path: Path) -> TinyNetWeights:
    """``quantize`` of a float network saved by ``benchmarks/decisions/tiny_net.py`` (PyTorch is imported here
    only)."""
    import torch

    weights = torch.load(path, weights_only=True)
    return quantize(*(weights[k].double().numpy() for k in ("l1.weight", "l1.bias", "l2.weight", "l2.bias")))


@cache
def tiny_net() -> TinyNetWeights:
    """The shipped network, read once and checked against ``TINY_NET_SHA256``."""
    return shipped_arrays(TINY_NET, TinyNetWeights, TINY_NET_SHA256)


@njit(nogil=True)
def first_layer(w1: np.ndarray, b1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``TinyNetWeights``' first layer as ``net_forward`` reads it: ``w1`` transposed (INPUTS, hidden) and both
    in int32, which holds every hidden sum exactly (checked: each input is within +-``INPUT_BOUND``)."""
    for h in range(w1.shape[0]):
        bound = np.abs(b1[:, h]).max()
        for q in range(INPUTS):
            bound += abs(w1[h, q]) * INPUT_BOUND
        if bound >= 1 << 31:
            raise ValueError("the network's hidden sums do not fit 32 bits")
    return np.ascontiguousarray(w1.T).astype(np.int32), b1.astype(np.int32)


@njit(nogil=True, inline="always")
def causal(pixels: np.ndarray, i: int, j: int, k: int, di: int, dj: int, fallback: int) -> int:
    """pixels[i + di, j + dj, k] with the row clamped to the first and the column into the image; ``fallback``
    where that is not yet coded (this pixel or later in raster order)."""
    r, c = max(i + di, 0), min(max(j + dj, 0), pixels.shape[1] - 1)
    if r > i or (r == i and c >= j):
        return fallback
    return np.int64(pixels[r, c, k])


@njit(nogil=True, inline="always")
def _twice_base(pixels: np.ndarray, i: int, j: int, c: int) -> tuple[int, int]:
    """(left, W + N) of pixel (i, j) in channel c: the left is the pixel above in the first column (0 for the
    first pixel), the above is the left in the first row."""
    left = causal(pixels, i, j, c, -1, 0, 0) if j == 0 else causal(pixels, i, j, c, 0, -1, 0)
    return left, left + causal(pixels, i, j, c, -1, 0, left)


@njit(nogil=True, inline="always")
def _gather(pixels: np.ndarray, i: int, j: int, k: int, inputs: np.ndarray) -> int:
    """The inputs of subpixel (i, j, k) into ``inputs``; returns its W + N. Away from the edges every neighbour
    is in the image and coded, so the clamps of ``causal`` are skipped there (the same values, a third of the
    time)."""
    if i < 2 or j < 2 or j + 2 >= pixels.shape[1]:
        left, twice_base = _twice_base(pixels, i, j, k)
        for t in range(len(_SAME)):
            inputs[t] = 2 * causal(pixels, i, j, k, _SAME[t, 0], _SAME[t, 1], left) - twice_base
    else:
        twice_base = np.int64(pixels[i, j - 1, k]) + np.int64(pixels[i - 1, j, k])
        for t in range(len(_SAME)):
            inputs[t] = 2 * np.int64(pixels[i + _SAME[t, 0], j + _SAME[t, 1], k]) - twice_base
    f = len(_SAME)
    for c in range(pixels.shape[2]):
        if c == k:
            continue
        other_left, other_base = _twice_base(pixels, i, j, c)
        inputs[f] = 2 * np.int64(pixels[i, j, c]) - other_base if c < k else 0
        for t in range(len(_OTHER)):
            inputs[f + 1 + t] = 2 * causal(pixels, i, j, c, _OTHER[t, 0], _OTHER[t, 1], other_left) - other_base
        f += 1 + len(_OTHER)
    return twice_base


@njit(nogil=True)
def net_forward(
    pixels: np.ndarray,
    i: int,
    j: int,
    k: int,
    layer1: tuple[np.ndarray, np.ndarray],
    w2: np.ndarray,
    b2: np.ndarray,
    scratch: tuple[np.ndarray, np.ndarray],
) -> tuple[int, int]:
    """(mean in 1/32 of a level, log-scale in eighths of an octave) of subpixel (i, j, k), its earlier channels
    at this pixel known; ``layer1`` the ``first_layer`` of a ``TinyNetWeights``, ``w2, b2`` its second;
    ``scratch`` (inputs, hidden): int32 arrays of ``INPUTS`` and of the hidden units."""
    w1, b1 = layer1
    inputs, hidden = scratch
    twice_base = _gather(pixels, i, j, k, inputs)
    for h in range(hidden.shape[0]):
        hidden[h] = b1[k, h]
    for q in range(INPUTS):  # input by input: the hidden sums are one vector each step
        x = inputs[q]
        for h in range(hidden.shape[0]):
            hidden[h] += w1[q, h] * x
    mean, log_scale = b2[0], b2[1]
    for h in range(hidden.shape[0]):
        total = np.int64(max(hidden[h], 0))
        mean += w2[0, h] * total
        log_scale += w2[1, h] * total
    half = 1 << (OUT_BITS - 1)
    mean = 16 * twice_base + ((mean + half) >> OUT_BITS)
    log_scale = min(max((log_scale + half) >> OUT_BITS, LOG_SCALE_RANGE[0]), LOG_SCALE_RANGE[1])
    return mean, log_scale
