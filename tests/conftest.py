"""Shared fixtures: a tiny model with non-trivial random weights, test images, and the shared data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from flowzip.learned.config import FlowConfig
from flowzip.learned.zoo import Model, build_network, load_model_file

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def random_flow(config: FlowConfig, seed: int = 0, std: float = 0.02) -> torch.nn.Module:
    """A flow whose every weight is random (not the identity a fresh model starts as)."""
    torch.manual_seed(seed)
    flow = build_network(config)
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


CONTENTS = ("noise", "constant", "gradient", "photo", "two-colour", "few-colours", "pattern", "text", "sample")
SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample.png"


def make_image(content: str, height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """Test content (``CONTENTS``) that drives each coder to an extreme: noise, constant (a seeded value),
    gradient, 'photo' (smooth shapes with texture), two colours or a few (up to 12; some seeds take 0 and 255
    only) in blocks of 1 to 4 pixels, a pattern (a random 8x8 tile repeated), text (black on white), or a crop
    of examples/sample.png (a synthetic landscape)."""
    rng = np.random.default_rng(seed)
    shape = (height, width, channels)
    if content == "noise":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if content == "constant":
        return np.full(shape, 77 if seed == 0 else rng.integers(0, 256), dtype=np.uint8)
    if content in ("two-colour", "few-colours"):
        count = 2 if content == "two-colour" else rng.integers(3, 13)
        extreme = seed // 4 % 2 == 1  # colours of 0 and 255 only, the ends of every model's range
        colours = rng.choice([0, 255], (count, channels)) if extreme else rng.integers(0, 256, (count, channels))
        block = 1 + seed % 4  # pixels, or blocks of up to 4x4 pixels
        blocky = rng.integers(0, len(colours), (-(-height // block), -(-width // block)))
        return colours[blocky.repeat(block, 0).repeat(block, 1)[:height, :width]].astype(np.uint8)
    if content == "pattern":
        tile = rng.integers(0, 256, (8, 8, channels), dtype=np.uint8)
        return np.tile(tile, (-(-height // 8), -(-width // 8), 1))[:height, :width]
    if content == "text":
        page = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(page)
        for row in range(0, height, 12):
            draw.text((1, row), "".join(rng.choice(list("flowzip lossless 0123"), 40)), fill=0)
        return np.repeat(np.asarray(page)[:, :, None], channels, axis=2)
    if content == "sample":
        with Image.open(SAMPLE) as im:
            rgb = np.asarray(im.convert("RGB"))
        tiled = np.tile(rgb, (-(-height // rgb.shape[0]), -(-width // rgb.shape[1]), 1))
        i, j = rng.integers(0, rgb.shape[0]), rng.integers(0, rgb.shape[1])
        crop = np.roll(tiled, (-i, -j), axis=(0, 1))[:height, :width]
        return np.concatenate([crop] * 2, axis=2)[:, :, :channels] if channels > 3 else crop[:, :, :channels]
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
