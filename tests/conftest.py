"""Shared fixtures: a tiny model with non-trivial random weights, test images, and the shared data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from flowzip.config import FlowConfig
from flowzip.flow import IntegerFlow
from flowzip.zoo import Model, load_model_file

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def random_flow(config: FlowConfig, seed: int = 0, std: float = 0.02) -> IntegerFlow:
    """A flow whose every weight is random (not the identity a fresh model starts as)."""
    torch.manual_seed(seed)
    flow = IntegerFlow(config)
    with torch.no_grad():
        for p in flow.parameters():
            p.normal_(0.0, std)
    return flow.eval().requires_grad_(False)


TINY_MODEL = Path(__file__).resolve().parent / "models" / "tiny.fzm"  # made by tests/models/make_tiny.py


@pytest.fixture(scope="session")
def tiny_model_path() -> Path:
    return TINY_MODEL


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path: Path) -> Model:
    return load_model_file(tiny_model_path)


def make_image(content: str, height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """Test content: noise, constant, gradient, or 'photo' (smooth shapes with texture)."""
    rng = np.random.default_rng(seed)
    shape = (height, width, channels)
    if content == "noise":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if content == "constant":
        return np.full(shape, 77, dtype=np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    if content == "gradient":
        base = (xx * 255 // max(1, width - 1) + yy * 97 // max(1, height - 1))[..., None]
        return ((base + np.arange(channels) * 40) % 256).astype(np.uint8)
    if content == "photo":
        f = (
            np.sin(xx / 9.0)[..., None] * np.cos(yy[..., None] / 13.0 + np.arange(channels)) * 60
            + 120
            + ((xx - width / 2) ** 2 + (yy - height / 3) ** 2 < (min(height, width) / 3) ** 2)[..., None] * 50
        )
        return np.clip(f + rng.normal(0, 4, shape), 0, 255).astype(np.uint8)
    raise ValueError(content)


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test when that folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared/data is only on developer machines and CI)")
    return path
