"""RGB arrays (the classical tile tool): a transform byte, the palette if any, then predicted data."""

from __future__ import annotations

import numpy as np

from flowzip.classical.methods import TRANSFORMS
from flowzip.classical.predicted import decode_predicted, encode_predicted
from flowzip.classical.predictors import best_prediction
from flowzip.classical.transforms import add_green, from_palette, subtract_green, to_palette
from flowzip.errors import FlowzipError
from flowzip.settings import DEFAULT_SETTINGS

_PALETTE = TRANSFORMS.index("palette")
_PLAIN = TRANSFORMS.index("subtract green")
_CENTRED = TRANSFORMS.index("subtract green, centred")


def encode_rgb(rgb: np.ndarray, lzma_skip_ratio: float = DEFAULT_SETTINGS.lzma_skip_ratio) -> bytes:
    """Code an RGB array (H, W, 3): a transform byte (``TRANSFORMS``), the palette for the palette transform
    (entry count - 1, then R G B per entry, darkest first), then ``encode_predicted`` of what it gives. The
    palette is tried where there are at most 256 colours, beside the better of the other two (on a small
    image a palette can cost more than it saves). ``lzma_skip_ratio``: ``flowzip.settings.EncoderSettings``."""
    rgb = np.array(rgb, dtype=np.uint8)
    options = [(best_prediction(a), t, a) for t, a in ((0, rgb), (_CENTRED, subtract_green(rgb)))]
    best, transform, pixels = min(options, key=lambda o: o[0][0])
    coded = bytes([transform]) + encode_predicted(pixels, best, lzma_skip_ratio)
    paletted = to_palette(rgb)
    if paletted is not None:
        palette, indices = paletted
        header = bytes([_PALETTE, len(palette) - 1]) + palette.tobytes()
        coded = min(coded, header + encode_predicted(np.ascontiguousarray(indices[:, :, None])), key=len)
    return coded


def decode_rgb(data: bytes, height: int, width: int) -> np.ndarray:
    """Decode an RGB array coded by ``encode_rgb``."""
    if not data or data[0] >= len(TRANSFORMS):
        raise FlowzipError("corrupt file: invalid pixel transform")
    if data[0] == _PALETTE:
        if len(data) < 2 or len(data) < 2 + 3 * (data[1] + 1):
            raise FlowzipError("corrupt file: palette cut short")
        palette = np.frombuffer(data[2 : 5 + 3 * data[1]], dtype=np.uint8).reshape(-1, 3)
        return from_palette(palette, decode_predicted(data[5 + 3 * data[1] :], height, width, 1)[:, :, 0])
    pixels = decode_predicted(data[1:], height, width, 3)
    if data[0] == _PLAIN:
        return add_green(pixels, 0)
    return add_green(pixels) if data[0] == _CENTRED else pixels
