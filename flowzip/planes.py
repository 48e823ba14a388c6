"""The simple coder for 8-bit planes the flow does not model: grey, alpha, palette indices, bilevel.

A plane is predicted pixel by pixel from its causal neighbours with one predictor chosen for the whole plane
(the one whose residuals have the lowest order-0 entropy), and the residuals (mod 256) are compressed with
raw LZMA2 (no container, so tiny planes stay tiny) with a dictionary no larger than the plane. Section layout:
one byte, the predictor; then the LZMA2 stream. Encoding and decoding run the same predictor loop
(``_filter``), in opposite directions.
"""

from __future__ import annotations

import lzma

import numpy as np

from flowzip.errors import FlowzipError
from flowzip.jit import njit

PREDICTORS = ("none", "left", "up", "paeth", "med")


def _lzma_filters(size: int) -> list[dict]:
    """LZMA2 at its strongest preset, with a dictionary sized to the plane (a 64 MiB one costs time to set up)."""
    dict_size = min(max(size, 4096), 64 << 20)
    return [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": dict_size}]


@njit()
def _filter(plane: np.ndarray, residual: np.ndarray, method: int, undo: bool) -> None:
    """Forward: residual = plane - prediction. Undo: plane = residual + prediction (all mod 256)."""
    h, w = plane.shape
    for i in range(h):
        for j in range(w):
            a = np.int32(plane[i, j - 1]) if j > 0 else np.int32(plane[i - 1, j]) if i > 0 else np.int32(0)
            b = np.int32(plane[i - 1, j]) if i > 0 else a
            c = np.int32(plane[i - 1, j - 1]) if i > 0 and j > 0 else b
            if method == 0:
                p = np.int32(0)
            elif method == 1:
                p = a
            elif method == 2:
                p = b
            elif method == 3:  # Paeth (PNG)
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            else:  # median edge detector (LOCO-I / JPEG-LS)
                p = min(a, b) if c >= max(a, b) else (max(a, b) if c <= min(a, b) else a + b - c)
            if undo:
                plane[i, j] = (np.int32(residual[i, j]) + p) & 255
            else:
                residual[i, j] = (np.int32(plane[i, j]) - p) & 255


def _entropy(values: np.ndarray) -> float:
    counts = np.bincount(values.ravel(), minlength=256)
    p = counts[counts > 0] / values.size
    return float(-(p * np.log2(p)).sum())


def encode_plane(plane: np.ndarray) -> bytes:
    """Code a uint8 plane (H, W)."""
    plane = np.array(plane, dtype=np.uint8, order="C")  # a writable copy: numba compiles one signature
    best: tuple[float, int, np.ndarray] | None = None
    for method in range(len(PREDICTORS)):
        residual = np.empty_like(plane)
        _filter(plane, residual, method, False)
        cost = _entropy(residual)
        if best is None or cost < best[0]:
            best = (cost, method, residual)
    assert best is not None
    _, method, residual = best
    return bytes([method]) + lzma.compress(
        residual.tobytes(), format=lzma.FORMAT_RAW, filters=_lzma_filters(plane.size)
    )


def decode_plane(data: bytes, height: int, width: int) -> np.ndarray:
    """Decode a plane coded by ``encode_plane``; never produces more than ``height * width`` bytes."""
    if not data or data[0] >= len(PREDICTORS):
        raise FlowzipError("corrupt file: invalid plane predictor")
    try:
        dec = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_lzma_filters(height * width))
        raw = dec.decompress(data[1:], max_length=height * width)
    except lzma.LZMAError as e:
        raise FlowzipError(f"corrupt plane data ({e})") from None
    if len(raw) != height * width or not dec.eof:
        raise FlowzipError("corrupt plane data (wrong length)")
    residual = np.frombuffer(raw, dtype=np.uint8).reshape(height, width).copy()
    plane = np.empty_like(residual)
    _filter(plane, residual, data[0], True)
    return plane
