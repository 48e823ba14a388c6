"""ANS coding of latent groups: exact, with escapes, and matching the model's code length."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from flowzip.config import MIXTURE
from flowzip.entropy import MIXTURE_SYMBOLS, SYMBOL_RANGE, LatentDecoder, LatentGroup, encode_latents, wavefronts
from flowzip.errors import FlowzipError
from flowzip.exact import LOGISTIC_TABLE_SHA256, _logistic_table, exp2_sixteenths
from flowzip.priors import code_length_bits


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


def _mixture_group(seed: int) -> LatentGroup:
    """Pixels (minus 128) drawn from a random mixture of 4 logistics per latent, with that mixture."""
    g = torch.Generator().manual_seed(seed)
    shape = (2, 3, 9, 7, 4)
    mean = torch.round(torch.randn(shape, generator=g, dtype=torch.float64) * 60 * 64) / 64
    scale = torch.from_numpy(exp2_sixteenths(torch.randint(-32, 100, shape, generator=g).numpy()))
    log2_weights = torch.randint(-40, 40, shape, generator=g).to(torch.float64) / 16
    pick = torch.multinomial(torch.softmax(log2_weights.flatten(0, 3), -1), 1, generator=g).view(*shape[:4], 1)
    u = torch.rand(shape[:4], generator=g, dtype=torch.float64).clamp(1e-6, 1 - 1e-6)
    sample = mean.gather(-1, pick)[..., 0] + scale.gather(-1, pick)[..., 0] * torch.log(u / (1 - u))
    symbols = torch.round(sample).clamp(*MIXTURE_SYMBOLS)
    return LatentGroup(symbols, mean, scale, log2_weights)


def test_mixtures_round_trip_at_their_code_length() -> None:
    """A mixture group decodes exactly, whole or position by position, at the model's code length."""
    group = _mixture_group(0)
    data = encode_latents([group], MIXTURE)
    decoder = LatentDecoder(data, MIXTURE)
    assert torch.equal(decoder(group.mean, group.scale, group.log2_weights), group.symbols)
    decoder.finish()
    group.context_radius = 2
    decoder = LatentDecoder(encode_latents([group], MIXTURE), MIXTURE)
    width = group.symbols.shape[3]
    for front in wavefronts(*group.symbols.shape[2:], 2):  # all images and channels at the front's positions
        at = (slice(None), slice(None), front // width, front % width)
        params = [p[at].movedim(2, 0) for p in (group.mean, group.scale, group.log2_weights)]
        assert torch.equal(decoder(*params), group.symbols[at].movedim(2, 0))
    decoder.finish()
    model_bits = code_length_bits(group.symbols, group.mean, group.scale, MIXTURE, group.log2_weights).sum().item()
    assert model_bits * 0.999 <= 8 * len(data) <= model_bits * 1.002 + 64


def test_the_logistic_table_is_the_same_everywhere() -> None:
    """The table behind every mixture's probabilities is pinned: a machine that computed another would code
    other files (docs/format.md gives this hash)."""
    table = _logistic_table()
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
