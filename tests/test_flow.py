"""The multi-scale flow: decoding mirrors encoding group by group, and what cannot be exact is refused."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from flowzip.learned.config import MIXTURE, PRIOR_PHASES, FlowConfig
from flowzip.learned.priors import PHASES
from flowzip.learned.zoo import build_network

from conftest import random_flow


def _int_tensor(*shape: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=g).to(torch.float64)


class _CheckingDecoder:
    """A ``GroupDecoder`` that checks that each call asks for the next rows of the coder's order (``coded``:
    symbols and parameters of every group, ``LatentGroup.in_coding_order``) with the same parameters, and
    answers with their symbols."""

    def __init__(self, coded: list[torch.Tensor]):
        self.coded, self.asked = coded, 0

    def _next(self, rows: int, params: tuple[torch.Tensor, ...]) -> torch.Tensor:
        part = slice(self.asked, self.asked + rows)
        self.asked += rows
        assert len(self.coded) == 1 + len(params)
        for expected, given in zip(self.coded[1:], params, strict=True):
            assert torch.equal(expected[part], given.reshape(expected[part].shape))
        return self.coded[0][part]

    def __call__(self, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return self._next(mean.numel(), (mean, scale)).reshape(mean.shape)

    def decode_mixture(self, *params: np.ndarray) -> np.ndarray:  # rows: a position's channels each
        return self._next(len(params[0]), tuple(torch.from_numpy(p) for p in params)).numpy()


@pytest.mark.parametrize(
    ("levels", "chunks", "phases", "radius", "family"),
    [
        *[(2, *c, "gaussian") for c in [(1, 1, 0), (2, 1, 0), (3, 1, 0), (1, 4, 0), (2, 4, 0), (1, 1, 2), (2, 1, 1)]],
        (0, 3, 1, 2, "gaussian"),
        (0, 1, 1, 2, MIXTURE),  # a mixture codes pixels only, all channels at once
    ],
)
@pytest.mark.parametrize("images", [1, 2])
def test_flow_decode_inverts_encode(
    levels: int, chunks: int, phases: int, radius: int, family: str, images: int
) -> None:
    """Decoding asks for the latents in the coder's order with the same parameters: no prior sees a latent
    decoded after it (12x20 pixels give odd latent sizes at the second level, where phases differ in size; a
    causal context asks position by position; with no levels, the top prior codes the pixels, with a single
    distribution or a mixture; one image, as the codec asks, and a batch)."""
    config = FlowConfig(
        family=family,
        mixture_components=3,
        levels=levels,
        steps=2,
        hidden=8,
        prior_hidden=8,
        prior_chunks=chunks,
        prior_phases=phases,
        context_radius=radius,
    )
    flow = random_flow(config)
    x = _int_tensor(images, 3, 12, 20)
    with torch.no_grad():
        groups = flow(x)
        # the factored-out groups and the top, each in chunks and phases
        assert len(groups) == (levels + 1) * chunks * phases
        assert sum(g.context_radius == radius > 0 for g in groups) == (chunks if radius else 0)
        coded = [torch.cat(parts) for parts in zip(*(g.in_coding_order() for g in groups), strict=True)]
        decoder = _CheckingDecoder(coded)
        assert torch.equal(flow.inverse(tuple(x.shape), decoder, torch.float64), x)
        assert decoder.asked == len(coded[0])


@pytest.mark.parametrize(
    "change",
    [
        {"levels": -1},
        {"hidden": 0},
        {"prior_chunks": 0},
        {"chunk_hidden": 0},
        {"family": "cauchy"},
        {"family": MIXTURE},  # codes pixels: levels=0 only
        {"family": MIXTURE, "levels": 0, "context_radius": 2, "mixture_components": 0},
        {"family": MIXTURE, "levels": 0},  # no context
        {"family": MIXTURE, "levels": 0, "context_radius": 2, "prior_chunks": 3},
        {"prior_phases": 2},
        {"hidden": 257},  # beyond the exactness bounds of docs/exactness.md
        {"levels": 6},  # 384 channels in the last masked convolutions
        {"levels": 4, "prior_phases": 4},  # 336 input channels in the last phase networks
        {"context_radius": 1, "prior_phases": 4},
        {"context_radius": -1},
        {"context_hidden": 0},
    ],
)
def test_invalid_flow_configurations_are_refused(change: dict) -> None:
    with pytest.raises(ValueError):
        build_network(FlowConfig(**change))


def test_the_configurable_phase_counts_are_the_priors_own() -> None:
    assert (1, len(PHASES)) == PRIOR_PHASES


def test_the_mixture_family_builds_the_pixel_model_and_only_it() -> None:
    """A logistic-mixture configuration is the pixel model (no flow); the pixel model takes no other, and starts
    only from a pixel model of its own configuration."""
    from flowzip.learned.flow import IntegerFlow
    from flowzip.learned.pixel_model import PixelModel

    pixels = FlowConfig(levels=0, family=MIXTURE, context_radius=2, hidden=8, context_hidden=8)
    assert isinstance(build_network(pixels), PixelModel)
    assert isinstance(build_network(FlowConfig(levels=1, hidden=8, prior_hidden=8)), IntegerFlow)
    with pytest.raises(ValueError):
        PixelModel(FlowConfig(levels=0, context_radius=2))
    model, other = random_flow(pixels, seed=1), random_flow(pixels, seed=2)
    other.start_from(model)
    x = _int_tensor(1, 3, 5, 7)
    assert torch.equal(other.code_length_bits(x), model.code_length_bits(x))
    with pytest.raises(ValueError):
        build_network(replace(pixels, context_radius=1)).start_from(model)
