"""Priors: discretized likelihoods of the latents, with the parameters the entropy coder uses.

Distribution family. constriction codes QuantizedGaussian and QuantizedLaplace at about 20 M symbols/s
(encode) and 7 M/s (decode) with per-symbol parameters; a logistic or a mixture through Python callbacks would
run at 0.1-1 M/s (measured on a 2-core CPU with constriction 0.5). So a flow's latents, unbounded, get a
single Gaussian or Laplace each, chosen per model (``FlowConfig.family``; the measurement behind the default is
in ``models/README.md``; ``flowzip.learned.config.FAMILIES`` lists them). Pixels, 256 values, can afford a table per
symbol: a model with no flow levels may give each pixel a joint mixture of logistics over its channels
(``PixelPrior``), whose tables ``flowzip.learned.entropy`` computes exactly and constriction's ``Categorical`` codes.
Training minimises the very code length the coder pays: the probability of the integer bin ``[z - 1/2, z + 1/2]``
under the same parameters that the coder receives, capped at the coder's 24-bit floor.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowzip.jit import njit
from flowzip.learned.causal import CausalContext, ContextSettings
from flowzip.learned.entropy import MIXTURE_SYMBOLS, GroupDecoder, LatentGroup, coupled_means, wavefronts
from flowzip.learned.exact import (
    ACT_BITS,
    INITIAL_LOG2_SCALE,
    LATENT_LIMIT,
    SCALE_INDEX_MAX,
    SCALE_INDEX_MIN,
    SCALE_TABLE,
    WEIGHT_BITS,
    scale_from_index,
    to_grid,
)
from flowzip.learned.layers import Squeeze
from flowzip.learned.nets import OUTPUT_SCALE, ResidualConvNet

MAX_SYMBOL_BITS = 24.0  # constriction quantizes probabilities to 24 bits: no symbol in range costs more


def coder_params(raw: Tensor) -> tuple[Tensor, Tensor]:
    """Turn a network output (N, 2 C, H, W) into the coder's (mean, scale) (N, C, H, W) each, exact dyadic
    numbers: the means in pixel levels (within ``±LATENT_LIMIT``), the scales from log2 of the scale rounded to
    1/16."""
    raw = to_grid(raw, WEIGHT_BITS + ACT_BITS)
    c = raw.shape[1] // 2
    _, scale = scale_from_index(raw[:, c:] * (16.0 / OUTPUT_SCALE))
    return raw[:, :c].clamp(-LATENT_LIMIT, LATENT_LIMIT), scale


def _log_bin_probability(d: Tensor, scale: Tensor, family: str) -> Tensor:
    """ln P(bin at distance ``d >= 0`` from the mean), computed in the left tail for accuracy."""
    upper, lower = (0.5 - d) / scale, (-0.5 - d) / scale
    if family == "gaussian":
        log_cdf_upper = torch.special.log_ndtr(upper)
        log_cdf_lower = torch.special.log_ndtr(lower)
    elif family == "laplace":  # ln F(x) = x - ln 2 for x < 0, ln(1 - exp(-x)/2) for x >= 0
        log_cdf_upper = torch.where(upper < 0, upper - math.log(2), torch.log1p(-0.5 * torch.exp(-upper.clamp(min=0))))
        log_cdf_lower = lower - math.log(2)
    else:  # logistic
        log_cdf_upper, log_cdf_lower = F.logsigmoid(upper), F.logsigmoid(lower)
    return log_cdf_upper + torch.log1p(-torch.exp(log_cdf_lower - log_cdf_upper).clamp(max=1 - 1e-12))


def _log_logistic_bins(z: Tensor, mean: Tensor, scale: Tensor) -> Tensor:
    """ln P(z) (..., K) under each discretized logistic on ``MIXTURE_SYMBOLS``, whose end bins take the tails."""
    z = z[..., None]
    d = z - mean
    log_p = _log_bin_probability(d.abs(), scale, "logistic")
    first, last = MIXTURE_SYMBOLS
    log_p = torch.where(z <= first, F.logsigmoid((d + 0.5) / scale), log_p)
    return torch.where(z >= last, F.logsigmoid((0.5 - d) / scale), log_p)


def _log_mixture_probabilities(
    z: Tensor, mean: Tensor, scale: Tensor, log2_weights: Tensor, coupling: Tensor
) -> Tensor:
    """ln P(z_c | z_<c) (N, C, H, W) of each channel under the joint mixture of each position (``LatentGroup``):
    the chain rule that the coder follows (``entropy.code_mixture``)."""
    joint = torch.log_softmax(log2_weights * math.log(2), dim=-1)  # ln P(component, channels so far)
    so_far = [torch.zeros_like(joint[..., 0])]
    for c in range(z.shape[1]):
        joint = joint + _log_logistic_bins(z[:, c], coupled_means(mean, coupling, z, c), scale[:, c])
        so_far.append(torch.logsumexp(joint, dim=-1))
    return torch.stack([b - a for a, b in itertools.pairwise(so_far)], dim=1)


def code_length_bits(
    z: Tensor,
    mean: Tensor,
    scale: Tensor,
    family: str,
    log2_weights: Tensor | None = None,
    coupling: Tensor | None = None,
) -> Tensor:
    """Bits to code each integer ``z`` under the discretized family (or joint mixture), as the coder pays them.

    The value is capped at the coder's 24-bit floor; the gradient of the uncapped length passes through, so
    outliers still pull the scale up.
    """
    if log2_weights is None:
        bits = -_log_bin_probability((z - mean).abs(), scale, family) / math.log(2)
    else:
        assert coupling is not None
        bits = -_log_mixture_probabilities(z, mean, scale, log2_weights, coupling) / math.log(2)
    return bits + (bits.clamp(max=MAX_SYMBOL_BITS) - bits).detach()


# the 2x2 polyphase components, in decoding order (FlowConfig checks prior_phases against config.PRIOR_PHASES)
PHASES = ((0, 0), (1, 1), (0, 1), (1, 0))


def groups_code_length_bits(groups: list[LatentGroup], family: str) -> Tensor:
    """Code length in bits of each image, shape (N,), of a model's latent groups: what the coder pays."""
    bits = (code_length_bits(g.symbols, g.mean, g.scale, family, g.log2_weights, g.coupling) for g in groups)
    return sum(b.flatten(1).sum(1) for b in bits)


def _phase(z: Tensor, p: int) -> Tensor:
    """Polyphase component ``p`` of ``z`` (N, C, H, W): the positions (i, j) with (i % 2, j % 2) = PHASES[p]."""
    a, b = PHASES[p]
    return z[:, :, a::2, b::2]


def _join_phases(phases: list[Tensor], height: int, width: int) -> Tensor:
    """The tensor (N, C, height, width) whose polyphase components are ``phases``: the inverse of ``_phase``."""
    n, c = phases[0].shape[:2]
    z = phases[0].new_zeros(n, c, height, width)
    for p, part in enumerate(phases):
        a, b = PHASES[p]
        z[:, :, a::2, b::2] = part
    return z


def _canvas(z: Tensor) -> tuple[int, int]:
    """(height, width) that holds every polyphase component of ``z``: the first one's size."""
    return -(-z.shape[2] // 2), -(-z.shape[3] // 2)


def _half_resolution(x: Tensor, height: int, width: int) -> Tensor:
    """``x`` (N, C, h, w) with h, w <= 2 height, 2 width, zero-padded and each 2x2 block stacked into 4 channels,
    so it lines up with the polyphase components on a (height, width) canvas."""
    x = F.pad(x, (0, 2 * width - x.shape[3], 0, 2 * height - x.shape[2]))
    return Squeeze()(x)


class ChannelChunks(nn.Module):
    """Codes a latent tensor in channel chunks, each chunk's prior conditioned on the chunks before it, and
    optionally each chunk in spatial phases, each phase conditioned on the phases before it, or position by
    position, each conditioned on its causal neighbours.

    A base network (the caller's) gives raw coder parameters for all channels from a condition (the kept
    latents, or nothing at the top). Chunk ``k >= 1`` adds a correction from a network that also sees chunks
    ``0..k-1``, so the decoder must decode the chunks in order. With ``phases = 4`` a chunk is coded as its four
    2x2 polyphase components (``PHASES``); component ``p >= 1`` adds a correction from a network at half
    resolution that sees the condition, the chunks before and components ``0..p-1`` of its own chunk: its
    decoded neighbours on both sides, which no causal context has. With ``context`` settings, each chunk is coded
    position by position (by wavefronts), with a correction from a ``CausalContext`` that sees its decoded
    neighbours within the radius, the condition and the chunks before.
    The corrections start at zero: a model grown from one with a single chunk and phase and no context starts
    with exactly its code lengths.
    """

    def __init__(
        self,
        cond_channels: int,
        channels: int,
        chunks: int,
        hidden: int,
        blocks: int,
        phases: int = 1,
        context: ContextSettings | None = None,
    ):
        super().__init__()
        self.channels, self.phases = channels, phases
        bounds = [round(k * channels / chunks) for k in range(chunks + 1)]
        self.slices = [slice(a, b) for a, b in itertools.pairwise(bounds)]
        self.nets = nn.ModuleList(
            ResidualConvNet(cond_channels + s.start, 2 * (s.stop - s.start), hidden, blocks) for s in self.slices[1:]
        )
        self.phase_nets = nn.ModuleList(
            ResidualConvNet(
                4 * (cond_channels + s.start) + p * (s.stop - s.start), 2 * (s.stop - s.start), hidden, blocks
            )
            for s in self.slices
            for p in range(1, phases)
        )
        self.contexts = nn.ModuleList(
            CausalContext(cond_channels + s.start, s.stop - s.start, context, 2 * (s.stop - s.start))
            for s in self.slices
            if context
        )

    def _chunk_raw(self, raw: Tensor, k: int, cond: Tensor | None, before: Tensor | None) -> Tensor:
        """Chunk ``k``'s raw coder parameters (parameter-major, as ``coder_params`` takes them)."""
        n, _, h, w = raw.shape
        s = self.slices[k]
        r = raw.view(n, -1, self.channels, h, w)[:, :, s].reshape(n, -1, h, w)
        if k:
            r = r + self.nets[k - 1](before if cond is None else torch.cat([cond, before], dim=1))
        return r

    def _context(self, cond: Tensor | None, before: Tensor | None, height: int, width: int) -> list[Tensor]:
        """The condition and the chunks before, at the resolution of the phases, for the phase networks."""
        known = self._known(cond, before)
        return [] if known is None else [_half_resolution(known, height, width)]

    def _phase_params(
        self, chunk_raw: Tensor, k: int, p: int, context: list[Tensor], decoded: list[Tensor]
    ) -> tuple[Tensor, Tensor]:
        """Coder parameters of phase ``p`` of chunk ``k``, given its phases ``decoded`` before it."""
        r = _phase(chunk_raw, p)
        if p:
            height, width = _canvas(chunk_raw)
            padded = [F.pad(d, (0, width - d.shape[3], 0, height - d.shape[2])) for d in decoded]
            net = self.phase_nets[k * (self.phases - 1) + p - 1]
            r = r + net(torch.cat(context + padded, dim=1))[:, :, : r.shape[2], : r.shape[3]]
        return coder_params(r)

    @staticmethod
    def _known(cond: Tensor | None, before: Tensor | None) -> Tensor | None:
        """What was decoded before a chunk: the condition and the chunks before, or None."""
        known = [t for t in (cond, before) if t is not None and t.shape[1]]
        return torch.cat(known, dim=1) if known else None

    def forward(self, raw: Tensor, cond: Tensor | None, z: Tensor) -> list[LatentGroup]:
        """The chunks (and phases) of ``z`` with their coder parameters, in decoding order."""
        out = []
        height, width = _canvas(z)
        for k, s in enumerate(self.slices):
            chunk_raw = self._chunk_raw(raw, k, cond, z[:, : s.start])
            if self.contexts:
                correction = self.contexts[k](z[:, s], self._known(cond, z[:, : s.start]))
                params = coder_params(chunk_raw + correction)
                out.append(LatentGroup(z[:, s], *params, context_radius=self.contexts[k].radius))
                continue
            if self.phases == 1:
                out.append(LatentGroup(z[:, s], *coder_params(chunk_raw)))
                continue
            context = self._context(cond, z[:, : s.start], height, width)
            parts = [_phase(z[:, s], p) for p in range(self.phases)]
            out += [
                LatentGroup(parts[p], *self._phase_params(chunk_raw, k, p, context, parts[:p]))
                for p in range(self.phases)
            ]
        return out

    def inverse(self, raw: Tensor, cond: Tensor | None, decoder: GroupDecoder) -> Tensor:
        """Decode the chunks (and phases) in order with ``decoder`` and return them joined."""
        z: Tensor | None = None
        height, width = _canvas(raw)
        for k, s in enumerate(self.slices):
            chunk_raw = self._chunk_raw(raw, k, cond, z)
            if self.contexts:
                known, channels = self._known(cond, z), s.stop - s.start
                chunk = _decode_positionwise(chunk_raw, self.contexts[k], known, channels, _single_decoder(decoder))
            elif self.phases == 1:
                chunk = decoder(*coder_params(chunk_raw))
            else:
                context = self._context(cond, z, height, width)
                parts: list[Tensor] = []
                for p in range(self.phases):
                    parts.append(decoder(*self._phase_params(chunk_raw, k, p, context, parts)))
                chunk = _join_phases(parts, raw.shape[2], raw.shape[3])
            z = chunk if z is None else torch.cat([z, chunk], dim=1)
        assert z is not None
        return z


# Decodes the C channels at L positions of N images from their raw coder parameters (N, P, L), float64 numpy
# (the decoder's loop stays in numpy: a wavefront is small, and each conversion costs a call); returns (N, C, L).
FrontDecoder = Callable[[np.ndarray], np.ndarray]


def _single_decoder(decoder: GroupDecoder) -> FrontDecoder:
    """A ``FrontDecoder`` for single distributions: positions, then images, then channels (``LatentGroup``)."""

    def decode(raw: np.ndarray) -> np.ndarray:
        mean, scale = (p.movedim(2, 0) for p in coder_params(torch.from_numpy(raw)[..., None]))  # (L, N, C, 1)
        return decoder(mean, scale)[..., 0].permute(1, 2, 0).numpy()

    return decode


def _decode_positionwise(
    raw: Tensor, context: CausalContext, known: Tensor | None, channels: int, decode: FrontDecoder
) -> Tensor:
    """Decode ``channels`` latents at each position wavefront by wavefront (``entropy.wavefronts``), each
    position's raw coder parameters corrected by ``context`` from the positions decoded before: the inverse of a
    group with a ``context_radius``."""
    n, _, height, width = raw.shape
    padded = context.pad(raw.new_zeros(n, channels, height, width)).numpy()
    features = context.known_features(known)
    features = np.zeros((0, 0, 0, 0)) if features is None else np.ascontiguousarray(features.numpy())
    weights = context.decoding_weights()
    r, base = context.radius, raw.numpy()
    for front in wavefronts(height, width, r):
        rows, cols = np.divmod(front.numpy(), width)
        position_raw = base[:, :, rows, cols] + context.at(padded, features, weights, rows, cols)
        padded[:, :, rows + r, cols + r] = decode(position_raw)
    return torch.from_numpy(padded[:, :, r:, r : r + width])


class FactorOutPrior(nn.Module):
    """p(z_out | z_keep): a conv net on the kept latents gives each factored-out latent its mean and scale."""

    def __init__(
        self,
        keep_channels: int,
        out_channels: int,
        hidden: int,
        blocks: int,
        chunks: int = 1,
        chunk_hidden: int = 0,
        phases: int = 1,
        context: ContextSettings | None = None,
    ):
        super().__init__()
        self.net = ResidualConvNet(keep_channels, 2 * out_channels, hidden, blocks)
        self.chunks = ChannelChunks(keep_channels, out_channels, chunks, chunk_hidden, blocks, phases, context)

    def forward(self, z_keep: Tensor, z_out: Tensor) -> list[LatentGroup]:
        """The factored-out latents with their coder parameters, in decoding order."""
        return self.chunks(self.net(z_keep), z_keep, z_out)

    def inverse(self, z_keep: Tensor, decoder: GroupDecoder) -> Tensor:
        """Decode the factored-out latents given the kept ones."""
        return self.chunks.inverse(self.net(z_keep), z_keep, decoder)


class TopPrior(nn.Module):
    """p(z_top): a learned mean and scale per channel for the latents left at the coarsest level (and, with
    phases or a causal context, a correction from the phases or the neighbours decoded before)."""

    def __init__(
        self,
        channels: int,
        chunks: int = 1,
        chunk_hidden: int = 0,
        blocks: int = 0,
        phases: int = 1,
        context: ContextSettings | None = None,
    ):
        super().__init__()
        self.raw = nn.Parameter(torch.zeros(1, 2 * channels, 1, 1))
        self.chunks = ChannelChunks(0, channels, chunks, chunk_hidden, blocks, phases, context)

    def _raw(self, shape: torch.Size, dtype: torch.dtype) -> Tensor:
        n, _, h, w = shape
        return (self.raw.to(dtype) * OUTPUT_SCALE).expand(n, -1, h, w)

    def forward(self, z: Tensor) -> list[LatentGroup]:
        """The top latents with their coder parameters, in decoding order."""
        return self.chunks(self._raw(z.shape, z.dtype), None, z)

    def inverse(self, shape: torch.Size, dtype: torch.dtype, decoder: GroupDecoder) -> Tensor:
        """Decode top latents of ``shape``."""
        return self.chunks.inverse(self._raw(shape, dtype), None, decoder)


COUPLING_BITS = 8  # the coupling of a channel to those before it: multiples of 2**-8 ...
COUPLING_LIMIT = 2.0  # ... within ±2, so coupled means stay exact in float64 (docs/exactness.md)


_RAW_GRID = float(2 ** (WEIGHT_BITS + ACT_BITS))
_COUPLING_GRID = float(2**COUPLING_BITS)


@njit(nogil=True)
def _mixture_parameters(
    raw: np.ndarray, channels: int, components: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``PixelPrior.coder_params`` compiled, for the decoder's wavefronts: network outputs (M, P K) -> means
    and scales (M, C, K), log2-weights (M, K) and couplings (M, C (C - 1) / 2, K). The same operations on the
    same exact numbers, so the same values bit for bit (tests/test_flow.py compares them)."""
    m, pairs = raw.shape[0], channels * (channels - 1) // 2
    mean, scale = np.empty((m, channels, components)), np.empty((m, channels, components))
    log2_weights, coupling = np.empty((m, components)), np.empty((m, pairs, components))
    r = (np.floor(raw * _RAW_GRID + 0.5) / _RAW_GRID).reshape(m, -1, components)  # (M, P, K)
    for i in range(m):
        for k in range(components):
            log2_weights[i, k] = math.floor(r[i, 0, k] * (16.0 / OUTPUT_SCALE) + 0.5) / 16.0
            for c in range(channels):
                mean[i, c, k] = min(max(r[i, 1 + c, k], -LATENT_LIMIT), LATENT_LIMIT)
                q = math.floor(r[i, 1 + channels + c, k] * (16.0 / OUTPUT_SCALE) + 0.5) + 16 * INITIAL_LOG2_SCALE
                scale[i, c, k] = SCALE_TABLE[int(min(max(q, SCALE_INDEX_MIN), SCALE_INDEX_MAX)) - SCALE_INDEX_MIN]
            for c in range(pairs):
                u = math.floor(r[i, 1 + 2 * channels + c, k] / OUTPUT_SCALE * _COUPLING_GRID + 0.5) / _COUPLING_GRID
                coupling[i, c, k] = min(max(u, -COUPLING_LIMIT), COUPLING_LIMIT)
    return mean, scale, log2_weights, coupling


class PixelPrior(nn.Module):
    """p(x) of pixels (N, C, H, W) (minus ``entropy.PIXEL_OFFSET``) with no flow: position by position in
    wavefronts, each position's C channels under a joint mixture of K discretized logistics (PixelCNN++), whose
    parameters come from a ``CausalContext`` over the decoded neighbours of every channel (NeLLoC).

    Component k has a weight, per channel a mean and a scale, and a coupling: channel c's mean moves by a
    coefficient times each channel before it at the same position (``entropy.coupled_means``), so G follows R
    and B follows both. The context's corrections start at zero, from a constant mixture whose means are spread
    over the pixel range (components that started alike would learn alike).
    """

    def __init__(self, channels: int, context: ContextSettings, components: int):
        super().__init__()
        self.channels, self.components = channels, components
        # per component: log2-weight, C means, C log-scales, C (C - 1) / 2 couplings (parameter-major)
        self.per_component = 1 + 2 * channels + channels * (channels - 1) // 2
        self.raw = nn.Parameter(torch.zeros(1, self.per_component * components, 1, 1))
        with torch.no_grad():
            spread = torch.linspace(MIXTURE_SYMBOLS[0], MIXTURE_SYMBOLS[1], components + 2)[1:-1]
            self.raw.view(self.per_component, components)[1 : 1 + channels] = spread / OUTPUT_SCALE
        self.context = CausalContext(0, channels, context, self.per_component * components)

    def coder_params(self, raw: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Network outputs (N, P K, H, W) -> the mixtures' means and scales (N, C, H, W, K), log2-weights
        (N, H, W, K) (rounded to 1/16) and couplings (N, C (C - 1) / 2, H, W, K), all exact dyadic numbers."""
        c = self.channels
        raw = to_grid(raw, WEIGHT_BITS + ACT_BITS)
        r = raw.unflatten(1, (self.per_component, self.components)).movedim(2, -1)  # (N, P, H, W, K)
        log2_weights = to_grid(r[:, 0] * (16.0 / OUTPUT_SCALE), 0) / 16.0
        _, scale = scale_from_index(r[:, 1 + c : 1 + 2 * c] * (16.0 / OUTPUT_SCALE))
        coupling = to_grid(r[:, 1 + 2 * c :] / OUTPUT_SCALE, COUPLING_BITS).clamp(-COUPLING_LIMIT, COUPLING_LIMIT)
        return r[:, 1 : 1 + c].clamp(-LATENT_LIMIT, LATENT_LIMIT), scale, log2_weights, coupling

    def forward(self, x: Tensor) -> list[LatentGroup]:
        """The pixels with their coder parameters: one group."""
        raw = self.raw.to(x.dtype) * OUTPUT_SCALE + self.context(x, None)
        return [LatentGroup(x, *self.coder_params(raw), context_radius=self.context.radius)]

    def inverse(self, shape: torch.Size, dtype: torch.dtype, decoder: GroupDecoder) -> Tensor:
        """Decode pixels of ``shape``."""
        n, c, h, w = shape

        def decode(raw: np.ndarray) -> np.ndarray:  # (N, P K, L) -> (N, C, L)
            front = raw.shape[2]  # positions first, as in_coding_order: (L N, P K)
            flat = np.ascontiguousarray(raw.transpose(2, 0, 1)).reshape(front * n, -1)
            symbols = decoder.decode_mixture(*_mixture_parameters(flat, c, self.components))
            return symbols.reshape(front, n, c).transpose(1, 2, 0)

        raw = (self.raw.to(dtype) * OUTPUT_SCALE).expand(n, -1, h, w)
        return _decode_positionwise(raw, self.context, None, c, decode)
