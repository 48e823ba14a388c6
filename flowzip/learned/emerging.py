"""Integer emerging convolutions: two autoregressive (masked) 3x3 lifting steps of opposite orientation.

A masked lifting step ``y = x + R(W * x)`` is one convolution forward; its inverse is solved pixel by pixel in
the mask's order, in a compiled loop on int64 numerators: the autoregressive inverse the decoder runs. The
weights are integer numerators over ``2**MASKED_BITS`` (``flowzip.learned.exact``), so both directions are exact.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from flowzip.errors import FlowzipError
from flowzip.jit import njit
from flowzip.learned.exact import (
    LATENT_LIMIT,
    MASKED_BITS,
    MAX_MASKED_CHANNELS,
    conv3x3,
    fixed_point_weight,
    round_half_up,
)


def masked_conv_mask(channels: int) -> Tensor:
    """The 3x3 autoregressive mask in raster order: earlier pixels, and earlier channels of the same pixel."""
    mask = torch.zeros(channels, channels, 3, 3)
    mask[:, :, 0, :] = 1  # the row above
    mask[:, :, 1, 0] = 1  # the pixel to the left
    mask[:, :, 1, 1] = torch.tril(torch.ones(channels, channels), diagonal=-1)  # earlier channels, same pixel
    return mask


def masked_lifting_shift(x: Tensor, weight: Tensor) -> Tensor:
    """``R(W * x)`` for integer ``x`` and a masked ``W`` on the ``2**-MASKED_BITS`` grid (exact in float64).

    While coding, inputs beyond ``LATENT_LIMIT`` stop with an error: past it a float64 sum of up to 192
    channels x 9 taps of ``|numerator| <= 2**18`` times ``|x|`` could exceed 2**53 and stop being exact.
    """
    if not x.requires_grad and x.numel() and x.abs().max() > LATENT_LIMIT:
        raise FlowzipError(
            "latents outside the model's exact range (a corrupt file, or an image this model cannot code)"
        )
    return round_half_up(conv3x3(x, weight))


@njit(nogil=True)
def _solve_raster(y: np.ndarray, w_neighbours: np.ndarray, w_centre: np.ndarray, shift: int) -> np.ndarray:
    """Invert ``y = x + R(W * x)`` pixel by pixel in raster order, on int64 numerators (exact).

    ``y`` is channels-last (N, H, W, C); ``w_neighbours`` (4, C, C) holds the taps up-left, up, up-right and
    left, ``w_centre`` (C, C) the strictly lower-triangular centre tap. The solution is built inside a
    zero border (one row above, a column each side), so the loops need no bounds checks, and the innermost
    loop runs over contiguous channels.
    """
    n, h, wd, channels = y.shape
    xp = np.zeros((n, h + 1, wd + 2, channels), dtype=np.int64)
    half = np.int64(1) << (shift - 1)
    acc = np.zeros(channels, dtype=np.int64)
    for b in range(n):
        for i in range(h):
            for j in range(wd):
                for c in range(channels):  # the already solved neighbours
                    s = np.int64(0)
                    for k in range(channels):
                        s += (
                            w_neighbours[0, c, k] * xp[b, i, j, k]
                            + w_neighbours[1, c, k] * xp[b, i, j + 1, k]
                            + w_neighbours[2, c, k] * xp[b, i, j + 2, k]
                            + w_neighbours[3, c, k] * xp[b, i + 1, j, k]
                        )
                    acc[c] = s
                for c in range(channels):  # then this pixel's channels, in order
                    s = acc[c]
                    for k in range(c):
                        s += w_centre[c, k] * xp[b, i + 1, j + 1, k]
                    xp[b, i + 1, j + 1, c] = y[b, i, j, c] - ((s + half) >> shift)
    return xp[:, 1:, 1 : wd + 1]


def masked_lifting_inverse(y: Tensor, weight: Tensor, reverse: bool) -> Tensor:
    """Solve ``y = x + R(W * x)`` for integer ``x``; ``reverse`` marks the opposite orientation.

    ``weight`` is the masked weight on the ``2**-MASKED_BITS`` grid; the solve runs on its integer numerators
    in int64. The opposite orientation (reverse raster order) is the raster one on a tensor flipped in height,
    width and channels.
    """
    w = torch.round(weight.detach().to(torch.float64) * 2.0**MASKED_BITS).to(torch.int64)
    yy = y.detach().to(torch.int64).permute(0, 2, 3, 1)  # channels-last
    if reverse:
        yy = yy.flip(1, 2, 3)
        w = w.flip(0, 1, 2, 3)
    w_neighbours = torch.stack([w[:, :, 0, 0], w[:, :, 0, 1], w[:, :, 0, 2], w[:, :, 1, 0]])
    x = _solve_raster(
        np.ascontiguousarray(yy.cpu().numpy()),
        np.ascontiguousarray(w_neighbours.cpu().numpy()),
        np.ascontiguousarray(w[:, :, 1, 1].cpu().numpy()),
        MASKED_BITS,
    )
    x = torch.from_numpy(np.ascontiguousarray(x))
    if reverse:
        x = x.flip(1, 2, 3)
    return x.permute(0, 3, 1, 2).to(device=y.device, dtype=y.dtype)


class IntegerMaskedConv(nn.Module):
    """One autoregressive 3x3 lifting step ``y = x + R(W * x)``.

    ``W`` sees only pixels before the centre in raster order (``reverse``: after it) and, at the centre, only
    the channels before (after) the output channel, so the Jacobian is unit triangular and the map is a
    bijection on integers. The inverse solves pixel by pixel in that order.
    """

    def __init__(self, channels: int, reverse: bool):
        if channels > MAX_MASKED_CHANNELS:  # the bound of docs/exactness.md
            raise ValueError(f"a masked convolution takes at most {MAX_MASKED_CHANNELS} channels, not {channels}")
        super().__init__()
        self.reverse = reverse
        mask = masked_conv_mask(channels)
        self.register_buffer("mask", mask.flip(0, 1, 2, 3) if reverse else mask, persistent=False)
        self.weight = nn.Parameter(torch.zeros(channels, channels, 3, 3))

    def fixed_point_weight(self) -> Tensor:
        """The masked weight on the ``2**-MASKED_BITS`` grid."""
        return fixed_point_weight(self.weight * self.mask, MASKED_BITS)

    def forward(self, x: Tensor) -> Tensor:
        return x + masked_lifting_shift(x, self.fixed_point_weight())

    def inverse(self, y: Tensor) -> Tensor:
        return masked_lifting_inverse(y, self.fixed_point_weight(), self.reverse)


class IntegerEmergingConv(nn.Module):
    """An emerging 3x3 convolution: two masked convolutions of opposite orientation, composed.

    Their centre taps are a unit lower- and a unit upper-triangular channel mixing, i.e. an LU-factored
    invertible 1x1 convolution, so the layer also mixes channels.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.first = IntegerMaskedConv(channels, reverse=False)
        self.second = IntegerMaskedConv(channels, reverse=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.second(self.first(x))

    def inverse(self, y: Tensor) -> Tensor:
        return self.first.inverse(self.second.inverse(y))
