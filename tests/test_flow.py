"""The multi-scale flow: decoding mirrors encoding group by group, and what cannot be exact is refused."""

from __future__ import annotations

import pytest
import torch

from flowzip.config import PRIOR_PHASES, FlowConfig
from flowzip.flow import IntegerFlow
from flowzip.priors import PHASES

from conftest import random_flow


def _int_tensor(*shape: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=g).to(torch.float64)


@pytest.mark.parametrize(
    ("chunks", "phases", "radius"), [(1, 1, 0), (2, 1, 0), (3, 1, 0), (1, 4, 0), (2, 4, 0), (1, 1, 2), (2, 1, 1)]
)
def test_flow_decode_inverts_encode(chunks: int, phases: int, radius: int) -> None:
    """Decoding asks for the latents in the coder's order with the same parameters: no prior sees a latent
    decoded after it (12x20 pixels give odd latent sizes at the second level, where phases differ in size; a
    causal context asks position by position)."""
    config = FlowConfig(
        levels=2, steps=2, hidden=8, prior_hidden=8, prior_chunks=chunks, prior_phases=phases, context_radius=radius
    )
    flow = random_flow(config)
    x = _int_tensor(2, 3, 12, 20)
    with torch.no_grad():
        groups = flow(x)
        # two factored-out groups and the top, each in chunks and phases
        assert len(groups) == 3 * chunks * phases
        assert sum(g.positionwise for g in groups) == (chunks if radius else 0)
        coded = [torch.cat(parts) for parts in zip(*(g.in_coding_order() for g in groups), strict=True)]
        asked = 0

        def decode(mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
            nonlocal asked
            part = slice(asked, asked + mean.numel())
            asked += mean.numel()
            assert torch.equal(coded[1][part], mean.flatten()) and torch.equal(coded[2][part], scale.flatten())
            return coded[0][part].reshape(mean.shape)

        assert torch.equal(flow.inverse(tuple(x.shape), decode, torch.float64), x)
        assert asked == coded[0].numel()


@pytest.mark.parametrize(
    "change",
    [
        {"levels": 0},
        {"hidden": 0},
        {"prior_chunks": 0},
        {"chunk_hidden": 0},
        {"family": "cauchy"},
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
        IntegerFlow(FlowConfig(**change))


def test_the_configurable_phase_counts_are_the_priors_own() -> None:
    assert (1, len(PHASES)) == PRIOR_PHASES
