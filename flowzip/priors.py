"""Priors: discretized likelihoods of the latents, with the parameters the entropy coder uses.

Distribution family. constriction codes QuantizedGaussian and QuantizedLaplace at about 20 M symbols/s
(encode) and 7 M/s (decode) with per-symbol parameters; a logistic or a mixture would go through Python
callbacks at 0.1-1 M/s (the project brief's measurements on this machine kind). So the family is a single
Gaussian or Laplace per latent, chosen per model (``FlowConfig.family``; the measurement behind the default
is in ``models/README.md``). Training minimises
the very code length the coder pays: the probability of the integer bin ``[z - 1/2, z + 1/2]`` under the
same (mean, scale) that the coder receives, capped at the coder's 24-bit floor.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from flowzip.exact import ACT_BITS, LATENT_LIMIT, WEIGHT_BITS, scale_from_index, to_grid
from flowzip.layers import OUTPUT_SCALE, ResidualConvNet

FAMILIES = ("gaussian", "laplace")
MAX_SYMBOL_BITS = 24.0  # constriction quantizes probabilities to 24 bits: no symbol in range costs more


def coder_params(raw: Tensor) -> tuple[Tensor, Tensor]:
    """Split a network output (N, 2C, H, W) into the coder's mean and scale, both exact dyadic numbers.

    The first C channels are the mean in pixel levels (within ``±LATENT_LIMIT``); the last C are log2 of the
    scale, rounded to 1/16.
    """
    c = raw.shape[1] // 2
    raw = to_grid(raw, WEIGHT_BITS + ACT_BITS)
    _, scale = scale_from_index(raw[:, c:] * (16.0 / OUTPUT_SCALE))
    return raw[:, :c].clamp(-LATENT_LIMIT, LATENT_LIMIT), scale


def _log_bin_probability(d: Tensor, scale: Tensor, family: str) -> Tensor:
    """ln P(bin at distance ``d >= 0`` from the mean), computed in the left tail for accuracy."""
    upper, lower = (0.5 - d) / scale, (-0.5 - d) / scale
    if family == "gaussian":
        log_cdf_upper = torch.special.log_ndtr(upper)
        log_cdf_lower = torch.special.log_ndtr(lower)
    else:  # laplace: ln F(x) = x - ln 2 for x < 0, ln(1 - exp(-x)/2) for x >= 0
        log_cdf_upper = torch.where(upper < 0, upper - math.log(2), torch.log1p(-0.5 * torch.exp(-upper.clamp(min=0))))
        log_cdf_lower = lower - math.log(2)
    return log_cdf_upper + torch.log1p(-torch.exp(log_cdf_lower - log_cdf_upper).clamp(max=1 - 1e-12))


def code_length_bits(z: Tensor, mean: Tensor, scale: Tensor, family: str) -> Tensor:
    """Bits to code each integer ``z`` under the discretized family, as the coder pays them.

    The value is capped at the coder's 24-bit floor; the gradient of the uncapped length passes through, so
    outliers still pull the scale up.
    """
    bits = -_log_bin_probability((z - mean).abs(), scale, family) / math.log(2)
    return bits + (bits.clamp(max=MAX_SYMBOL_BITS) - bits).detach()


class FactorOutPrior(nn.Module):
    """p(z_out | z_keep): a conv net on the kept latents gives each factored-out latent its mean and scale."""

    def __init__(self, keep_channels: int, out_channels: int, hidden: int, blocks: int):
        super().__init__()
        self.net = ResidualConvNet(keep_channels, 2 * out_channels, hidden, blocks)

    def forward(self, z_keep: Tensor) -> tuple[Tensor, Tensor]:
        return coder_params(self.net(z_keep))


class TopPrior(nn.Module):
    """p(z_top): a learned mean and scale per channel for the latents left at the coarsest level."""

    def __init__(self, channels: int):
        super().__init__()
        self.raw = nn.Parameter(torch.zeros(1, 2 * channels, 1, 1))

    def forward(self, shape: torch.Size, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        n, _, h, w = shape
        mean, scale = coder_params(self.raw.to(dtype) * OUTPUT_SCALE)
        return mean.expand(n, -1, h, w), scale.expand(n, -1, h, w)
