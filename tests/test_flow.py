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


@pytest.mark.parametrize(("chunks", "phases"), [(1, 1), (2, 1), (3, 1), (1, 4), (2, 4)])
def test_flow_decode_inverts_encode(chunks: int, phases: int) -> None:
    """Decoding asks for the groups in the encoder's order with the same parameters: no prior sees a latent
    decoded after it (12x20 pixels give odd latent sizes at the second level, where phases differ in size)."""
    config = FlowConfig(levels=2, steps=2, hidden=8, prior_hidden=8, prior_chunks=chunks, prior_phases=phases)
    flow = random_flow(config)
    x = _int_tensor(2, 3, 12, 20)
    with torch.no_grad():
        groups = iter(flow(x))
        # two factored-out groups and the top, each in chunks and phases
        assert len(flow(x)) == 3 * chunks * phases

        def decode(mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
            g = next(groups)
            assert torch.equal(g.mean, mean) and torch.equal(g.scale, scale)
            return g.symbols

        assert torch.equal(flow.inverse(tuple(x.shape), decode, torch.float64), x)


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
    ],
)
def test_invalid_flow_configurations_are_refused(change: dict) -> None:
    with pytest.raises(ValueError):
        IntegerFlow(FlowConfig(**change))


def test_the_configurable_phase_counts_are_the_priors_own() -> None:
    assert (1, len(PHASES)) == PRIOR_PHASES
