"""Invertible integer layers: each maps integer tensors to integer tensors, with an exact ``inverse``.

Tensors have shape (N, C, H, W) and hold integer values, in float32 while training (straight-through
rounding) and in float64 while coding (exact; see ``flowzip.exact``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from flowzip.exact import (
    MASKED_BITS,
    MAX_MASKED_CHANNELS,
    FixedPointConv2d,
    Padded,
    activation,
    fixed_point_weight,
    is_coding,
    latent_to_activation,
    masked_conv_mask,
    masked_lifting_inverse,
    masked_lifting_shift,
    requantize,
    round_half_up,
)

OUTPUT_SCALE = 64.0  # networks work in units of 64 pixel levels; a power of two keeps the scaling exact


class Squeeze(nn.Module):
    """Space-to-depth: every 2x2 block of pixels becomes 4x the channels at half the resolution."""

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        x = x.reshape(n, c, h // 2, 2, w // 2, 2)
        return x.permute(0, 1, 3, 5, 2, 4).reshape(n, c * 4, h // 2, w // 2)

    def inverse(self, y: Tensor) -> Tensor:
        n, c4, h, w = y.shape
        y = y.reshape(n, c4 // 4, 2, 2, h, w)
        return y.permute(0, 1, 4, 2, 5, 3).reshape(n, c4 // 4, h * 2, w * 2)


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


class ResidualConvNet(nn.Module):
    """A fixed-point residual conv net from integer latents to real outputs (in pixel levels)."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int, blocks: int):
        super().__init__()
        self.inp = FixedPointConv2d(in_channels, hidden)
        self.blocks = nn.ModuleList(
            nn.ModuleList([FixedPointConv2d(hidden, hidden), FixedPointConv2d(hidden, hidden, zero_init=True)])
            for _ in range(blocks)
        )
        self.out = FixedPointConv2d(hidden, out_channels, zero_init=True)

    def forward(self, z: Tensor) -> Tensor:
        # while coding, the activations stay in the exact convolutions' layout from the first conv to the last
        layout = Padded(z.shape[0], z.shape[2], z.shape[3]) if is_coding(z) else None
        h = latent_to_activation(z)
        h = activation(self.inp(layout.enter(h) if layout else h, layout))
        for conv1, conv2 in self.blocks:
            h = requantize(h + conv2(activation(conv1(h, layout)), layout))
        out = self.out(h, layout)
        return (layout.leave(out) if layout else out) * OUTPUT_SCALE


class IntegerAdditiveCoupling(nn.Module):
    """``x_b = x_b + R(NN(x_a))`` on the two halves of the channels."""

    def __init__(self, channels: int, hidden: int, blocks: int):
        super().__init__()
        self.split = channels // 2
        self.net = ResidualConvNet(self.split, channels - self.split, hidden, blocks)

    def forward(self, x: Tensor) -> Tensor:
        xa, xb = x[:, : self.split], x[:, self.split :]
        return torch.cat([xa, xb + round_half_up(self.net(xa))], dim=1)

    def inverse(self, y: Tensor) -> Tensor:
        ya, yb = y[:, : self.split], y[:, self.split :]
        return torch.cat([ya, yb - round_half_up(self.net(ya))], dim=1)


class FlowStep(nn.Module):
    """One step of the flow: an integer emerging convolution, then an integer additive coupling."""

    def __init__(self, channels: int, hidden: int, blocks: int):
        super().__init__()
        self.conv = IntegerEmergingConv(channels)
        self.coupling = IntegerAdditiveCoupling(channels, hidden, blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.coupling(self.conv(x))

    def inverse(self, y: Tensor) -> Tensor:
        return self.conv.inverse(self.coupling.inverse(y))
