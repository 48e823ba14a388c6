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
from flowzip.exact import round_half_up


@dataclass
class LatentGroup:
    """Integer latents (N, C, H, W) and the coder parameters (mean, scale) of each, all of one shape.

    The coder takes them in C order, or with ``positionwise`` position by position ((H, W, N, C) order), as a
    decoder that needs each position's neighbours before the next position asks for them.
    """

    symbols: Tensor
    mean: Tensor
    scale: Tensor
    positionwise: bool = False

    def in_coding_order(self) -> tuple[Tensor, Tensor, Tensor]:
        """Symbols, means and scales as flat float64 tensors, in the order the coder takes them."""

        def flat(t: Tensor) -> Tensor:
            return (t.permute(2, 3, 0, 1) if self.positionwise else t).flatten().to(torch.float64)

        return flat(self.symbols), flat(self.mean), flat(self.scale)


# What the flow's inverse calls with a group's (mean, scale) to get its integer latents back (LatentDecoder).
GroupDecoder = Callable[[Tensor, Tensor], Tensor]


SYMBOL_RANGE = 1023
ESCAPE_DIGIT_BITS = 20  # two digits: excesses below 2**40, far beyond |z - R(mean)| <= 2 * LATENT_LIMIT

_FAMILIES = {
    "gaussian": constriction.stream.model.QuantizedGaussian(-SYMBOL_RANGE, SYMBOL_RANGE),
    "laplace": constriction.stream.model.QuantizedLaplace(-SYMBOL_RANGE, SYMBOL_RANGE),
}
_DIGIT = constriction.stream.model.Uniform(1 << ESCAPE_DIGIT_BITS)


def _centre(mean: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The integer centre ``R(mean)`` and the fractional mean the coder sees, both as flat float64 arrays."""
    mean = mean.to(torch.float64).flatten()
    centre = round_half_up(mean)
    return centre.numpy(), (mean - centre).numpy()


def encode_latents(groups: Sequence[LatentGroup], family: str) -> bytes:
    """Code the groups (given in decoding order) into one ANS bitstream."""
    coder = constriction.stream.stack.AnsCoder()
    model = _FAMILIES[family]
    for g in reversed(groups):
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
        self._model = _FAMILIES[family]

    def __call__(self, mean: Tensor, scale: Tensor) -> Tensor:
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
