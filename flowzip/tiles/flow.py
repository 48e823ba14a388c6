"""An RGB tile coded by a learned model: padded to the model's stride, through the model's forward pass into one
ANS stream, and back through its inverse. The only tile tool that needs PyTorch (``flowzip.tiles`` imports this
module when a tile first uses a model).

Each tile is padded at its bottom and right edges (by repeating edge pixels) to a multiple of the model's stride
and cropped back after decoding.
"""

from __future__ import annotations

import numpy as np
import torch

from flowzip.errors import FlowzipError
from flowzip.learned.entropy import LatentDecoder, encode_latents
from flowzip.learned.zoo import Model


def _padded(size: int, stride: int) -> int:
    return -(-size // stride) * stride


def _to_flow_input(tile: np.ndarray, stride: int) -> torch.Tensor:
    """A tile (h, w, 3), its last row and column repeated up to multiples of ``stride``, as (1, 3, H, W) float64."""
    h, w, _ = tile.shape
    padded = np.pad(tile, ((0, _padded(h, stride) - h), (0, _padded(w, stride) - w), (0, 0)), mode="edge")
    return torch.from_numpy(padded).permute(2, 0, 1)[None].to(torch.float64)


def encode_flow_tile(model: Model, tile: np.ndarray) -> bytes:
    """The model's ANS stream of an RGB tile (h, w, 3): the flow tool's data, without its tool byte."""
    with torch.no_grad():
        groups = model.flow(_to_flow_input(tile, model.flow.config.stride))
    return encode_latents(groups, model.flow.config.family)


def decode_flow_tile(model: Model, data: bytes, height: int, width: int) -> np.ndarray:
    """The RGB tile (height, width, 3) that ``encode_flow_tile`` coded into ``data``."""
    stride = model.flow.config.stride
    decoder = LatentDecoder(data, model.flow.config.family)
    shape = (1, 3, _padded(height, stride), _padded(width, stride))
    with torch.no_grad():
        x = model.flow.inverse(shape, decoder, torch.float64)
    decoder.finish()
    if x.min() < 0 or x.max() > 255:
        raise FlowzipError("corrupt compressed data (decoded values outside 0..255)")
    return x[0, :, :height, :width].permute(1, 2, 0).numpy().astype(np.uint8)


def flow_code_length(model: Model, tile: np.ndarray) -> float:
    """-log2 of the probability of an RGB tile (h, w, 3) under the model, padding included, in bits."""
    with torch.no_grad():
        return model.flow.code_length_bits(_to_flow_input(tile, model.flow.config.stride)).item()
