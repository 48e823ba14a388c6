"""The multi-scale integer flow: image -> latents with their coder parameters, and back.

Level l: squeeze 2x2 -> ``steps`` x (emerging conv, coupling) -> factor out half of the channels, whose prior
is conditioned on the half that goes on. The half left after the last level gets the top prior. Each prior
may code its latents in channel chunks, each conditioned also on the chunks before it (``prior_chunks``).
``forward`` runs the flow on an image and returns every latent group with its (mean, scale); ``inverse`` asks a
decoder for the groups in that order, because each prior needs the latents decoded before it.
"""

from __future__ import annotations

from dataclasses import asdict

import torch
from torch import Tensor, nn

from flowzip.learned.causal import context_settings
from flowzip.learned.config import FlowConfig
from flowzip.learned.entropy import PIXEL_OFFSET, GroupDecoder, LatentGroup
from flowzip.learned.layers import FlowStep, Squeeze
from flowzip.learned.priors import FactorOutPrior, TopPrior, groups_code_length_bits


class FlowLevel(nn.Module):
    """Squeeze, flow steps, and the prior of the half that is factored out."""

    def __init__(self, in_channels: int, config: FlowConfig, finest: bool = False):
        super().__init__()
        channels = 4 * in_channels
        self.keep = channels // 2
        self.squeeze = Squeeze()
        self.steps = nn.ModuleList(FlowStep(channels, config.hidden, config.blocks) for _ in range(config.steps))
        self.prior = FactorOutPrior(
            self.keep,
            channels - self.keep,
            config.prior_hidden,
            config.blocks,
            config.prior_chunks,
            config.chunk_hidden,
            config.prior_phases,
            context_settings(config) if finest else None,
        )

    def forward(self, x: Tensor) -> tuple[Tensor, list[LatentGroup]]:
        z = self.squeeze(x)
        for step in self.steps:
            z = step(z)
        z_keep, z_out = z[:, : self.keep], z[:, self.keep :]
        return z_keep, self.prior(z_keep, z_out)

    def inverse(self, z_keep: Tensor, decoder: GroupDecoder) -> Tensor:
        z_out = self.prior.inverse(z_keep, decoder)
        z = torch.cat([z_keep, z_out], dim=1)
        for step in reversed(self.steps):
            z = step.inverse(z)
        return self.squeeze.inverse(z)


class IntegerFlow(nn.Module):
    """A bijection from integer images (N, C, H, W) to integer latent groups with discretized priors."""

    def __init__(self, config: FlowConfig):
        super().__init__()
        self.config = config
        self.levels = nn.ModuleList()
        channels = config.channels
        for index in range(config.levels):
            level = FlowLevel(channels, config, finest=index == 0)
            self.levels.append(level)
            channels = level.keep
        self.top_channels = channels
        self.top = TopPrior(
            channels,
            config.prior_chunks,
            config.chunk_hidden,
            config.blocks,
            config.prior_phases,
            None if config.levels else context_settings(config),
        )

    def forward(self, x: Tensor) -> list[LatentGroup]:
        """Run the flow on integer pixels; return the latent groups in decoding order (top first)."""
        per_level = []
        z = x - PIXEL_OFFSET
        for level in self.levels:
            z, groups = level(z)
            per_level.append(groups)
        per_level.append(self.top(z))
        return [g for groups in reversed(per_level) for g in groups]

    def inverse(self, shape: tuple[int, int, int, int], decoder: GroupDecoder, dtype: torch.dtype) -> Tensor:
        """Rebuild integer pixels of ``shape`` (N, C, H, W), decoding each latent group with ``decoder`` when it
        is needed (in the order ``forward`` returns them)."""
        n, _, h, w = shape
        stride = self.config.stride
        z = self.top.inverse(torch.Size((n, self.top_channels, h // stride, w // stride)), dtype, decoder)
        for level in reversed(self.levels):
            z = level.inverse(z, decoder)
        return z + PIXEL_OFFSET

    def start_from(self, other: IntegerFlow) -> None:
        """Copy the weights of ``other``: the same architecture, or the same with more flow steps per level,
        priors in more chunks or phases, or a causal context where ``other`` has none.

        What ``other`` lacks keeps its initialisation, which has no effect: a new flow step (after the old ones
        of its level) is the identity, new chunk, phase and context networks add zero. So this flow starts with
        exactly the code lengths of ``other``, and training can only add to it.
        """
        mine, theirs = asdict(self.config), asdict(other.config)
        if other.config.prior_chunks == other.config.prior_phases == 1:  # its chunk_hidden is unused
            theirs["chunk_hidden"] = mine["chunk_hidden"]
        if other.config.prior_chunks == 1:
            theirs["prior_chunks"] = mine["prior_chunks"]
        if other.config.prior_phases == 1:
            theirs["prior_phases"] = mine["prior_phases"]
        if not other.config.context_radius:
            for key in ("context_radius", "context_hidden", "context_blocks"):
                theirs[key] = mine[key]
        if other.config.steps < self.config.steps:
            theirs["steps"] = mine["steps"]
        if mine != theirs:
            raise ValueError(f"cannot start {self.config} from {other.config}")
        missing, _ = self.load_state_dict(other.state_dict(), strict=False)
        new_steps = tuple(f".steps.{s}." for s in range(other.config.steps, self.config.steps))
        new_nets = (".chunks.nets.", ".chunks.phase_nets.", ".chunks.contexts.")
        assert all(any(part in k for part in new_steps + new_nets) for k in missing), missing

    def code_length_bits(self, x: Tensor) -> Tensor:
        """Model code length of each image in bits, shape (N,): ``-log2 P(latents)`` as the coder pays it."""
        return groups_code_length_bits(self(x), self.config.family)
