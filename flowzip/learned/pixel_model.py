"""The pixel model: no flow at all. Each pixel's channels get a joint mixture of discretized logistics whose
parameters a causal network computes from the pixels decoded before it (``priors.PixelPrior``; PixelCNN++'s
likelihood, NeLLoC's local context), coded position by position in wavefronts.

It codes small images (the ``cifar10`` model), where it beats the flows. It is configured by a ``FlowConfig``
with no levels and the logistic-mixture family, so that both kinds of model share one file format, one training
loop and one interface: ``forward`` gives the latent groups (here one: the pixels), ``inverse`` decodes them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from flowzip.learned.causal import context_settings
from flowzip.learned.config import MIXTURE, FlowConfig
from flowzip.learned.entropy import PIXEL_OFFSET, GroupDecoder, LatentGroup
from flowzip.learned.priors import PixelPrior, groups_code_length_bits


class PixelModel(nn.Module):
    """Pixels (N, C, H, W) to one latent group with its mixtures, and back."""

    def __init__(self, config: FlowConfig):
        super().__init__()
        settings = context_settings(config)
        if config.family != MIXTURE or config.levels or settings is None:
            raise ValueError(f"the pixel model needs levels=0, the {MIXTURE} family and a context: {config}")
        self.config = config
        # named as a flow's top prior, so that model files of both kinds keep one layout of weights
        self.top = PixelPrior(config.channels, settings, config.mixture_components)

    def forward(self, x: Tensor) -> list[LatentGroup]:
        """The pixels, centred, with their coder parameters: one group."""
        return self.top(x - PIXEL_OFFSET)

    def inverse(self, shape: tuple[int, int, int, int], decoder: GroupDecoder, dtype: torch.dtype) -> Tensor:
        """Decode pixels of ``shape`` (N, C, H, W) with ``decoder``."""
        return self.top.inverse(torch.Size(shape), dtype, decoder) + PIXEL_OFFSET

    def start_from(self, other: PixelModel) -> None:
        """Copy the weights of ``other``, a pixel model of the same configuration."""
        if other.config != self.config:
            raise ValueError(f"cannot start {self.config} from {other.config}")
        self.load_state_dict(other.state_dict())

    def code_length_bits(self, x: Tensor) -> Tensor:
        """Model code length of each image in bits, shape (N,), as the coder pays it."""
        return groups_code_length_bits(self(x), self.config.family)
