"""Single planes: grey, alpha, bilevel, and palette indices (coded as their ranks in the palette's luminance order)."""

from __future__ import annotations

import numpy as np

from flowzip.classical.predicted import decode_predicted, encode_predicted
from flowzip.classical.transforms import ranks


def encode_plane(plane: np.ndarray) -> bytes:
    """Code a uint8 plane (H, W)."""
    return encode_predicted(np.array(plane, dtype=np.uint8)[:, :, None])  # a writable C-order copy


def decode_plane(data: bytes, height: int, width: int) -> np.ndarray:
    """Decode a plane coded by ``encode_plane``."""
    return decode_predicted(data, height, width, 1)[:, :, 0]


def encode_indices(indices: np.ndarray, palette: np.ndarray) -> bytes:
    """Code a palette image's indices (H, W) as a plane of their ranks in ``luminance_order(palette)``.

    The decoder has the palette (the header stores it), so the order costs nothing. Indices past the palette's
    end (which Pillow allows) keep their place after it.
    """
    return encode_plane(ranks(palette)[indices])


def decode_indices(data: bytes, height: int, width: int, palette: np.ndarray) -> np.ndarray:
    """Decode indices coded by ``encode_indices``."""
    return np.argsort(ranks(palette))[decode_plane(data, height, width)].astype(np.uint8)
