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

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import constriction
import numpy as np
import torch
from torch import Tensor

from flowzip.errors import FlowzipError
from flowzip.exact import exp2_sixteenths, logistic_cdf, round_half_up


@dataclass
class LatentGroup:
    """Integer latents (N, C, H, W) and the coder parameters of each: a mean and a scale of the same shape, or
    for a mixture (``log2_weights`` given) the means, scales and base-2 log-weights of its K components,
    (N, C, H, W, K) each (``flowzip.priors.coder_params``).

    The coder takes them in C order, or, for a causal context of radius ``context_radius`` > 0, in wavefronts
    (``wavefronts``): each position's causal neighbours come before it, as a decoder that needs them asks.
    """

    symbols: Tensor
    mean: Tensor
    scale: Tensor
    log2_weights: Tensor | None = None
    context_radius: int = 0

    def in_coding_order(self) -> tuple[Tensor, ...]:
        """Symbols, means and scales (and a mixture's log-weights) as float64 tensors in the order the coder
        takes them: the symbols flat (M,), the parameters (M,), or (M, K) for a mixture."""

        n, c, h, w = self.symbols.shape
        order = torch.cat(wavefronts(h, w, self.context_radius)) if self.context_radius else None

        def flat(t: Tensor) -> Tensor:
            if order is not None:  # positions in wavefront order, each with its images and channels
                t = t.permute(2, 3, 0, 1, *range(4, t.dim())).reshape(h * w, n * c, -1)[order]
            return t.reshape(self.symbols.numel(), -1).squeeze(1).to(torch.float64)

        params = (self.mean, self.scale) if self.log2_weights is None else (self.mean, self.scale, self.log2_weights)
        return (flat(self.symbols), *map(flat, params))


def wavefronts(height: int, width: int, radius: int) -> list[Tensor]:
    """The positions of a (height, width) tensor, flat (i * width + j), in the order a causal context of
    ``radius`` lets a decoder take them: wavefront t holds the positions with j + (radius + 1) i = t, by row.

    A causal neighbour (i - a, j + b) with a >= 1, |b| <= radius, or (i, j - b) with b >= 1, is on an earlier
    wavefront, so a wavefront's positions can be decoded together.
    """
    i, j = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    t = (j + (radius + 1) * i).flatten()
    order = torch.argsort(t * height + i.flatten())  # by wavefront, then row: each key is one position's
    return list(torch.split(order, torch.bincount(t).tolist()))


# What the flow's inverse calls with a group's (mean, scale, log2_weights) to get its integer latents back
# (LatentDecoder); log2_weights is None but for mixtures.
GroupDecoder = Callable[[Tensor, Tensor, Tensor | None], Tensor]


SYMBOL_RANGE = 1023
ESCAPE_DIGIT_BITS = 20  # two digits: excesses below 2**40, far beyond |z - R(mean)| <= 2 * LATENT_LIMIT

_FAMILIES = {
    "gaussian": constriction.stream.model.QuantizedGaussian(-SYMBOL_RANGE, SYMBOL_RANGE),
    "laplace": constriction.stream.model.QuantizedLaplace(-SYMBOL_RANGE, SYMBOL_RANGE),
}
_DIGIT = constriction.stream.model.Uniform(1 << ESCAPE_DIGIT_BITS)
_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)
MIXTURE_SYMBOLS = (-128, 127)  # a mixture codes pixels (minus flow.PIXEL_OFFSET); its end bins take the tails


def mixture_probabilities(mean: np.ndarray, scale: np.ndarray, log2_weights: np.ndarray) -> np.ndarray:
    """The probability of every symbol of ``MIXTURE_SYMBOLS`` (M, 256) under a mixture of discretized logistics
    with parameters (M, K) each; not normalised (constriction normalises them).

    Computed in float64 from exact inputs by IEEE operations in a fixed order (``exact.logistic_cdf``, the
    weights from a table of powers of two), so encoder and decoder give constriction the same numbers.
    """
    first, last = MIXTURE_SYMBOLS
    edges = np.arange(first, last, dtype=np.float64) + 0.5
    cdf = logistic_cdf((edges[None, :, None] - mean[:, None, :]) / scale[:, None, :])  # (M, 255, K)
    ends = np.zeros((len(mean), 1, mean.shape[1]))
    p = np.maximum(np.diff(np.concatenate([ends, cdf, ends + 1], axis=1), axis=1), 0.0)
    weights = exp2_sixteenths(np.round(16 * (log2_weights - log2_weights.max(axis=1, keepdims=True))))
    total = p[:, :, 0] * weights[:, None, 0]
    for k in range(1, mean.shape[1]):  # one order on every machine
        total = total + p[:, :, k] * weights[:, None, k]
    return np.ascontiguousarray(total)  # constriction reads the rows of a C-order array


def _mixture_arrays(mean: Tensor, scale: Tensor, log2_weights: Tensor) -> np.ndarray:
    """``mixture_probabilities`` of a group's parameters (..., K), flattened in their order."""
    k = mean.shape[-1]
    flat = [t.reshape(-1, k).to(torch.float64).numpy() for t in (mean, scale, log2_weights)]
    return mixture_probabilities(*flat)


def _centre(mean: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The integer centre ``R(mean)`` and the fractional mean the coder sees, both as flat float64 arrays."""
    mean = mean.to(torch.float64).flatten()
    centre = round_half_up(mean)
    return centre.numpy(), (mean - centre).numpy()


def encode_latents(groups: Sequence[LatentGroup], family: str) -> bytes:
    """Code the groups (given in decoding order) into one ANS bitstream."""
    coder = constriction.stream.stack.AnsCoder()
    model = _FAMILIES.get(family)  # None for a mixture, whose groups carry their weights
    for g in reversed(groups):
        if g.log2_weights is not None:
            symbols, *params = g.in_coding_order()
            index = symbols.numpy().astype(np.int64) - MIXTURE_SYMBOLS[0]
            if index.size and (index.min() < 0 or index.max() > MIXTURE_SYMBOLS[1] - MIXTURE_SYMBOLS[0]):
                raise FlowzipError("a mixture codes pixels only: a symbol is out of its range")
            probabilities = mixture_probabilities(*(p.reshape(len(index), -1).numpy() for p in params))
            coder.encode_reverse(index.astype(np.int32), _CATEGORICAL, probabilities)
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

    def __call__(self, mean: Tensor, scale: Tensor, log2_weights: Tensor | None = None) -> Tensor:
        if log2_weights is not None:
            try:
                index = self._coder.decode(_CATEGORICAL, _mixture_arrays(mean, scale, log2_weights))
            except Exception as e:  # constriction raises plain exceptions on exhausted or invalid data
                raise FlowzipError(f"corrupt compressed data ({e})") from None
            symbols = torch.from_numpy(index.astype(np.float64) + MIXTURE_SYMBOLS[0])
            return symbols.reshape(mean.shape[:-1]).to(mean.dtype)
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

    def finish(self) -> None:
        """Check that the whole bitstream was used, as it is in every intact file."""
        if not self._coder.is_empty():
            raise FlowzipError("corrupt compressed data (bits left over after decoding)")
