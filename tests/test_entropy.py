"""ANS coding of latent groups: exact, with escapes, and matching the model's code length."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch

from flowzip.errors import FlowzipError
from flowzip.learned.config import MIXTURE
from flowzip.learned.entropy import (
    MIXTURE_SYMBOLS,
    SYMBOL_RANGE,
    LatentDecoder,
    LatentGroup,
    _channel_rows,
    _mixture_tables,
    _posterior_weights,
    coupled_means,
    encode_latents,
)
from flowzip.learned.exact import LOGISTIC_TABLE_SHA256, exp2_sixteenths, logistic_table
from flowzip.learned.priors import code_length_bits


def _groups(seed: int, outliers: bool) -> list[LatentGroup]:
    g = torch.Generator().manual_seed(seed)
    groups = []
    for shape in [(1, 4, 3, 5), (1, 2, 8, 8), (1, 1, 1, 1)]:
        mean = torch.randn(shape, generator=g, dtype=torch.float64) * 30
        scale = torch.exp2(torch.randint(-4, 80, shape, generator=g) / 16).to(torch.float64)
        symbols = torch.round(mean + torch.randn(shape, generator=g, dtype=torch.float64) * scale)
        if outliers:
            symbols.view(-1)[::3] += torch.tensor([SYMBOL_RANGE, -SYMBOL_RANGE - 1, 10**9], dtype=torch.float64)[
                torch.arange(symbols.view(-1)[::3].numel()) % 3
            ]
        groups.append(LatentGroup(symbols, mean, scale))
    return groups


@pytest.mark.parametrize("family", ["gaussian", "laplace"])
@pytest.mark.parametrize("outliers", [False, True])
def test_groups_round_trip(family: str, outliers: bool) -> None:
    groups = _groups(3, outliers)
    data = encode_latents(groups, family)
    decoder = LatentDecoder(data, family)
    for g in groups:
        assert torch.equal(decoder(g.mean, g.scale), g.symbols)
    decoder.finish()


@pytest.mark.parametrize("family", ["gaussian", "laplace"])
def test_rate_matches_code_length(family: str) -> None:
    """Without escapes, the coded size is the model's code length plus at most a few bytes."""
    g = torch.Generator().manual_seed(0)
    shape = (1, 3, 64, 64)
    mean = torch.randn(shape, generator=g, dtype=torch.float64) * 5
    scale = torch.exp2(torch.randint(0, 64, shape, generator=g) / 16).to(torch.float64)
    dist = torch.distributions.Laplace if family == "laplace" else torch.distributions.Normal
    symbols = torch.round(dist(mean, scale).sample())
    model_bits = code_length_bits(symbols, mean, scale, family).sum().item()
    coded_bits = 8 * len(encode_latents([LatentGroup(symbols, mean, scale)], family))
    assert model_bits <= coded_bits <= model_bits * 1.001 + 64


def _mixture_group(seed: int, context_radius: int) -> LatentGroup:
    """Pixels (minus 128) of 2 images of 9x7x3 drawn from random joint mixtures of 4 logistics per position,
    with those mixtures."""
    g = torch.Generator().manual_seed(seed)
    n, c, h, w, k = 2, 3, 9, 7, 4
    mean = torch.round(torch.randn(n, c, h, w, k, generator=g, dtype=torch.float64) * 60 * 64) / 64
    scale = torch.from_numpy(exp2_sixteenths(torch.randint(-32, 100, (n, c, h, w, k), generator=g).numpy()))
    log2_weights = torch.randint(-40, 40, (n, h, w, k), generator=g).to(torch.float64) / 16
    coupling = torch.randint(-512, 512, (n, 3, h, w, k), generator=g).to(torch.float64) / 256
    pick = torch.multinomial(torch.softmax(log2_weights.flatten(0, 2), -1), 1, generator=g).view(n, 1, h, w, 1)
    symbols = torch.zeros(n, c, h, w, dtype=torch.float64)
    for channel in range(c):
        u = torch.rand(n, h, w, generator=g, dtype=torch.float64).clamp(1e-6, 1 - 1e-6)
        means = coupled_means(mean, coupling, symbols, channel).gather(-1, pick[:, 0])[..., 0]
        scales = scale[:, channel].gather(-1, pick[:, 0])[..., 0]
        sample = means + scales * torch.log(u / (1 - u))
        symbols[:, channel] = torch.round(sample).clamp(*MIXTURE_SYMBOLS)
    return LatentGroup(symbols, mean, scale, log2_weights, coupling, context_radius)


@pytest.mark.parametrize("context_radius", [0, 2])
def test_mixtures_round_trip_at_their_code_length(context_radius: int) -> None:
    """A joint mixture group decodes exactly, whole or wavefront by wavefront (each call decoding a position's
    channels in turn), at the model's code length."""
    group = _mixture_group(0, context_radius)
    data = encode_latents([group], MIXTURE)
    decoder = LatentDecoder(data, MIXTURE)
    symbols, *params = group.in_coding_order()
    start = 0
    for size in group.decode_steps():
        step = slice(start, start + size)
        start += size
        assert np.array_equal(decoder.decode_mixture(*(p[step].numpy() for p in params)), symbols[step].numpy())
    decoder.finish()
    assert start == len(symbols) == group.symbols[:, 0].numel()
    bits = code_length_bits(group.symbols, group.mean, group.scale, MIXTURE, group.log2_weights, group.coupling)
    model_bits = bits.sum().item()
    assert model_bits * 0.999 <= 8 * len(data) <= model_bits * 1.002 + 64


def _table_as_specified(mean: list[float], scale: list[float], weights: list[float]) -> list[float]:
    """One mixture's table as docs/format.md specifies it, step by step in Python floats (IEEE doubles)."""
    table = logistic_table()

    def cdf(e: float, m: float, s: float) -> float:
        x = max(-32.0, min(32.0, (e - m) / s)) * 64 + 2048
        j = min(math.floor(x), 4095)
        return float(table[j]) + (float(table[j + 1]) - float(table[j])) * (x - j)

    out = [0.0] * 256
    for k, (m, s, w) in enumerate(zip(mean, scale, weights, strict=True)):
        edges = [0.0] + [cdf(v + 0.5, m, s) for v in range(-128, 127)] + [1.0]
        for v in range(256):
            p = max(0.0, edges[v + 1] - edges[v]) * w
            out[v] = p if k == 0 else out[v] + p
    return out


def test_mixture_tables_are_computed_as_specified() -> None:
    """The compiled tables equal, bit for bit, the format's recipe done in plain Python floats: no fused
    multiply-add, no reordering (means anywhere, narrow and wide scales, tails beyond the logistic table)."""
    g = np.random.default_rng(0)
    mean = np.round(g.normal(0, 120, (40, 3)) * 2**18) / 2**18
    mean[0] = [-1e6, 1e6, 127.5]
    scale = exp2_sixteenths(g.integers(-32, 128, (40, 3)).astype(np.float64))
    weights = exp2_sixteenths(g.integers(-90, 1, (40, 3)).astype(np.float64))
    tables = _mixture_tables(mean, scale, weights, logistic_table())
    for row in range(40):
        expected = _table_as_specified(*(a[row].tolist() for a in (mean, scale, weights)))
        assert tables[row].tolist() == expected
    symbols = g.integers(-128, 128, 40).astype(np.float64)
    products = np.zeros_like(weights)
    for k in range(3):  # each component's probability of the symbol, from its table alone
        alone = np.zeros_like(weights)
        alone[:, k] = 1.0
        single = _mixture_tables(mean, scale, alone, logistic_table())
        products[:, k] = weights[:, k] * single[np.arange(40), symbols.astype(int) + 128]
    top = products.max(axis=1, keepdims=True)
    expected = np.where(top > 0, products / np.where(top > 0, top, 1), weights)
    assert np.array_equal(_posterior_weights(weights, mean, scale, symbols, logistic_table()), expected)
    assert (top[:, 0] == 0).any() and (top[:, 0] > 0).any()  # both cases happen


def test_the_compiled_coupled_means_are_the_models() -> None:
    """The coder's compiled coupled means equal ``coupled_means``, which training uses, bit for bit."""
    g = np.random.default_rng(1)
    mean = np.round(g.normal(0, 60, (50, 3, 4)) * 64) / 64
    scale = exp2_sixteenths(g.integers(-32, 128, (50, 3, 4)).astype(np.float64))
    coupling = g.integers(-512, 512, (50, 3, 4)) / 256
    symbols = g.integers(-128, 128, (50, 3)).astype(np.float64)
    for channel in range(3):
        means, scales = _channel_rows(mean, scale, coupling, symbols, channel)
        assert np.array_equal(means, coupled_means(mean, coupling, symbols, channel))
        assert np.array_equal(scales, scale[:, channel])


def test_the_logistic_table_is_the_same_everywhere() -> None:
    """The table behind every mixture's probabilities is pinned: a machine that computed another would code
    other files (docs/format.md gives this hash)."""
    table = logistic_table()
    assert hashlib.sha256(table.astype("<f8").tobytes()).hexdigest() == LOGISTIC_TABLE_SHA256


def test_left_over_data_is_an_error() -> None:
    """Extra words in a stream are noticed once the groups are decoded (truncation is caught by the container's
    lengths and the pixel checksum; see test_codec)."""
    groups = _groups(1, outliers=False)
    decoder = LatentDecoder(b"\x01\x02\x03\x04" + encode_latents(groups, "laplace"), "laplace")
    with pytest.raises(FlowzipError, match="left over"):
        for g in groups:
            decoder(g.mean, g.scale)
        decoder.finish()


def test_escape_bytes_are_bounded() -> None:
    """A corrupt stream cannot make the escape reader loop for ever."""
    mean, scale = torch.zeros(1, 1, 1, 1, dtype=torch.float64), torch.ones(1, 1, 1, 1, dtype=torch.float64)
    data = encode_latents([LatentGroup(torch.full((1, 1, 1, 1), float(SYMBOL_RANGE)), mean, scale)], "gaussian")
    decoder = LatentDecoder(data + bytes(np.full(64, 0xFF, dtype=np.uint8)), "gaussian")
    with pytest.raises(FlowzipError):
        decoder(mean, scale)
        decoder.finish()


@pytest.mark.parametrize("tail", [b"\0\0\0\0", b"\0" * 7])
def test_stream_ending_in_a_zero_word_is_an_error(tail: bytes) -> None:
    """constriction refuses such a stream; the refusal must be a FlowzipError (found by review, not fuzzing)."""
    groups = _groups(2, outliers=False)
    with pytest.raises(FlowzipError, match="corrupt compressed data"):
        LatentDecoder(encode_latents(groups, "gaussian") + tail, "gaussian")
