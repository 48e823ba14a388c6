"""Causal local context: latents coded position by position, the coder parameters of each position corrected
from its decoded neighbours (NeLLoC's local autoregressive model, on the flow's latents or on the pixels).

At position (i, j) a network sees the latents of the tensor at the positions before it in raster order within
``radius`` (the rows above, ``radius`` columns either side, and the positions to the left on its own row) and
features of what was decoded before the tensor (the condition of the prior). Training and the encoder
evaluate it at every position at once, with a masked convolution; the decoder evaluates it on what it has
decoded so far, a wavefront of positions at a time (``flowzip.learned.entropy.wavefronts``: positions that need
none of each other). All of it is exact fixed-point arithmetic (``flowzip.learned.exact``), so both give the same
parameters bit for bit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowzip.jit import njit
from flowzip.learned.config import FlowConfig
from flowzip.learned.exact import (
    ACT_BITS,
    ACT_LIMIT,
    LATENT_INPUT_SHIFT,
    FixedPointConv2d,
    FixedPointLinear,
    activation,
    latent_to_activation,
    requantize,
)
from flowzip.learned.nets import OUTPUT_SCALE

_ACT_SCALE = float(2**ACT_BITS)
_INPUT_SCALE = 2.0**-LATENT_INPUT_SHIFT


def causal_mask(channels: int, radius: int) -> Tensor:
    """The (1, channels, radius + 1, 2 radius + 1) mask of the neighbourhood: the ``radius`` rows above and the
    ``radius`` positions to the left; the centre and everything after it are zero."""
    mask = torch.zeros(1, channels, radius + 1, 2 * radius + 1)
    mask[:, :, :radius] = 1
    mask[:, :, radius, :radius] = 1
    return mask


class ContextSettings(NamedTuple):
    """The size of a ``CausalContext``: neighbourhood radius, channels and pointwise residual blocks."""

    radius: int
    hidden: int
    blocks: int


def context_settings(config: FlowConfig) -> ContextSettings | None:
    """The causal local context that ``config`` asks for (of the finest latents' prior, or of the pixels with no
    levels), if any."""
    if not config.context_radius:
        return None
    return ContextSettings(config.context_radius, config.context_hidden, config.context_blocks)


class _Weights(NamedTuple):
    """The fixed-point weights of a ``CausalContext`` (``CausalContext.fixed_weights``)."""

    neighbours: tuple[Tensor, Tensor]
    blocks: list[tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]]
    out: tuple[Tensor, Tensor]


class _CompiledWeights(NamedTuple):
    """The fixed-point weights in float64 numpy arrays, each layer's transposed to (inputs, outputs), for the
    decoder's compiled loop (``CausalContext.decoding_weights``)."""

    neighbours: np.ndarray
    neighbours_bias: np.ndarray
    blocks: np.ndarray  # (blocks, 2, hidden, hidden)
    blocks_bias: np.ndarray  # (blocks, 2, hidden)
    out: np.ndarray
    out_bias: np.ndarray


@njit(nogil=True)
def _activation(h: np.ndarray) -> None:
    """``exact.activation`` in place on (M, hidden): ReLU, onto the activation grid, within its bound."""
    for i in range(h.shape[0]):
        for q in range(h.shape[1]):
            h[i, q] = min(math.floor(max(h[i, q], 0.0) * _ACT_SCALE + 0.5) / _ACT_SCALE, ACT_LIMIT)


@njit(nogil=True)
def _affine(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``x weight + bias`` for x (M, inputs), weight (inputs, outputs): every product and sum exact, so in any
    order. Each weight row is read once for all M rows (the positions of a wavefront), and the inner loop runs
    along contiguous outputs."""
    m, outputs = x.shape[0], len(bias)
    out = np.empty((m, outputs))
    for i in range(m):
        out[i] = bias
    for k in range(x.shape[1]):
        row = weight[k]
        for i in range(m):
            v = x[i, k]
            if v != 0.0:
                for q in range(outputs):
                    out[i, q] += row[q] * v
    return out


@njit(nogil=True)
def _context_at(
    padded: np.ndarray,
    features: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    radius: int,
    w: _CompiledWeights,
) -> np.ndarray:
    """``CausalContext.forward`` at the positions (rows, cols) of each image, from ``padded`` (N, C, H + radius,
    W + 2 radius) and ``features`` (N, H, W, hidden) (or an empty array): (N, outputs, L). Exact fixed point,
    as the layers compute it (``flowzip.learned.exact``), so the same numbers bit for bit."""
    n, channels = padded.shape[:2]
    count, span = len(rows), 2 * radius + 1
    window = np.empty((n * count, channels * (radius + 1) * span))
    for b in range(n):
        for p in range(count):
            k = 0
            for c in range(channels):
                for di in range(radius + 1):
                    for dj in range(span):
                        z = padded[b, c, rows[p] + di, cols[p] + dj] * _INPUT_SCALE
                        window[b * count + p, k] = min(max(z, -ACT_LIMIT), ACT_LIMIT)
                        k += 1
    h = _affine(window, w.neighbours, w.neighbours_bias)
    if features.size:
        for b in range(n):
            for p in range(count):
                h[b * count + p] += features[b, rows[p], cols[p]]
    _activation(h)
    for block in range(len(w.blocks)):
        t = _affine(h, w.blocks[block, 0], w.blocks_bias[block, 0])
        _activation(t)
        u = _affine(t, w.blocks[block, 1], w.blocks_bias[block, 1])
        for i in range(h.shape[0]):  # exact.requantize(h + u)
            for q in range(h.shape[1]):
                h[i, q] = min(
                    max(math.floor((h[i, q] + u[i, q]) * _ACT_SCALE + 0.5) / _ACT_SCALE, -ACT_LIMIT), ACT_LIMIT
                )
    o = _affine(h, w.out, w.out_bias) * OUTPUT_SCALE
    result = np.empty((n, len(w.out_bias), count))
    for b in range(n):
        result[b] = o[b * count : (b + 1) * count].T
    return result


class CausalContext(nn.Module):
    """Corrections (N, ``outputs``, H, W) to the raw coder parameters of latents (N, C, H, W) from each position's
    causal neighbours (in every channel) and from ``known`` features (N, K, H, W); they start at zero."""

    def __init__(self, known_channels: int, channels: int, settings: ContextSettings, outputs: int):
        super().__init__()
        self.radius, hidden = settings.radius, settings.hidden
        self.register_buffer("mask", causal_mask(channels, self.radius), persistent=False)
        self.neighbours = FixedPointLinear(self.mask.numel(), hidden)
        with torch.no_grad():  # the masked-out weights get no gradient; keep them zero in the model file
            self.neighbours.weight.mul_(self.mask.flatten())
        self.known = FixedPointConv2d(known_channels, hidden) if known_channels else None
        self.blocks = nn.ModuleList(
            nn.ModuleList([FixedPointLinear(hidden, hidden), FixedPointLinear(hidden, hidden, zero_init=True)])
            for _ in range(settings.blocks)
        )
        self.out = FixedPointLinear(hidden, outputs, zero_init=True)

    def fixed_weights(self, dtype: torch.dtype) -> _Weights:
        """The fixed-point weights, masked, in ``dtype``: computed once per pass (or per decode, for ``at``)."""

        def fixed(layer: FixedPointLinear) -> tuple[Tensor, Tensor]:
            weight, bias = layer.fixed_point()
            return weight.to(dtype), bias.to(dtype)

        weight, bias = fixed(self.neighbours)
        return _Weights(
            (weight * self.mask.flatten().to(dtype), bias),
            [(fixed(a), fixed(b)) for a, b in self.blocks],
            fixed(self.out),
        )

    @staticmethod
    def _head(h: Tensor, weights: _Weights) -> Tensor:
        """The pointwise layers, on channels-last features (..., hidden) -> (..., outputs)."""
        h = activation(h)
        for a, b in weights.blocks:
            h = requantize(h + F.linear(activation(F.linear(h, *a)), *b))
        return F.linear(h, *weights.out) * OUTPUT_SCALE

    def known_features(self, known: Tensor | None) -> Tensor | None:
        """Features of what was decoded before, channels-last (N, H, W, hidden); computed once per tensor."""
        if self.known is None or known is None:
            return None
        return self.known(latent_to_activation(known)).permute(0, 2, 3, 1)

    def pad(self, z: Tensor) -> Tensor:
        """``z`` inside the zero border the neighbourhood reads: ``radius`` rows above, columns either side."""
        r = self.radius
        return F.pad(z, (r, r, r, 0))

    def forward(self, z: Tensor, known: Tensor | None) -> Tensor:
        """The corrections at every position at once."""
        weights = self.fixed_weights(z.dtype)
        weight, bias = weights.neighbours
        h = F.conv2d(latent_to_activation(self.pad(z)), weight.view(-1, *self.mask.shape[1:]), bias)
        h = h.permute(0, 2, 3, 1)
        features = self.known_features(known)
        if features is not None:
            h = h + features
        return self._head(h, weights).permute(0, 3, 1, 2)

    def decoding_weights(self) -> _CompiledWeights:
        """The fixed-point weights for ``at``, once per decode."""
        weights = self.fixed_weights(torch.float64)

        def transposed(*layers: tuple[Tensor, Tensor]) -> tuple[np.ndarray, np.ndarray]:
            w = torch.stack([weight.T for weight, _ in layers]).contiguous().numpy()
            return w, torch.stack([bias for _, bias in layers]).numpy()

        hidden = len(weights.neighbours[1])
        blocks = [transposed(a, b) for a, b in weights.blocks]
        return _CompiledWeights(
            *(a[0] for a in transposed(weights.neighbours)),
            np.stack([w for w, _ in blocks]) if blocks else np.zeros((0, 2, hidden, hidden)),
            np.stack([b for _, b in blocks]) if blocks else np.zeros((0, 2, hidden)),
            *(a[0] for a in transposed(weights.out)),
        )

    def at(
        self,
        padded: np.ndarray,
        features: np.ndarray,
        weights: _CompiledWeights,
        rows: np.ndarray,
        cols: np.ndarray,
    ) -> np.ndarray:
        """The corrections (N, outputs, L) at the L positions (rows, cols) of the tensor, given ``padded`` (``pad``
        of it, float64) with every position before each of them decoded (later positions are not read) and
        ``features`` (``known_features`` as float64 numpy, or an empty array). A compiled loop, equal bit for bit
        to ``forward`` (tests/test_flow.py)."""
        return _context_at(padded, features, rows, cols, self.radius, weights)
