"""Causal local context: latents coded position by position in raster order, the coder parameters of each
position corrected from its decoded neighbours (NeLLoC's local autoregressive model, on the flow's latents).

At position (i, j) a network sees the latents of the tensor at the positions before it in raster order within
``radius`` (the rows above, ``radius`` columns either side, and the positions to the left on its own row) and
features of what was decoded before the tensor (the condition of the prior). Training and the encoder
evaluate it at every position at once, with a masked convolution; the decoder evaluates it one position at a
time on what it has decoded so far. All of it is exact fixed-point arithmetic (``flowzip.exact``), so both give
the same parameters bit for bit.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowzip.exact import (
    FixedPointConv2d,
    FixedPointLinear,
    activation,
    latent_to_activation,
    requantize,
)
from flowzip.nets import OUTPUT_SCALE


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


class _Weights(NamedTuple):
    """The fixed-point weights of a ``CausalContext`` (``CausalContext.fixed_weights``)."""

    neighbours: tuple[Tensor, Tensor]
    blocks: list[tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]]
    out: tuple[Tensor, Tensor]


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

    def at(self, padded: Tensor, features: Tensor | None, weights: _Weights, rows: Tensor, cols: Tensor) -> Tensor:
        """The corrections (N, outputs, L) at the L positions (rows, cols) of the tensor, given ``padded`` (``pad`` of
        it) with every position before each of them decoded; later positions are not read."""
        offsets = torch.arange(2 * self.radius + 1)
        i = (rows[:, None] + offsets[: self.radius + 1])[:, :, None]  # (L, radius + 1, 1)
        j = (cols[:, None] + offsets)[:, None, :]  # (L, 1, 2 radius + 1)
        windows = padded[:, :, i, j].transpose(1, 2)  # (N, L, C, radius + 1, 2 radius + 1)
        h = F.linear(latent_to_activation(windows).flatten(2), *weights.neighbours)
        if features is not None:
            h = h + features[:, rows, cols]
        return self._head(h, weights).transpose(1, 2)
