"""Predicted data: the shortest of LZMA2 on a predictor's residuals (or on the pixels themselves) and the context
coder, with the method byte first."""

from __future__ import annotations

import lzma

import numpy as np

from flowzip.classical.context_coder import context_decode, context_encode
from flowzip.classical.lzma_coder import FAST_PRESET, lzma_compress, lzma_filters
from flowzip.classical.methods import CONTEXT_METHODS
from flowzip.classical.predictors import apply_predictor, best_prediction
from flowzip.errors import FlowzipError
from flowzip.settings import DEFAULT_SETTINGS

ZERO_SHARE_FOR_RAW = 0.5  # for RGB, LZMA2 on unpredicted pixels is also tried when this share of residuals is 0


def encode_predicted(
    pixels: np.ndarray,
    best: tuple[float, int, np.ndarray] | None = None,
    lzma_skip_ratio: float = DEFAULT_SETTINGS.lzma_skip_ratio,
) -> bytes:
    """The shortest coding of a uint8 array (H, W, C): context-coded, or the predictor byte and the LZMA2 stream
    of the best predictor's residuals or of the unpredicted pixels, on which LZMA2 finds the repeats of
    synthetic content (dithering, patterns) that order-0 entropy does not see. LZMA2 runs at a fast preset
    first; on three channels its strongest runs only where that came near the context coder
    (``lzma_skip_ratio``, ``flowzip.settings``). RGB arrays try the unpredicted pixels only where the residuals
    are mostly zero (else photos would pay a second LZMA2 pass); single planes, a third the size, always do."""
    _, method, residual = best or best_prediction(pixels)
    options = [(method, residual.tobytes())]
    mostly_zero = np.count_nonzero(residual == 0) >= ZERO_SHARE_FOR_RAW * residual.size
    if method != 0 and (pixels.shape[2] == 1 or mostly_zero):
        options.append((0, pixels.tobytes()))
    coded = min((bytes([m]) + lzma_compress(data, pixels.size, FAST_PRESET) for m, data in options), key=len)
    context_coded = context_encode(pixels, len(coded))  # None where it would be longer
    if pixels.shape[2] == 3 and context_coded is not None and len(coded) >= lzma_skip_ratio * len(context_coded):
        return context_coded  # single planes (palette indices, text, line art) always get the full search
    coded = min([coded] + [bytes([m]) + lzma_compress(data, pixels.size) for m, data in options], key=len)
    return context_coded if context_coded is not None and len(context_coded) <= len(coded) else coded


def decode_predicted(data: bytes, height: int, width: int, channels: int) -> np.ndarray:
    """The inverse of ``encode_predicted``; never produces more than ``height * width * channels`` bytes."""
    size = height * width * channels
    if not data or data[0] > CONTEXT_METHODS[-1]:
        raise FlowzipError("corrupt file: invalid predictor")
    if data[0] in CONTEXT_METHODS:
        return context_decode(data, height, width, channels)
    try:
        dec = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=lzma_filters(size))
        raw = dec.decompress(data[1:], max_length=size)
    except lzma.LZMAError as e:
        raise FlowzipError(f"corrupt plane data ({e})") from None
    if len(raw) != size or not dec.eof:
        raise FlowzipError("corrupt plane data (wrong length)")
    residual = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, channels).copy()
    pixels = np.empty_like(residual)
    apply_predictor(pixels, residual, data[0], True)
    return pixels
