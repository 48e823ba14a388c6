"""The settings of a flow and of its training: plain dataclasses, without PyTorch, so that the command line
builds its options from them (their defaults, choices and help) without loading it.

A ``FlowConfig`` is saved with a model's weights; a ``TrainConfig`` with a training run's checkpoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MIXTURE = "logistic-mixture"  # codes pixels only: its alphabet is flowzip.learned.entropy.MIXTURE_SYMBOLS
FAMILIES = (
    "gaussian",
    "laplace",
    MIXTURE,
)  # the prior families flowzip.learned.priors and flowzip.learned.entropy code
PRIOR_PHASES = (1, 4)  # a prior codes each chunk whole, or as its four 2x2 polyphase components
OPTIMIZERS = ("adam", "adamax")  # torch.optim.Adam, torch.optim.Adamax


def _setting(default: Any, help: str, **metadata: Any) -> Any:
    """A dataclass field with its command-line help (and ``choices``, ``flag``) as metadata; the train command
    has an option for each such field."""
    return field(default=default, metadata={"help": help, **metadata})


@dataclass(frozen=True)
class FlowConfig:
    """Architecture settings of an ``IntegerFlow``; saved with the weights."""

    levels: int = _setting(3, "Levels: squeeze, flow steps, factor out half the channels (0: the prior codes pixels).")
    steps: int = _setting(4, "Flow steps per level.", flag="--steps-per-level")
    hidden: int = _setting(48, "Channels of the coupling networks.")
    blocks: int = _setting(1, "Residual blocks per network.")
    prior_hidden: int = _setting(48, "Channels of the prior networks.")
    family: str = _setting("gaussian", "Distribution of each latent.", choices=FAMILIES)
    mixture_components: int = _setting(5, f"Logistics in each {MIXTURE} (with --levels 0 and a context).")
    channels: int = 3  # RGB; not a command-line option, as the codec's flow tiles are RGB
    prior_chunks: int = _setting(1, "Channel chunks per prior, each conditioned on those before.")
    chunk_hidden: int = _setting(24, "Channels of the networks that condition a chunk or phase on those before.")
    prior_phases: int = _setting(1, "Spatial phases per chunk (4: 2x2 polyphase), each conditioned on those before.")
    context_radius: int = _setting(
        0,
        "Radius of the causal local context of the finest level's factored-out latents, or of the pixels with no"
        " levels (0: none).",
    )
    context_hidden: int = _setting(64, "Channels of the causal local context network.")
    context_blocks: int = _setting(2, "Pointwise residual blocks of the causal local context network.")

    def __post_init__(self) -> None:
        if self.prior_phases not in PRIOR_PHASES:
            raise ValueError(f"priors code their latents in {' or '.join(map(str, PRIOR_PHASES))} phases")
        if self.family not in FAMILIES:
            raise ValueError(f"unknown prior family {self.family!r}; choose from {FAMILIES}")
        if self.family == MIXTURE and (self.levels or not self.context_radius or self.prior_chunks != 1):
            raise ValueError(f"a {MIXTURE} prior codes pixels, all channels at once: levels=0, a context, one chunk")
        if self.context_radius and self.prior_phases != 1:
            raise ValueError("a prior with a causal local context codes its latents in one phase")
        sizes = (self.steps, self.hidden, self.prior_hidden, self.channels, self.prior_chunks)
        counts = (self.levels, self.blocks, self.context_radius, self.context_blocks)
        if min(*sizes, self.chunk_hidden, self.context_hidden, self.mixture_components) < 1 or min(counts) < 0:
            raise ValueError(f"invalid flow configuration {asdict(self)}")

    @property
    def stride(self) -> int:
        """Image sides must be multiples of this (the codec pads to it)."""
        return 2**self.levels


@dataclass
class TrainConfig:
    """Settings of a training run; stored in its checkpoint, so a resumed run keeps them."""

    data: list[str]
    out: str
    name: str = _setting("model", "Name of the exported model.")
    flow: FlowConfig = field(default_factory=FlowConfig)
    crop: int = _setting(64, "Side of the random training crops.")
    jpeg_fraction: float = _setting(0.0, "Fraction of the training crops re-encoded as JPEG (quality 60-95).")
    batch: int = _setting(16, "Crops per step (per process under torchrun).")
    steps: int = _setting(40_000, "Length of the learning-rate schedule.")
    lr: float = _setting(1e-3, "Peak learning rate.")
    warmup: int = _setting(300, "Steps of linear learning-rate warm-up.")
    min_lr_fraction: float = _setting(0.05, "The cosine schedule ends at this fraction of --lr.")
    clip: float = _setting(10.0, "Gradient norm clipping.")
    ema: float = _setting(0.999, "Decay of the weights' moving average (the exported model).")
    val_fraction: float = _setting(0.05, "Fraction of the images held out for validation.")
    val_every: int = _setting(250, "Steps between validations and checkpoints.")
    val_crops: int = _setting(128, "Held-out crops each validation scores.")
    seed: int = _setting(0, "Random seed (also chooses the held-out images).")
    threads: int = _setting(0, "CPU threads (0: PyTorch's default).")
    init: str | None = _setting(
        None, "Start from this model's weights (a name or .fzm file; same architecture, or more chunks or phases)."
    )
    optimizer: str = _setting("adam", "Optimiser.", choices=OPTIMIZERS)
    device: str = _setting("cpu", "cpu, cuda or cuda:N (under torchrun: cuda = one GPU each).")
