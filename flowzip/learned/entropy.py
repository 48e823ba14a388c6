"""ANS coding of latent groups with constriction, with an escape for latents outside the coder's range.

Each latent ``z`` with coder parameters (mean, scale) is coded as ``s = z - R(mean)`` under the quantized
family centred at ``mean - R(mean)`` on the range ``[-SYMBOL_RANGE, SYMBOL_RANGE]``. A latent at or beyond the
range's edge is coded as the edge value followed by an escape: its distance past the edge as two 20-bit
``Uniform`` digits, all of a group's escapes in one vectorised call. So every latent the flow can produce
(``|z| <= LATENT_LIMIT``) can be coded, and ordinary ones pay nothing for it.

ANS is a stack: the encoder pushes groups in reverse of the order the decoder pops them (``LatentDecoder``
is called group by group while the flow is inverted).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import constriction
import numpy as np
import torch
from torch import Tensor

from flowzip.errors import FlowzipError
from flowzip.jit import njit
from flowzip.learned.exact import LOGISTIC_TABLE_LIMIT, exp2_sixteenths, logistic_cdf, logistic_table, round_half_up


@dataclass
class LatentGroup:
    """Integer latents (N, C, H, W) and the coder parameters of each: a mean and a scale of the same shape, or
    for a joint mixture over the C channels of each position (``log2_weights`` given; pixels only) its K
    components' means and scales (N, C, H, W, K), base-2 log-weights (N, H, W, K) and ``coupling`` (N, C(C-1)/2,
    H, W, K) (``coupled_means``; ``flowzip.learned.priors.PixelPrior``).

    The coder takes them in C order, or, for a causal context of radius ``context_radius`` > 0, in wavefronts
    (``wavefronts``): each position's causal neighbours come before it, as a decoder that needs them asks.
    """

    symbols: Tensor
    mean: Tensor
    scale: Tensor
    log2_weights: Tensor | None = None
    coupling: Tensor | None = None
    context_radius: int = 0

    def in_coding_order(self) -> tuple[Tensor, ...]:
        """Symbols and parameters as float64 tensors in the order the decoder asks for them (``decode_steps``
        rows at a time): flat (M,) each, or for a mixture one row per position and image, positions in
        wavefront order: symbols (M, C), means and scales (M, C, K), log-weights (M, K), coupling (M, C(C-1)/2, K).
        """
        h, w = self.symbols.shape[2:]
        order = torch.cat(wavefronts(h, w, self.context_radius)) if self.context_radius else None

        def rows(t: Tensor, channels_first: bool = True) -> Tensor:
            """(N, [X,] H, W, ...) -> (H W, N, [X,] ...), positions in coding order."""
            t = t.movedim(1 + channels_first, 0).movedim(2 + channels_first, 1).flatten(0, 1)
            return (t if order is None else t[order]).to(torch.float64)

        if self.log2_weights is not None:
            assert self.coupling is not None
            flat = [rows(t).flatten(0, 1) for t in (self.symbols, self.mean, self.scale, self.coupling)]
            weights = rows(self.log2_weights, channels_first=False).flatten(0, 1)
            return (*flat[:3], weights, flat[3])
        if order is not None:  # positions in wavefront order, each with its images and channels
            return tuple(rows(t).flatten() for t in (self.symbols, self.mean, self.scale))
        return tuple(t.flatten().to(torch.float64) for t in (self.symbols, self.mean, self.scale))

    def decode_steps(self) -> list[int]:
        """The rows of ``in_coding_order`` that each call of a decoder takes: a wavefront's positions at a time
        with a causal context, else all of them."""
        n, c, h, w = self.symbols.shape
        per_position = n if self.log2_weights is not None else n * c
        if not self.context_radius:
            return [h * w * per_position]
        return [len(front) * per_position for front in wavefronts(h, w, self.context_radius)]


def wavefronts(height: int, width: int, radius: int) -> list[Tensor]:
    """The positions of a (height, width) tensor, flat (i * width + j), in the order a causal context of
    ``radius`` lets a decoder take them: wavefront t holds the positions with j + (radius + 1) i = t, by row.

    A causal neighbour (i - a, j + b) with a >= 1, |b| <= radius, or (i, j - b) with b >= 1, is on an earlier
    wavefront, so a wavefront's positions can be decoded together. No wavefront is empty: where the image is
    narrower than ``radius + 1``, the values of t that no position has are left out.
    """
    i, j = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    t = (j + (radius + 1) * i).flatten()
    order = torch.argsort(t * height + i.flatten())  # by wavefront, then row: each key is one position's
    sizes = torch.bincount(t)
    return list(torch.split(order, sizes[sizes > 0].tolist()))


class GroupDecoder(Protocol):
    """What the flow's inverse calls with a group's coder parameters to get its integer latents back
    (``LatentDecoder``)."""

    def __call__(self, mean: Tensor, scale: Tensor) -> Tensor:
        """The latents of a group of single distributions, in the shape of ``mean``."""
        ...

    def decode_mixture(
        self, mean: np.ndarray, scale: np.ndarray, log2_weights: np.ndarray, coupling: np.ndarray
    ) -> np.ndarray:
        """The symbols (M, C) of M positions under joint mixtures, in the rows of ``code_mixture``."""
        ...


SYMBOL_RANGE = 1023
ESCAPE_DIGIT_BITS = 20  # two digits: excesses below 2**40, far beyond |z - R(mean)| <= 2 * LATENT_LIMIT

_FAMILIES = {
    "gaussian": constriction.stream.model.QuantizedGaussian(-SYMBOL_RANGE, SYMBOL_RANGE),
    "laplace": constriction.stream.model.QuantizedLaplace(-SYMBOL_RANGE, SYMBOL_RANGE),
}
_DIGIT = constriction.stream.model.Uniform(1 << ESCAPE_DIGIT_BITS)
_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)
PIXEL_OFFSET = 128  # uint8 pixels are centred to [-128, 127] before any model
MIXTURE_SYMBOLS = (-PIXEL_OFFSET, 255 - PIXEL_OFFSET)  # a mixture codes centred pixels; its end bins take the tails
_FIRST = MIXTURE_SYMBOLS[0]  # for the compiled loops


def coupled_means(mean: Any, coupling: Any, symbols: Any, channel: int) -> Any:
    """The component means (..., K) of ``channel`` at positions whose earlier channels are ``symbols``: its own
    means plus ``coupling`` times each earlier channel's symbol (PixelCNN++'s linear dependence of G on R and of
    B on R and G). Arrays or tensors with channels on axis 1: mean (X, C, ..., K), coupling (X, C(C-1)/2, ..., K),
    symbols (X, C, ...); exact in float64 for the grids of ``flowzip.learned.priors.PixelPrior``.
    """
    out = mean[:, channel]
    first = channel * (channel - 1) // 2
    for c in range(channel):  # one order on every machine
        out = out + coupling[:, first + c] * symbols[:, c][..., None]
    return out


@njit(nogil=True)
def _mixture_tables(mean: np.ndarray, scale: np.ndarray, weights: np.ndarray, logistic: np.ndarray) -> np.ndarray:
    """The table (M, 256) of each of M mixtures of discretized logistics (parameters (M, K)) over
    ``MIXTURE_SYMBOLS``: sum_k weights_k P_k(v) from k = 0 up, with P_k(v) = max(0, F_k(v + 1/2) - F_k(v - 1/2)),
    F_k(e) = ``logistic_cdf((e - mean_k) / scale_k)``, 0 below the first edge and 1 above the last.

    Where both edges of a bin lie 2 levels or more beyond the logistic table's reach, ``logistic_cdf`` gives
    both the same end value, so P_k is exactly 0 there: only the bins near the mean and the two end bins are
    computed, and the sums are the same numbers as if every bin were."""
    rows, components = mean.shape
    out = np.zeros((rows, 256))
    for m in range(rows):
        for k in range(components):
            mu, s, w = mean[m, k], scale[m, k], weights[m, k]
            reach = LOGISTIC_TABLE_LIMIT * s
            first = min(max(math.floor(mu - reach - _FIRST - 0.5) - 1, 0), 255)
            last = min(max(math.ceil(mu + reach - _FIRST + 0.5) + 1, first), 255)
            below = logistic_cdf((_FIRST + first - 0.5 - mu) / s, logistic) if first > 0 else 0.0
            for v in range(first, last + 1):
                above = logistic_cdf((_FIRST + v + 0.5 - mu) / s, logistic) if v < 255 else 1.0
                out[m, v] += max(above - below, 0.0) * w
                below = above
            if first > 0:
                out[m, 0] += max(logistic_cdf((_FIRST + 0.5 - mu) / s, logistic), 0.0) * w
            if last < 255:
                out[m, 255] += max(1.0 - logistic_cdf((_FIRST + 254.5 - mu) / s, logistic), 0.0) * w
    return out


@njit(nogil=True)
def _channel_rows(
    mean: np.ndarray, scale: np.ndarray, coupling: np.ndarray, symbols: np.ndarray, channel: int
) -> tuple[np.ndarray, np.ndarray]:
    """The component means (``coupled_means``, compiled: the same operations in the same order) and scales of
    ``channel``, each (M, K), from rows: mean and scale (M, C, K), coupling (M, C(C-1)/2, K), symbols (M, C)."""
    rows, components = mean.shape[0], mean.shape[2]
    means, scales = np.empty((rows, components)), np.empty((rows, components))
    first = channel * (channel - 1) // 2
    for m in range(rows):
        for k in range(components):
            v = mean[m, channel, k]
            for c in range(channel):
                v = v + coupling[m, first + c, k] * symbols[m, c]
            means[m, k], scales[m, k] = v, scale[m, channel, k]
    return means, scales


@njit(nogil=True)
def _posterior_weights(
    weights: np.ndarray, mean: np.ndarray, scale: np.ndarray, symbols: np.ndarray, logistic: np.ndarray
) -> np.ndarray:
    """The weights (M, K) after a channel: each times the probability its component gave the row's symbol (the
    very number ``_mixture_tables`` used), divided by the largest product; as they were where all are 0."""
    rows, components = mean.shape
    out = np.empty((rows, components))
    for m in range(rows):
        v = symbols[m] - _FIRST
        top = 0.0
        for k in range(components):
            below = logistic_cdf((_FIRST + v - 0.5 - mean[m, k]) / scale[m, k], logistic) if v > 0 else 0.0
            above = logistic_cdf((_FIRST + v + 0.5 - mean[m, k]) / scale[m, k], logistic) if v < 255 else 1.0
            out[m, k] = weights[m, k] * max(above - below, 0.0)
            top = max(top, out[m, k])
        for k in range(components):
            out[m, k] = out[m, k] / top if top > 0.0 else weights[m, k]
    return out


def code_mixture(
    mean: np.ndarray,
    scale: np.ndarray,
    log2_weights: np.ndarray,
    coupling: np.ndarray,
    code: Callable[[int, np.ndarray], np.ndarray],
) -> np.ndarray:
    """Code M positions' C channels under their joint mixtures, channel by channel (the chain rule), and return
    the symbols (M, C).

    Channel c's table (M, 256), not normalised (constriction normalises it), is the sum over the components of
    each one's probabilities (at ``coupled_means``) times its weight: at first 2 to the log-weight, then after
    each channel the weight times the probability the component gave that channel's symbol, divided by the
    largest such product (kept as it was where all are 0). ``code(c, table)`` returns the channel's symbols:
    the known ones while encoding, the decoded ones while decoding. Every step is an IEEE operation in a fixed
    order on exact inputs, so encoder and decoder compute the same tables.
    """
    logistic = logistic_table()
    weights = exp2_sixteenths(np.round(16 * (log2_weights - log2_weights.max(axis=1, keepdims=True))))
    symbols = np.zeros(mean.shape[:2])
    for c in range(mean.shape[1]):
        means, scales = _channel_rows(mean, scale, coupling, symbols, c)
        symbols[:, c] = code(c, _mixture_tables(means, scales, weights, logistic))
        weights = _posterior_weights(weights, means, scales, symbols[:, c].copy(), logistic)
    return symbols


def _centre(mean: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The integer centre ``R(mean)`` and the fractional mean the coder sees, both as flat float64 arrays."""
    mean = mean.to(torch.float64).flatten()
    centre = round_half_up(mean)
    return centre.numpy(), (mean - centre).numpy()


def _known_symbols(symbols: np.ndarray, tables: list[np.ndarray], channel: int, table: np.ndarray) -> np.ndarray:
    """``code_mixture``'s callback while encoding: keep the table, give the channel's known symbols."""
    tables.append(table)
    return symbols[:, channel]


_MIXTURE_ROWS = 4096  # rows whose tables the encoder computes at once (each row's C tables: 6 KB per channel)


def _encode_mixture(coder: constriction.stream.stack.AnsCoder, group: LatentGroup) -> None:
    """Push a mixture group: decoding steps last to first, each step's symbols channel by channel. The tables
    of consecutive steps are computed together, as rows are independent of each other."""
    symbols, *params = (t.numpy() for t in group.in_coding_order())
    if symbols.size and (symbols.min() < MIXTURE_SYMBOLS[0] or symbols.max() > MIXTURE_SYMBOLS[1]):
        raise FlowzipError("a mixture codes pixels only: a symbol is out of its range")
    bounds = np.cumsum([0, *group.decode_steps()])
    last = len(bounds) - 1
    while last > 0:
        first = min(int(np.searchsorted(bounds, bounds[last] - _MIXTURE_ROWS)), last - 1)  # one step at least
        rows = slice(bounds[first], bounds[last])
        tables: list[np.ndarray] = []
        code_mixture(*(p[rows] for p in params), functools.partial(_known_symbols, symbols[rows], tables))
        for a, b in reversed(list(itertools.pairwise(bounds[first : last + 1] - bounds[first]))):
            index = (symbols[rows][a:b].T.ravel() - MIXTURE_SYMBOLS[0]).astype(np.int32)
            coder.encode_reverse(index, _CATEGORICAL, np.concatenate([t[a:b] for t in tables]))
        last = first


def encode_latents(groups: Sequence[LatentGroup], family: str) -> bytes:
    """Code the groups (given in decoding order) into one ANS bitstream."""
    coder = constriction.stream.stack.AnsCoder()
    model = _FAMILIES.get(family)  # None for a mixture, whose groups carry their weights
    for g in reversed(groups):
        if g.log2_weights is not None:
            _encode_mixture(coder, g)
            continue
        symbols, mean, scale = g.in_coding_order()
        centre, frac_mean = _centre(mean)
        s = symbols.numpy() - centre
        edge = np.clip(s, -SYMBOL_RANGE, SYMBOL_RANGE)
        excess = (np.abs(s[np.abs(edge) == SYMBOL_RANGE]) - SYMBOL_RANGE).astype(np.int64)
        if excess.size:
            digits = np.stack([excess & ((1 << ESCAPE_DIGIT_BITS) - 1), excess >> ESCAPE_DIGIT_BITS], axis=1)
            coder.encode_reverse(digits.ravel().astype(np.int32), _DIGIT)
        coder.encode_reverse(edge.astype(np.int32), model, frac_mean, scale.numpy())
    words = coder.get_compressed().astype("<u4").tobytes()
    # The top word's high bytes are often zero; drop up to three and let the decoder pad them back.
    return words[: len(words) - min(3, len(words) - len(words.rstrip(b"\0")))]


class LatentDecoder:
    """Decodes latent groups from a bitstream, one call per group, in the order the encoder was given them."""

    def __init__(self, data: bytes, family: str):
        padded = data + b"\0" * (-len(data) % 4)
        try:
            self._coder = constriction.stream.stack.AnsCoder(np.frombuffer(padded, dtype="<u4").astype(np.uint32))
        except ValueError as e:  # e.g. a stream ending in a zero word, which no encoder writes
            raise FlowzipError(f"corrupt compressed data ({e})") from None
        self._model = _FAMILIES.get(family)

    def __call__(self, mean: Tensor, scale: Tensor) -> Tensor:
        """The latents of a group of single distributions (``GroupDecoder``)."""
        centre, frac_mean = _centre(mean)
        try:
            edge = self._coder.decode(self._model, frac_mean, scale.to(torch.float64).flatten().numpy())
        except Exception as e:  # constriction raises plain exceptions on exhausted or invalid data
            raise FlowzipError(f"corrupt compressed data ({e})") from None
        s = edge.astype(np.float64)
        escaped = np.flatnonzero(np.abs(edge) == SYMBOL_RANGE)
        if escaped.size:
            digits = self._coder.decode(_DIGIT, 2 * escaped.size).astype(np.int64)
            s[escaped] += np.sign(edge[escaped]) * (digits[0::2] + (digits[1::2] << ESCAPE_DIGIT_BITS))
        return torch.from_numpy(s + centre).reshape(mean.shape).to(mean.dtype)

    def decode_mixture(
        self, mean: np.ndarray, scale: np.ndarray, log2_weights: np.ndarray, coupling: np.ndarray
    ) -> np.ndarray:
        """The symbols (M, C) of M positions under joint mixtures, float64 rows as ``code_mixture`` takes them."""

        def decode(_: int, table: np.ndarray) -> np.ndarray:
            return self._coder.decode(_CATEGORICAL, table).astype(np.float64) + MIXTURE_SYMBOLS[0]

        try:
            return code_mixture(mean, scale, log2_weights, coupling, decode)
        except Exception as e:  # constriction raises plain exceptions on exhausted or invalid data
            raise FlowzipError(f"corrupt compressed data ({e})") from None

    def finish(self) -> None:
        """Check that the whole bitstream was used, as it is in every intact file."""
        if not self._coder.is_empty():
            raise FlowzipError("corrupt compressed data (bits left over after decoding)")
