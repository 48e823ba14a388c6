"""ANS coding of latent groups: exact, with escapes, and matching the model's code length."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flowzip.entropy import SYMBOL_RANGE, LatentDecoder, LatentGroup, encode_latents
from flowzip.errors import FlowzipError
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
