"""Invertible integer layers: each maps integer tensors to integer tensors, with an exact ``inverse``: the
squeeze, the additive coupling, and a flow step (an emerging convolution from ``flowzip.learned.emerging``, then a
coupling).

Tensors have shape (N, C, H, W) and hold integer values, in float32 while training (straight-through
rounding) and in float64 while coding (exact; see ``flowzip.learned.exact``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from flowzip.learned.emerging import IntegerEmergingConv
from flowzip.learned.exact import round_half_up
from flowzip.learned.nets import ResidualConvNet


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
