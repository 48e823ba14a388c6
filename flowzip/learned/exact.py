"""Exact arithmetic: every value that is rounded, or that reaches the entropy coder, is computed here.

A lossless learned codec breaks when the decoder computes a float that differs from the encoder's in its last
bit. flowzip avoids that by construction: while coding, every tensor that feeds a rounding or the coder lives on
a dyadic fixed-point grid (an integer times a power of two) and is small enough that float64 represents every
product and every partial sum exactly. Then the result of a convolution is the same whatever its summation
order, instruction set, thread count or library, and so is everything computed from it. Training runs the very
same functions in float32 with straight-through rounding; coding runs them in float64, where they are exact.

Grids and bounds (the argument is written out in ``docs/exactness.md``):

- weights: multiples of ``2**-WEIGHT_BITS``, clamped to ``±WEIGHT_LIMIT``;
- activations: multiples of ``2**-ACT_BITS``, clamped to ``±ACT_LIMIT``;
- biases: multiples of ``2**-(WEIGHT_BITS + ACT_BITS)``, clamped to ``±BIAS_LIMIT``, so a convolution's output
  is on that grid too;
- latents: integers; the autoregressive convolutions use integer numerators over ``2**MASKED_BITS``.
"""

from __future__ import annotations

import contextlib
import contextvars
import decimal
import functools
import math
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowzip.jit import njit

WEIGHT_BITS = 12
WEIGHT_LIMIT = 64.0
BIAS_LIMIT = 65536.0
ACT_BITS = 6
ACT_LIMIT = 256.0
MAX_CONV_CHANNELS = 256  # input channels of a network conv; bounds its sums (docs/exactness.md)
MAX_MASKED_CHANNELS = 192  # channels of a masked lifting conv; bounds its sums
MASKED_BITS = 12
LATENT_INPUT_SHIFT = 6  # networks see integer latents times 2**-6, which keeps them O(1)
LATENT_LIMIT = float(2**24)  # latents and means stay within this, or coding stops (emerging.masked_lifting_shift)

# 2**(k/16) for k = 0..15, written out so that no libm is involved in building the scale table.
_POW2_SIXTEENTHS = [
    float.fromhex(h)
    for h in (
        "0x1.0000000000000p+0",
        "0x1.0b5586cf9890fp+0",
        "0x1.172b83c7d517bp+0",
        "0x1.2387a6e756238p+0",
        "0x1.306fe0a31b715p+0",
        "0x1.3dea64c123422p+0",
        "0x1.4bfdad5362a27p+0",
        "0x1.5ab07dd485429p+0",
        "0x1.6a09e667f3bcdp+0",
        "0x1.7a11473eb0187p+0",
        "0x1.8ace5422aa0dbp+0",
        "0x1.9c49182a3f090p+0",
        "0x1.ae89f995ad3adp+0",
        "0x1.c199bdd85529cp+0",
        "0x1.d5818dcfba487p+0",
        "0x1.ea4afa2a490dap+0",
    )
]
INITIAL_LOG2_SCALE = 4  # a network output of 0 means scale 16: a sensible start for pixel-level latents
# Coder scales are 2**(q/16) for integer q in [SCALE_INDEX_MIN, SCALE_INDEX_MAX]: 0.25 ... 256.
SCALE_INDEX_MIN = -32
SCALE_INDEX_MAX = 128


def exp2_sixteenths(index: np.ndarray) -> np.ndarray:
    """``2**(index / 16)`` for integer ``index`` (float64 array): exact table entries scaled by ``ldexp``."""
    index = index.astype(np.int64)
    return np.ldexp(np.array(_POW2_SIXTEENTHS)[index % 16], index // 16)


# the coder scales by index - SCALE_INDEX_MIN, for the compiled decoder (numpy) and the layers (torch)
SCALE_TABLE = exp2_sixteenths(np.arange(SCALE_INDEX_MIN, SCALE_INDEX_MAX + 1))
_SCALE_TABLE = torch.from_numpy(SCALE_TABLE)


# False only inside float_twin(), in the thread (context) that entered it
_FIXED_POINT: contextvars.ContextVar[bool] = contextvars.ContextVar("flowzip_fixed_point", default=True)


@contextlib.contextmanager
def float_twin() -> Iterator[None]:
    """Inside this block the networks compute in plain floating point: no grids, no scale table.

    It exists only to measure what the fixed-point design costs (``benchmarks/decisions/float_twin.py``). Latents are
    still rounded to integers, so the flow stays a bijection on integers, and the bounds (clamps) stay; but
    nothing computed here is reproducible across machines, so no file is ever coded this way. It holds for the
    thread that enters it (a context variable): tiles coded on other threads meanwhile stay exact.
    """
    token = _FIXED_POINT.set(False)
    try:
        yield
    finally:
        _FIXED_POINT.reset(token)


class _RoundToGrid(torch.autograd.Function):
    """``floor(x * s + 1/2) / s`` with a straight-through (identity) gradient."""

    @staticmethod
    def forward(ctx, x: Tensor, scale: float) -> Tensor:
        return torch.floor(x * scale + 0.5).div_(scale)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


def to_grid(x: Tensor, frac_bits: int) -> Tensor:
    """Round ``x`` half up to a multiple of ``2**-frac_bits``: exact, as power-of-two scalings are exact.

    In training the gradient passes straight through.
    """
    if frac_bits > 0 and not _FIXED_POINT.get():
        return x
    scale = float(2**frac_bits)
    if x.requires_grad:
        return _RoundToGrid.apply(x, scale)
    return torch.floor(x * scale + 0.5).div_(scale)


def round_half_up(x: Tensor) -> Tensor:
    """``R(x) = floor(x + 1/2)``; the gradient passes straight through in training."""
    return to_grid(x, 0)


def fixed_point_weight(weight: Tensor, frac_bits: int) -> Tensor:
    """A weight clamped to ``±WEIGHT_LIMIT`` and rounded to the ``2**-frac_bits`` grid."""
    return to_grid(torch.clamp(weight, -WEIGHT_LIMIT, WEIGHT_LIMIT), frac_bits)


def latent_to_activation(z: Tensor) -> Tensor:
    """The fixed-point network input for integer latents ``z``: ``z * 2**-6``, clamped."""
    return torch.clamp(z * 2.0**-LATENT_INPUT_SHIFT, -ACT_LIMIT, ACT_LIMIT)


def activation(x: Tensor) -> Tensor:
    """ReLU, then back onto the activation grid and inside its bound."""
    return torch.clamp(to_grid(torch.relu(x), ACT_BITS), max=ACT_LIMIT)


def requantize(x: Tensor) -> Tensor:
    """A residual stream back onto the activation grid and inside its bound."""
    return torch.clamp(to_grid(x, ACT_BITS), -ACT_LIMIT, ACT_LIMIT)


_CONV_CHUNK = 4096  # output positions per matrix product: the accumulator stays in cache across the taps


def is_coding(x: Tensor) -> bool:
    """Whether ``x`` belongs to an exact coding pass (float64, no gradient) rather than to training."""
    return x.dtype == torch.float64 and not x.requires_grad


class Padded:
    """How a coding pass lays out an (N, C, H, W) activation for the exact convolutions.

    Channels-last, inside a one-pixel zero border, flattened to (N, (H + 2) * (W + 2), C): the tap of a 3x3
    convolution at row offset ``di`` and column offset ``dj`` then reads one contiguous slice, shifted by
    ``di * (W + 2) + dj``, so a convolution is nine matrix products with no im2col copy. Element-wise
    operations that keep 0 at 0 (ReLU, rounding to a grid, clamping, sums) keep the border zero, so a network
    stays in this layout from its first convolution to its last.
    """

    def __init__(self, n: int, h: int, w: int):
        self.n, self.h, self.w = n, h, w

    def enter(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> the padded layout."""
        return F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1).reshape(self.n, (self.h + 2) * (self.w + 2), x.shape[1])

    def leave(self, p: Tensor) -> Tensor:
        """The padded layout -> (N, C, H, W)."""
        grid = p.view(self.n, self.h + 2, self.w + 2, p.shape[2])
        return grid[:, 1 : self.h + 1, 1 : self.w + 1].permute(0, 3, 1, 2).contiguous()

    def conv(self, p: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """A 'same' 3x3 convolution from padded layout to padded layout, as exact matrix products."""
        c_in, c_out, row = p.shape[2], weight.shape[0], self.w + 2
        taps = weight.to(p.dtype).permute(2, 3, 1, 0).reshape(9, c_in, c_out)
        start = torch.zeros(c_out, dtype=p.dtype, device=p.device) if bias is None else bias.to(p.dtype)
        out = torch.zeros(self.n, (self.h + 2) * row, c_out, dtype=p.dtype, device=p.device)
        # output pixel (i, j) goes to i * row + j + row + 1 of the padded output; the j = W, W + 1 positions
        # in between are computed too (it keeps the slices contiguous) and land on the border, reset below
        length = self.h * row - 2
        for b in range(self.n):
            for first in range(0, length, _CONV_CHUNK):
                last = min(length, first + _CONV_CHUNK)
                acc = out[b, row + 1 + first : row + 1 + last]
                torch.addmm(start, p[b, first:last], taps[0], out=acc)
                for k in range(1, 9):
                    offset = (k // 3) * row + k % 3
                    acc.addmm_(p[b, first + offset : last + offset], taps[k])
        grid = out.view(self.n, self.h + 2, row, c_out)
        grid[:, :, 0] = 0
        grid[:, :, row - 1] = 0
        return out


def conv3x3(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """A 'same'-padded 3x3 convolution: ``F.conv2d`` in training, exact matrix products while coding.

    The coding path (``Padded``) is 1.5-4x faster than ``F.conv2d`` in float64 on CPU. Exact sums do not
    depend on their order (``docs/exactness.md``), so both give identical results.
    """
    if not is_coding(x) or weight.requires_grad:
        return F.conv2d(x, weight.to(x.dtype), None if bias is None else bias.to(x.dtype), padding=1)
    layout = Padded(x.shape[0], x.shape[2], x.shape[3])
    return layout.leave(layout.conv(layout.enter(x), weight, bias))


def fixed_point_layer(weight: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
    """A network layer's weight and bias on their grids: the bias on the grid of weight x activation products,
    so the layer's outputs are on it too."""
    return (
        fixed_point_weight(weight, WEIGHT_BITS),
        to_grid(torch.clamp(bias, -BIAS_LIMIT, BIAS_LIMIT), WEIGHT_BITS + ACT_BITS),
    )


class FixedPointConv2d(nn.Conv2d):
    """A 'same'-padded 3x3 convolution with fixed-point weights and bias, exact in float64 on grid inputs."""

    def __init__(self, in_channels: int, out_channels: int, zero_init: bool = False):
        if in_channels > MAX_CONV_CHANNELS:  # the bound of docs/exactness.md
            raise ValueError(f"a network convolution takes at most {MAX_CONV_CHANNELS} channels, not {in_channels}")
        super().__init__(in_channels, out_channels, 3, padding=1)
        if zero_init:
            nn.init.zeros_(self.weight)
            nn.init.zeros_(self.bias)

    def fixed_point(self) -> tuple[Tensor, Tensor]:
        """The weight and bias on their grids."""
        return fixed_point_layer(self.weight, self.bias)

    def forward(self, x: Tensor, layout: Padded | None = None) -> Tensor:
        """The convolution of ``x``, in (N, C, H, W) or, while coding, already in a ``Padded`` layout."""
        return conv3x3(x, *self.fixed_point()) if layout is None else layout.conv(x, *self.fixed_point())


class FixedPointLinear(nn.Linear):
    """``y = W x + b`` over the last dimension with fixed-point weights and bias: the pointwise layers of a
    network, exact in float64 on grid inputs like ``FixedPointConv2d`` (at most 9 x 256 inputs, its bound)."""

    def __init__(self, in_features: int, out_features: int, zero_init: bool = False):
        if in_features > 9 * MAX_CONV_CHANNELS:  # the bound of docs/exactness.md
            raise ValueError(f"a network layer takes at most {9 * MAX_CONV_CHANNELS} inputs, not {in_features}")
        super().__init__(in_features, out_features)
        if zero_init:
            nn.init.zeros_(self.weight)
            nn.init.zeros_(self.bias)

    def fixed_point(self) -> tuple[Tensor, Tensor]:
        """The weight and bias on their grids."""
        return fixed_point_layer(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        weight, bias = self.fixed_point()
        return F.linear(x, weight.to(x.dtype), bias.to(x.dtype))


def scale_from_index(raw: Tensor) -> tuple[Tensor, Tensor]:
    """Map a network output (16 * (log2 scale - INITIAL_LOG2_SCALE)) to a scale index and the coder's scale.

    The scale is read from a table of exact float64 constants, never computed with exp(), so encoder and
    decoder pass bit-identical parameters to the coder. In training the value is the same table entry and the
    gradient is that of ``2**(raw/16)``.
    """
    if not _FIXED_POINT.get():
        index = torch.clamp(raw + 16 * INITIAL_LOG2_SCALE, SCALE_INDEX_MIN, SCALE_INDEX_MAX)
        return index, torch.exp2(index / 16.0)
    index = torch.clamp(round_half_up(raw) + 16 * INITIAL_LOG2_SCALE, SCALE_INDEX_MIN, SCALE_INDEX_MAX)
    table = _SCALE_TABLE.to(device=raw.device, dtype=raw.dtype)
    exact = table[(index.detach() - SCALE_INDEX_MIN).long()]
    if raw.requires_grad:
        smooth = torch.exp2(index / 16.0)
        return index, smooth + (exact - smooth).detach()
    return index, exact


LOGISTIC_TABLE_STEP = 64  # the logistic table holds sigma(k / 64) ...
LOGISTIC_TABLE_LIMIT = 32  # ... for |k / 64| <= 32; beyond, sigma is within 1.3e-14 of 0 or 1 and taken as the end
LOGISTIC_TABLE_SHA256 = "3b320cab5fe1cb01812ec76149989e747559d51d05b7e68f1e56a5796e280469"  # of its float64 LE bytes


@functools.cache
def logistic_table() -> np.ndarray:
    """sigma(k / LOGISTIC_TABLE_STEP) for every k in the table's range, each the float64 nearest to the true value:
    computed in decimal arithmetic, which is correctly rounded on every machine (libm's exp() is not)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 40
        n = LOGISTIC_TABLE_STEP * LOGISTIC_TABLE_LIMIT
        values = [1 / (1 + (decimal.Decimal(-k) / LOGISTIC_TABLE_STEP).exp()) for k in range(-n, n + 1)]
    return np.array([float(v) for v in values])


@njit(nogil=True)
def logistic_cdf(t: float, table: np.ndarray) -> float:
    """The logistic CDF sigma(t), interpolated linearly in ``table`` (``logistic_table()``; compiled).

    Every step is an IEEE operation on exact inputs (a clamp, a scaling by a power of two, an addition, floor,
    one subtraction, one multiplication and one addition, none fused), so encoder and decoder get the same value
    bit for bit; the error against sigma is below 4e-6, and the result is monotone in ``t``.
    """
    n = LOGISTIC_TABLE_STEP * LOGISTIC_TABLE_LIMIT
    x = min(max(t, -LOGISTIC_TABLE_LIMIT), LOGISTIC_TABLE_LIMIT) * LOGISTIC_TABLE_STEP + n
    k = min(math.floor(x), 2 * n - 1)
    return table[k] + (table[k + 1] - table[k]) * (x - k)
