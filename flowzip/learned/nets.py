"""The fixed-point convolutional networks inside couplings and priors: integer latents in, real outputs (on
exact grids) out, so that what they compute while coding is the same on every machine (``flowzip.learned.exact``)."""

from __future__ import annotations

from torch import Tensor, nn

from flowzip.learned.exact import FixedPointConv2d, Padded, activation, is_coding, latent_to_activation, requantize

OUTPUT_SCALE = 64.0  # networks work in units of 64 pixel levels; a power of two keeps the scaling exact


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
