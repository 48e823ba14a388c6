"""The classical coder: causal prediction and LZMA2, for what the flow does not model or models badly.

Planes the flow never sees (grey, alpha, palette indices, bilevel) and RGB tiles that are not photographs
(drawings, text, few colours) are predicted pixel by pixel from their causal neighbours with one predictor for
the whole array (the one whose residuals have the lowest order-0 entropy, or none at all when LZMA2 does better
on the pixels themselves, as on synthetic content), and the residuals (mod 256, channels interleaved) are
compressed with raw LZMA2 (no container, so tiny arrays stay tiny) with a dictionary no larger than the array.
An RGB tile may first be transformed: green subtracted from red and blue, or, with at most 256 colours,
replaced by indices into its palette. Encoding and decoding run the same predictor loop (``_filter``), in
opposite directions. Section layouts are in ``docs/format.md``.
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


TRANSFORMS = ("identity", "subtract green", "palette")
ZERO_SHARE_FOR_RAW = 0.5  # for RGB, LZMA2 on unpredicted pixels is also tried when this share of residuals is 0
MAX_PALETTE = 256


@njit(nogil=True)  # tiles are coded on threads
def _filter(pixels: np.ndarray, residual: np.ndarray, method: int, undo: bool) -> None:
    """Forward: residual = pixels - prediction. Undo: pixels = residual + prediction (all mod 256).

    Arrays are (H, W, C); each channel is predicted from its own causal neighbours.
    """
    h, w, channels = pixels.shape
    for i in range(h):
        for j in range(w):
            for k in range(channels):
                a = np.int32(pixels[i, j - 1, k]) if j > 0 else np.int32(pixels[i - 1, j, k]) if i > 0 else np.int32(0)
                b = np.int32(pixels[i - 1, j, k]) if i > 0 else a
                c = np.int32(pixels[i - 1, j - 1, k]) if i > 0 and j > 0 else b
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
                    pixels[i, j, k] = (np.int32(residual[i, j, k]) + p) & 255
                else:
                    residual[i, j, k] = (np.int32(pixels[i, j, k]) - p) & 255


def _entropy(values: np.ndarray) -> float:
    counts = np.bincount(values.ravel(), minlength=256)
    p = counts[counts > 0] / values.size
    return float(-(p * np.log2(p)).sum())


def _lzma(data: bytes, size: int) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_RAW, filters=_lzma_filters(size))


def _best_prediction(pixels: np.ndarray) -> tuple[float, int, np.ndarray]:
    """(order-0 entropy, predictor, residuals) of the predictor with the lowest entropy."""
    best: tuple[float, int, np.ndarray] | None = None
    for method in range(len(PREDICTORS)):
        residual = np.empty_like(pixels)
        _filter(pixels, residual, method, False)
        cost = _entropy(residual)
        if best is None or cost < best[0]:
            best = (cost, method, residual)
    assert best is not None
    return best


def _encode_predicted(pixels: np.ndarray, best: tuple[float, int, np.ndarray] | None = None) -> bytes:
    """The predictor byte and the LZMA2 stream of a uint8 array (H, W, C): the smaller of the best predictor's
    residuals and the unpredicted pixels, on which LZMA2 finds the repeats of synthetic content (dithering,
    patterns) that order-0 entropy does not see. RGB arrays try the latter only where the residuals are mostly
    zero (else photos would pay a second LZMA2 pass); single planes, a third the size, always do."""
    _, method, residual = best or _best_prediction(pixels)
    coded = bytes([method]) + _lzma(residual.tobytes(), pixels.size)
    mostly_zero = np.count_nonzero(residual == 0) >= ZERO_SHARE_FOR_RAW * residual.size
    if method != 0 and (pixels.shape[2] == 1 or mostly_zero):
        raw = bytes([0]) + _lzma(pixels.tobytes(), pixels.size)
        coded = min(coded, raw, key=len)
    return coded


def _decode_predicted(data: bytes, height: int, width: int, channels: int) -> np.ndarray:
    """The inverse of ``_encode_predicted``; never produces more than ``height * width * channels`` bytes."""
    size = height * width * channels
    if not data or data[0] >= len(PREDICTORS):
        raise FlowzipError("corrupt file: invalid predictor")
    try:
        dec = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_lzma_filters(size))
        raw = dec.decompress(data[1:], max_length=size)
    except lzma.LZMAError as e:
        raise FlowzipError(f"corrupt plane data ({e})") from None
    if len(raw) != size or not dec.eof:
        raise FlowzipError("corrupt plane data (wrong length)")
    residual = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, channels).copy()
    pixels = np.empty_like(residual)
    _filter(pixels, residual, data[0], True)
    return pixels


def encode_plane(plane: np.ndarray) -> bytes:
    """Code a uint8 plane (H, W)."""
    return _encode_predicted(np.array(plane, dtype=np.uint8)[:, :, None])  # a writable C-order copy


def decode_plane(data: bytes, height: int, width: int) -> np.ndarray:
    """Decode a plane coded by ``encode_plane``."""
    return _decode_predicted(data, height, width, 1)[:, :, 0]


def luminance_order(colours: np.ndarray) -> np.ndarray:
    """The order of palette entries (N, 3) from darkest to lightest, ties by position: neighbouring indices
    then hold similar colours, which the predictors (and LZMA2) exploit."""
    return np.lexsort((np.arange(len(colours)), colours.astype(np.int32) @ np.array([299, 587, 114])))


def encode_indices(indices: np.ndarray, palette: np.ndarray) -> bytes:
    """Code a palette image's indices (H, W) as a plane of their ranks in ``luminance_order(palette)``.

    The decoder has the palette (the header stores it), so the order costs nothing. Indices past the palette's
    end (which Pillow allows) keep their place after it.
    """
    return encode_plane(_ranks(palette)[indices])


def decode_indices(data: bytes, height: int, width: int, palette: np.ndarray) -> np.ndarray:
    """Decode indices coded by ``encode_indices``."""
    return np.argsort(_ranks(palette))[decode_plane(data, height, width)].astype(np.uint8)


def _ranks(palette: np.ndarray) -> np.ndarray:
    """rank[index] for every index 0..255 (a permutation)."""
    order = np.concatenate(
        [luminance_order(palette[:MAX_PALETTE]), np.arange(min(len(palette), MAX_PALETTE), MAX_PALETTE)]
    )
    ranks = np.empty(MAX_PALETTE, dtype=np.uint8)
    ranks[order] = np.arange(MAX_PALETTE)
    return ranks


def _subtract_green(rgb: np.ndarray, sign: int) -> np.ndarray:
    out = rgb.copy()
    for c in (0, 2):
        out[:, :, c] = (rgb[:, :, c].astype(np.int32) + sign * rgb[:, :, 1].astype(np.int32)) & 255
    return out


def encode_rgb(rgb: np.ndarray) -> bytes:
    """Code an RGB array (H, W, 3): a transform byte (``TRANSFORMS``), the palette for the palette transform
    (entry count - 1, then R G B per entry, darkest first), then ``_encode_predicted`` of what it gives."""
    rgb = np.array(rgb, dtype=np.uint8)
    packed = (rgb[:, :, 0].astype(np.int32) << 16) | (rgb[:, :, 1].astype(np.int32) << 8) | rgb[:, :, 2]
    colours, indices = np.unique(packed, return_inverse=True)
    if len(colours) <= MAX_PALETTE:
        palette = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=1).astype(np.uint8)
        order = luminance_order(palette)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        plane = rank[indices.reshape(packed.shape)].astype(np.uint8)[:, :, None]
        header = bytes([2, len(colours) - 1]) + palette[order].tobytes()
        return header + _encode_predicted(np.ascontiguousarray(plane))
    options = [(_best_prediction(a), t, a) for t, a in ((0, rgb), (1, _subtract_green(rgb, -1)))]
    best, transform, pixels = min(options, key=lambda o: o[0][0])
    return bytes([transform]) + _encode_predicted(pixels, best)


def decode_rgb(data: bytes, height: int, width: int) -> np.ndarray:
    """Decode an RGB array coded by ``encode_rgb``."""
    if not data or data[0] >= len(TRANSFORMS):
        raise FlowzipError("corrupt file: invalid pixel transform")
    if data[0] == 2:
        if len(data) < 2 or len(data) < 2 + 3 * (data[1] + 1):
            raise FlowzipError("corrupt file: palette cut short")
        palette = np.frombuffer(data[2 : 5 + 3 * data[1]], dtype=np.uint8).reshape(-1, 3)
        indices = _decode_predicted(data[5 + 3 * data[1] :], height, width, 1)[:, :, 0]
        if indices.max(initial=0) >= len(palette):
            raise FlowzipError("corrupt file: palette index out of range")
        return palette[indices]
    pixels = _decode_predicted(data[1:], height, width, 3)
    return _subtract_green(pixels, 1) if data[0] == 1 else pixels
