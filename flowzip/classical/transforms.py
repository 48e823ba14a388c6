"""Colour transforms of RGB arrays, each with its inverse: subtract green (centred on 128, or plain) and the
palette, whose entries go in luminance order so that neighbouring indices hold similar colours."""

from __future__ import annotations

import numpy as np

from flowzip.errors import FlowzipError

MAX_PALETTE = 256
# "centred" (format 3) adds 128 to red and blue minus green, so that grey stays far from the wrap at 0 / 255 and
# neighbours that differ by a little do not look 255 apart to the predictors and contexts; the plain subtract
# green (format 2) adds nothing
CENTRE = 128


def subtract_green(rgb: np.ndarray, offset: int = CENTRE, bits: int = 8) -> np.ndarray:
    """(R - G + offset, G, B - G + offset) modulo 2^bits of an RGB array (H, W, 3) of ``bits``-bit samples."""
    return _add_green(rgb, -1, offset, bits)


def add_green(pixels: np.ndarray, offset: int = CENTRE, bits: int = 8) -> np.ndarray:
    """The inverse of ``subtract_green`` with the same ``offset`` and ``bits``."""
    return _add_green(pixels, 1, -offset, bits)


def _add_green(rgb: np.ndarray, sign: int, offset: int, bits: int) -> np.ndarray:
    out = rgb.copy()
    mask = (1 << bits) - 1
    for c in (0, 2):
        out[:, :, c] = (rgb[:, :, c].astype(np.int32) + sign * rgb[:, :, 1].astype(np.int32) + offset) & mask
    return out


def to_palette(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(palette, indices) of an RGB array (H, W, 3) of at most ``MAX_PALETTE`` colours: its colours (N, 3) in
    ``luminance_order`` and each pixel's index into them (H, W); None for more colours."""
    packed = (rgb[:, :, 0].astype(np.int32) << 16) | (rgb[:, :, 1].astype(np.int32) << 8) | rgb[:, :, 2]
    colours, indices = np.unique(packed, return_inverse=True)
    if len(colours) > MAX_PALETTE:
        return None
    palette = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=1).astype(np.uint8)
    return palette[luminance_order(palette)], ranks(palette)[indices.reshape(packed.shape)]


def from_palette(palette: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The inverse of ``to_palette``: the RGB array of ``indices`` into ``palette``."""
    if indices.max(initial=0) >= len(palette):
        raise FlowzipError("corrupt file: palette index out of range")
    return palette[indices]


def luminance_order(colours: np.ndarray) -> np.ndarray:
    """The order of palette entries (N, 3) from darkest to lightest, ties by position: neighbouring indices
    then hold similar colours, which the predictors (and LZMA2) exploit."""
    return np.lexsort((np.arange(len(colours)), colours.astype(np.int32) @ np.array([299, 587, 114])))


def ranks(palette: np.ndarray) -> np.ndarray:
    """rank[index] for every index 0..255 (a permutation): the index's place in ``luminance_order(palette)``,
    indices past the palette's end (which Pillow allows) keeping their place after it."""
    order = np.concatenate(
        [luminance_order(palette[:MAX_PALETTE]), np.arange(min(len(palette), MAX_PALETTE), MAX_PALETTE)]
    )
    rank = np.empty(MAX_PALETTE, dtype=np.uint8)
    rank[order] = np.arange(MAX_PALETTE)
    return rank
