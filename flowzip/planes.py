"""The classical coder: causal prediction, LZMA2 or a context coder, for what the flow does not model well.

Planes the flow never sees (grey, alpha, palette indices, bilevel) and RGB tiles that are not photographs
(drawings, text, few colours) are predicted pixel by pixel from their causal neighbours with one predictor for
the whole array (the one whose residuals have the lowest order-0 entropy, or none at all when LZMA2 does better
on the pixels themselves, as on synthetic content), and the residuals (mod 256, channels interleaved) are
compressed with raw LZMA2 (no container, so tiny arrays stay tiny) with a dictionary no larger than the array.
An RGB tile may first be transformed: green subtracted from red and blue, or, with at most 256 colours,
replaced by indices into its palette. Encoding and decoding run the same predictor loop (``_filter``), in
opposite directions. Beside LZMA2, a context coder (below) codes the residuals of a blend of predictors bit by
bit, under a learned mix of adaptive context models; the shorter is kept. Section layouts are in
``docs/format.md``.
"""

from __future__ import annotations

import hashlib
import lzma
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from flowzip.errors import FlowzipError
from flowzip.jit import njit

if TYPE_CHECKING:
    from importlib.abc import Traversable

PREDICTORS = ("none", "left", "up", "paeth", "med")


def _lzma_filters(size: int, preset: int = 9 | lzma.PRESET_EXTREME) -> list[dict]:
    """LZMA2 at its strongest preset (or ``preset``, which only the encoder sees), with a dictionary sized to
    the plane (a 64 MiB one costs time to set up)."""
    dict_size = min(max(size, 4096), 64 << 20)
    return [{"id": lzma.FILTER_LZMA2, "preset": preset, "dict_size": dict_size}]


# "centred" (format 3) adds 128 to red and blue minus green, so that grey stays far from the wrap at 0 / 255 and
# neighbours that differ by a little do not look 255 apart to the predictors and contexts; this flowzip writes it
# instead of the plain subtract green, which it still reads
TRANSFORMS = ("identity", "subtract green", "palette", "subtract green, centred")
ZERO_SHARE_FOR_RAW = 0.5  # for RGB, LZMA2 on unpredicted pixels is also tried when this share of residuals is 0
# On three channels, LZMA2's strongest preset runs only where preset 3 came within this factor of the context
# coder: elsewhere it gains less than that over preset 3 (benchmarks/lzma_skip.py) and takes three times longer
LZMA_SKIP_RATIO = 1.25
_FAST_PRESET = 3
MAX_PALETTE = 256


@njit(nogil=True)  # tiles are coded on threads
def _neighbours(pixels: np.ndarray, i: int, j: int, k: int) -> tuple[int, int, int]:
    """(left, above, above left) of pixel (i, j) in channel k; outside the image, the left is the pixel above
    (0 for the first pixel), the above is the left, the above left is the above."""
    a = np.int32(pixels[i, j - 1, k]) if j > 0 else np.int32(pixels[i - 1, j, k]) if i > 0 else np.int32(0)
    b = np.int32(pixels[i - 1, j, k]) if i > 0 else a
    c = np.int32(pixels[i - 1, j - 1, k]) if i > 0 and j > 0 else b
    return a, b, c


@njit(nogil=True)
def _median_edge(a: int, b: int, c: int) -> int:
    """The median edge detector of LOCO-I / JPEG-LS."""
    return min(a, b) if c >= max(a, b) else (max(a, b) if c <= min(a, b) else a + b - c)


@njit(nogil=True)
def _filter(pixels: np.ndarray, residual: np.ndarray, method: int, undo: bool) -> None:
    """Forward: residual = pixels - prediction. Undo: pixels = residual + prediction (all mod 256).

    Arrays are (H, W, C); each channel is predicted from its own causal neighbours.
    """
    h, w, channels = pixels.shape
    for i in range(h):
        for j in range(w):
            for k in range(channels):
                a, b, c = _neighbours(pixels, i, j, k)
                if method == 0:
                    p = np.int32(0)
                elif method == 1:
                    p = a
                elif method == 2:
                    p = b
                elif method == 3:  # Paeth (PNG)
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                else:
                    p = _median_edge(a, b, c)
                if undo:
                    pixels[i, j, k] = (np.int32(residual[i, j, k]) + p) & 255
                else:
                    residual[i, j, k] = (np.int32(pixels[i, j, k]) - p) & 255


def _entropy(values: np.ndarray) -> float:
    counts = np.bincount(values.ravel(), minlength=256)
    p = counts[counts > 0] / values.size
    return float(-(p * np.log2(p)).sum())


def _lzma(data: bytes, size: int, preset: int = 9 | lzma.PRESET_EXTREME) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_RAW, filters=_lzma_filters(size, preset))


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
    """The shortest coding of a uint8 array (H, W, C): context-coded, or the predictor byte and the LZMA2 stream
    of the best predictor's residuals or of the unpredicted pixels, on which LZMA2 finds the repeats of
    synthetic content (dithering, patterns) that order-0 entropy does not see. LZMA2 runs at a fast preset
    first; on three channels its strongest runs only where that came near the context coder
    (``LZMA_SKIP_RATIO``). RGB arrays try the unpredicted pixels only where the residuals are mostly zero (else
    photos would pay a second LZMA2 pass); single planes, a third the size, always do."""
    _, method, residual = best or _best_prediction(pixels)
    options = [(method, residual.tobytes())]
    mostly_zero = np.count_nonzero(residual == 0) >= ZERO_SHARE_FOR_RAW * residual.size
    if method != 0 and (pixels.shape[2] == 1 or mostly_zero):
        options.append((0, pixels.tobytes()))
    coded = min((bytes([m]) + _lzma(data, pixels.size, _FAST_PRESET) for m, data in options), key=len)
    context_coded = _context_encode(pixels, len(coded))  # None where it would be longer
    if pixels.shape[2] == 3 and context_coded is not None and len(coded) >= LZMA_SKIP_RATIO * len(context_coded):
        return context_coded  # single planes (palette indices, text, line art) always get the full search
    coded = min([coded] + [bytes([m]) + _lzma(data, pixels.size) for m, data in options], key=len)
    return context_coded if context_coded is not None and len(context_coded) <= len(coded) else coded


def _decode_predicted(data: bytes, height: int, width: int, channels: int) -> np.ndarray:
    """The inverse of ``_encode_predicted``; never produces more than ``height * width * channels`` bytes."""
    size = height * width * channels
    if not data or data[0] > CONTEXT_METHODS[-1]:
        raise FlowzipError("corrupt file: invalid predictor")
    if data[0] in CONTEXT_METHODS:
        return _context_decode(data, height, width, channels)
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


def describe_predicted(data: bytes) -> str:
    """How ``_encode_predicted`` coded ``data``: "context method 8", "paeth + LZMA2" (or "invalid")."""
    method = data[0] if data else -1
    if method in CONTEXT_METHODS:
        return f"context method {method}"
    return f"{PREDICTORS[method]} + LZMA2" if 0 <= method < len(PREDICTORS) else "invalid"


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


def _subtract_green(rgb: np.ndarray, sign: int, offset: int = 0) -> np.ndarray:
    """(R + sign G + offset, G, B + sign G + offset) modulo 256."""
    out = rgb.copy()
    for c in (0, 2):
        out[:, :, c] = (rgb[:, :, c].astype(np.int32) + sign * rgb[:, :, 1].astype(np.int32) + offset) & 255
    return out


_CENTRED = TRANSFORMS.index("subtract green, centred")


def encode_rgb(rgb: np.ndarray) -> bytes:
    """Code an RGB array (H, W, 3): a transform byte (``TRANSFORMS``), the palette for the palette transform
    (entry count - 1, then R G B per entry, darkest first), then ``_encode_predicted`` of what it gives. The
    palette is tried where there are at most 256 colours, beside the better of the other two (on a small
    image a palette can cost more than it saves)."""
    rgb = np.array(rgb, dtype=np.uint8)
    options = [(_best_prediction(a), t, a) for t, a in ((0, rgb), (_CENTRED, _subtract_green(rgb, -1, 128)))]
    best, transform, pixels = min(options, key=lambda o: o[0][0])
    coded = bytes([transform]) + _encode_predicted(pixels, best)
    packed = (rgb[:, :, 0].astype(np.int32) << 16) | (rgb[:, :, 1].astype(np.int32) << 8) | rgb[:, :, 2]
    colours, indices = np.unique(packed, return_inverse=True)
    if len(colours) <= MAX_PALETTE:
        palette = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=1).astype(np.uint8)
        plane = _ranks(palette)[indices.reshape(packed.shape)][:, :, None]
        header = bytes([2, len(colours) - 1]) + palette[luminance_order(palette)].tobytes()
        coded = min(coded, header + _encode_predicted(np.ascontiguousarray(plane)), key=len)
    return coded


def describe_rgb(data: bytes) -> str:
    """How ``encode_rgb`` coded ``data``: its transform, then ``describe_predicted``."""
    if not data or data[0] >= len(TRANSFORMS):
        return "invalid"
    start = 2 + 3 * (data[1] + 1) if data[0] == TRANSFORMS.index("palette") and len(data) > 1 else 1
    return f"{TRANSFORMS[data[0]]}, {describe_predicted(data[start:])}"


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
    if data[0] == TRANSFORMS.index("subtract green"):
        return _subtract_green(pixels, 1)
    return _subtract_green(pixels, 1, -128) if data[0] == _CENTRED else pixels


# The context coder: the median edge detector's prediction, corrected by the mean error seen in its context (as
# in LOCO-I), and the residual coded bit by bit with an adaptive binary range coder (LZMA's) under contexts of
# local activity. The layout and the model are specified in docs/format.md ("Context-coded data").
# Four versions, by the predictor byte: format 2's (method 5); format 3's (method 6), which adapts fast while a
# context is new (small images learn their statistics sooner), keeps finer probabilities (near-certain bits in
# flat areas cost less) and ends its stream in fewer bytes; format 4's (method 7), which codes each of method 6's
# bits under a mix of seven context models' probabilities (below); format 5's (method 8), method 7 starting from
# what it learnt on photos. This flowzip writes method 8 for three channels, 7 for one, and reads all four.
CONTEXT_METHODS = tuple(range(len(PREDICTORS), len(PREDICTORS) + 4))  # 5, 6, 7, 8
MIXED_METHODS = CONTEXT_METHODS[2:]  # 7, and 8: 7 starting from a state learnt on photos (WARM_STATE)
_PROB_BITS = (11, 15)  # by version: probabilities (of a 0) in units of 2**-bits
_ADAPT_SHIFT = 5  # method 5: every probability moves 1/32 of the way to the bit seen
_ADAPT_SHIFT_START, _ADAPT_SHIFT_END, _ADAPT_SHIFT_EVERY = 3, 6, 8  # method 6: 1/8 at first, 1/64 after 24 bits
_TOP = 1 << 24
_ACTIVITY_CONTEXTS = 24
_BITS_PER_CONTEXT = 1 + 7 + 8 * 8  # zero flag, the unary length (7), the mantissa bits (by length, position)
_SHAPES = 27  # signs of three gradients
_BIAS_LIMIT = 128  # the error sums of a context are halved when it has seen this many


@njit(nogil=True)
def _context_neighbours(pixels: np.ndarray, i: int, j: int, k: int) -> tuple[int, int, int, int]:
    """(left, above, above left, above right) of pixel (i, j) in channel k: ``_neighbours``, and above right,
    which is the above where there is none."""
    a, b, c = _neighbours(pixels, i, j, k)
    d = np.int32(pixels[i - 1, j + 1, k]) if i > 0 and j + 1 < pixels.shape[1] else b
    return a, b, c, d


@njit(nogil=True)
def _context_model(a: int, b: int, c: int, d: int, i: int, j: int, k: int, errors: np.ndarray) -> tuple[int, int]:
    """(activity context, bias context) of pixel (i, j) in channel k with neighbours a, b, c, d."""
    ew = errors[i, j - 1, k] if j > 0 else 0
    en = errors[i - 1, j, k] if i > 0 else 0
    ctx = _half_octave(abs(a - c) + abs(b - c) + abs(d - b) + ew + en, _ACTIVITY_CONTEXTS - 1)
    # the bias context adds the shape of the neighbourhood: the signs of three gradients
    shape = 9 * _sign3(b - c) + 3 * _sign3(a - c) + _sign3(d - b)
    return ctx, ctx * _SHAPES + shape


@njit(nogil=True)
def _half_octave(v: int, cap: int) -> int:
    """A quantiser of v >= 0 in half-octave steps, at most ``cap``: the bit length n of v where n <= 1, else
    2n - 1 + the bit below the top one (0, 1, 2, 3 -> 0, 1, 3, 4; 4..5 -> 5, 6..7 -> 6, 8..11 -> 7, ...)."""
    length = 0
    while v >> length:
        length += 1
    return min(2 * length - 1 + ((v >> (length - 2)) & 1) if length >= 2 else length, cap)


_SUB_PREDICTORS = 4
_BLEND_EPSILON = 32  # in eighths of a level: keeps the weights finite where every neighbour was predicted exactly


@njit(nogil=True)
def _blended_prediction(
    a: int, b: int, c: int, d: int, i: int, j: int, k: int, sub_errors: np.ndarray, sub: np.ndarray
) -> int:
    """Method 6's prediction: four predictions (in eighths of a level) weighted by how well each predicted the
    four causal neighbours (left, above, above left, above right): the median edge detector, the mean of left
    and above, the gradient a + b - c, and b + d + a - c halved. ``sub`` receives the four, ``sub_errors`` holds
    each one's |8 x - prediction| for this row and the last (row i % 2)."""
    w = sub_errors.shape[1]
    sub[0] = 8 * _median_edge(a, b, c)
    sub[1] = 4 * (a + b)
    sub[2] = 8 * (a + b - c)
    sub[3] = 4 * (b + d + a - c)
    total, weights = 0, 0
    for q in range(_SUB_PREDICTORS):
        spread = _BLEND_EPSILON
        if j > 0:
            spread += sub_errors[i & 1, j - 1, k, q]
        if i > 0:
            spread += sub_errors[(i - 1) & 1, j, k, q]
            if j > 0:
                spread += sub_errors[(i - 1) & 1, j - 1, k, q]
            if j + 1 < w:
                spread += sub_errors[(i - 1) & 1, j + 1, k, q]
        weight = 1 + (1 << 40) // (spread * spread)
        total += weight * sub[q]
        weights += weight
    return min(max((total + 4 * weights) // (8 * weights), 0), 255)


@njit(nogil=True)
def _sign3(x: int) -> int:
    return 0 if x < 0 else (1 if x == 0 else 2)


@njit(nogil=True)
def _bias(sums: np.ndarray, counts: np.ndarray, k: int, ctx: int) -> int:
    """The mean error of a context so far, rounded to nearest (exact integer arithmetic on both sides)."""
    n = counts[k, ctx]
    return 0 if n == 0 else (2 * sums[k, ctx] + n) // (2 * n)


@njit(nogil=True)
def _learn(sums: np.ndarray, counts: np.ndarray, errors: np.ndarray, i: int, j: int, k: int, ctx: int, e: int) -> None:
    sums[k, ctx] += e
    counts[k, ctx] += 1
    if counts[k, ctx] >= _BIAS_LIMIT:
        sums[k, ctx] >>= 1  # arithmetic shift: rounds towards minus infinity on both sides
        counts[k, ctx] >>= 1
    errors[i, j, k] = abs(e)


@njit(nogil=True)
def _shift_low(state: np.ndarray, out: np.ndarray) -> bool:
    """LZMA's ShiftLow: move the top byte of ``low`` out, settling a carry; False if ``out`` is full.

    ``state`` is (low, range, cache, cache size, bytes written).
    """
    low = state[0]
    if low < 0xFF000000 or low >= 1 << 32:
        carry, temp = low >> 32, state[2]
        while True:
            if state[4] >= len(out):
                return False
            out[state[4]] = (temp + carry) & 0xFF
            state[4] += 1
            temp = 0xFF
            state[3] -= 1
            if state[3] == 0:
                break
        state[2] = (low >> 24) & 0xFF
    state[3] += 1
    state[0] = (low & 0x00FFFFFF) << 8
    return True


@njit(nogil=True)
def _adapt(probs: np.ndarray, slot: int, bit: int, fast: bool) -> None:
    """Move the probability ``probs[slot, 0]`` of a 0 towards ``bit``: by 1/32 (method 5), or (``fast``, method
    6) by 2**-shift with a shift that grows by one every 8 bits the slot has seen (counted in ``probs[slot, 1]``)."""
    prob_one = 1 << _PROB_BITS[1 if fast else 0]
    shift = _ADAPT_SHIFT
    if fast:
        seen = probs[slot, 1]
        shift = min(_ADAPT_SHIFT_START + seen // _ADAPT_SHIFT_EVERY, _ADAPT_SHIFT_END)
        probs[slot, 1] = min(seen + 1, _ADAPT_SHIFT_EVERY * (_ADAPT_SHIFT_END - _ADAPT_SHIFT_START))
    prob = probs[slot, 0]
    probs[slot, 0] = prob + ((prob_one - prob) >> shift) if bit == 0 else prob - (prob >> shift)


@njit(nogil=True)
def _encode_bit(state: np.ndarray, out: np.ndarray, probs: np.ndarray, slot: int, bit: int, fast: bool) -> bool:
    """Code one bit under the adaptive probability ``probs[slot, 0]`` (of a 0), then adapt it."""
    bound = (state[1] >> _PROB_BITS[1 if fast else 0]) * probs[slot, 0]
    _adapt(probs, slot, bit, fast)
    return _encode_bound(state, out, bound, bit)


@njit(nogil=True)
def _encode_bound(state: np.ndarray, out: np.ndarray, bound: int, bit: int) -> bool:
    """Code one bit: a 0 keeps the range's first ``bound``, a 1 the rest; False if ``out`` is full."""
    if bit == 0:
        state[1] = bound
    else:
        state[0] += bound
        state[1] -= bound
    while state[1] < _TOP:
        state[1] <<= 8
        if not _shift_low(state, out):
            return False
    return True


@njit(nogil=True)
def _decode_bit(state: np.ndarray, data: np.ndarray, probs: np.ndarray, slot: int, fast: bool) -> int:
    """The mirror of ``_encode_bit``; ``state`` is (code, range, bytes read). Past the end, data reads as 0."""
    bit = _decode_bound(state, data, (state[1] >> _PROB_BITS[1 if fast else 0]) * probs[slot, 0])
    _adapt(probs, slot, bit, fast)
    return bit


@njit(nogil=True)
def _decode_bound(state: np.ndarray, data: np.ndarray, bound: int) -> int:
    """The mirror of ``_encode_bound``: the bit, 0 if the code value lies in the range's first ``bound``."""
    if state[0] < bound:
        state[1] = bound
        bit = 0
    else:
        state[0] -= bound
        state[1] -= bound
        bit = 1
    while state[1] < _TOP:
        state[1] <<= 8
        state[0] = ((state[0] << 8) | (data[state[2]] if state[2] < len(data) else 0)) & 0xFFFFFFFF
        state[2] += 1
    return bit


@njit(nogil=True)
def _fewest_bytes(state: np.ndarray) -> None:
    """Before the flush (method 6): replace ``low`` by the number in [low, low + range) with the most trailing
    zero bits, so that the flushed bytes end in zeros, which the stream leaves out (the decoder reads 0 past
    the end)."""
    low, high = state[0], state[0] + state[1]
    for k in range(32, -1, -1):
        v = ((low + (1 << k) - 1) >> k) << k
        if v < high:
            state[0] = v
            return


@njit(nogil=True)
def _coder_state(data: np.ndarray, undo: bool, fast: bool) -> np.ndarray:
    """The range coder's starting state: the encoder's (low, range, cache, cache size, bytes written), or the
    decoder's (code, range, bytes read) with its code value read from the data's first bytes: five, the first
    always 0, as in LZMA; or (``fast``, methods 6 to 8) four, that 0 left out of the data."""
    if not undo:
        state = np.zeros(5, dtype=np.int64)
        state[1], state[3] = 0xFFFFFFFF, 1
        return state
    state = np.zeros(3, dtype=np.int64)
    state[1] = 0xFFFFFFFF
    for _ in range(4 if fast else 5):
        state[0] = ((state[0] << 8) | (data[state[2]] if state[2] < len(data) else 0)) & 0xFFFFFFFF
        state[2] += 1
    return state


@njit(nogil=True)
def _unary_slots(length: int) -> int:
    return min(length + 1, 7)  # the lengths 0..6 end with a 0 bit; 7, the longest, needs none


@njit(nogil=True)
def _context_code(pixels: np.ndarray, data: np.ndarray, undo: bool, fast: bool) -> int:
    """Forward: code ``pixels`` (H, W, C) into ``data``; return the bytes written, or -1 if ``data`` is too
    short. Undo: decode ``data`` into ``pixels``; return the bytes read (past the end too, where data reads as 0).

    ``fast`` is method 6 (format 3): fast adaptation at first, 15-bit probabilities, and a stream without the
    range coder's first byte (always 0) and without the zeros it ends in; else method 5 (format 2).
    """
    h, w, channels = pixels.shape
    half = 1 << (_PROB_BITS[1 if fast else 0] - 1)
    probs = np.zeros((channels, _ACTIVITY_CONTEXTS, _BITS_PER_CONTEXT, 2), dtype=np.int64)  # (probability, seen)
    probs[..., 0] = half
    sign_probs = np.zeros((channels, _ACTIVITY_CONTEXTS * _SHAPES, 1, 2), dtype=np.int64)
    sign_probs[..., 0] = half
    sums = np.zeros((channels, _ACTIVITY_CONTEXTS * _SHAPES), dtype=np.int64)
    counts = np.zeros((channels, _ACTIVITY_CONTEXTS * _SHAPES), dtype=np.int64)
    errors = np.zeros((h, w, channels), dtype=np.int32)
    sub_errors = np.zeros((2, w, channels, _SUB_PREDICTORS), dtype=np.int64)  # method 6: this row and the last
    sub = np.zeros(_SUB_PREDICTORS, dtype=np.int64)
    state = _coder_state(data, undo, fast)
    for i in range(h):
        for j in range(w):
            for k in range(channels):
                a, b, c, d = _context_neighbours(pixels, i, j, k)
                ctx, bias_ctx = _context_model(a, b, c, d, i, j, k, errors)
                pred = _blended_prediction(a, b, c, d, i, j, k, sub_errors, sub) if fast else _median_edge(a, b, c)
                p = (pred + _bias(sums, counts, k, bias_ctx)) & 255
                bits = probs[k, ctx]
                if undo:
                    m = _decode_bit(state, data, bits, 0, fast)
                    if m:
                        negative = _decode_bit(state, data, sign_probs[k, bias_ctx], 0, fast)
                        length = 0
                        while length < 7 and _decode_bit(state, data, bits, 1 + length, fast):
                            length += 1
                        for q in range(length):
                            m = (m << 1) | _decode_bit(state, data, bits, 8 + 8 * length + q, fast)
                        m = -m if negative else m
                    e = m
                    pixels[i, j, k] = (p + e) & 255
                else:
                    e = ((np.int32(pixels[i, j, k]) - p + 128) & 255) - 128
                    m = abs(e)
                    ok = _encode_bit(state, data, bits, 0, int(m != 0), fast)
                    if m:
                        length = 0
                        while m >> (length + 1):
                            length += 1
                        ok &= _encode_bit(state, data, sign_probs[k, bias_ctx], 0, int(e < 0), fast)
                        for t in range(_unary_slots(length)):
                            ok &= _encode_bit(state, data, bits, 1 + t, int(t < length), fast)
                        for q in range(length):
                            bit = (m >> (length - 1 - q)) & 1
                            ok &= _encode_bit(state, data, bits, 8 + 8 * length + q, bit, fast)
                    if not ok:
                        return -1
                _learn(sums, counts, errors, i, j, k, bias_ctx, e)
                if fast:
                    for q in range(_SUB_PREDICTORS):
                        sub_errors[i & 1, j, k, q] = abs(8 * np.int64(pixels[i, j, k]) - sub[q])
    if undo:
        return state[2]
    if fast:
        _fewest_bytes(state)
    for _ in range(5):  # flush
        if not _shift_low(state, data):
            return -1
    return state[4]


# Method 7, the mixing coder: method 6's prediction, correction and bits, but each bit is coded under a mix of
# seven context models' adaptive probabilities in the logistic domain, as the PAQ coders do, with weights learned
# online along the gradient of the code length. The models see what method 6's single context does not: the
# errors at the left, above and above left apart, the earlier channels' errors at this pixel (signed: the
# channels' errors are correlated), how far the blend strays from the median edge detector and which
# neighbours lie above the prediction. Integers throughout, so the decoder repeats it exactly.
# 4096 / (1 + e^(-x / 256)) at x = -2048, -1920, ..., 2048, rounded
# fmt: off
_SQUASH_KNOTS = np.array([
    1, 2, 4, 6, 10, 17, 27, 45, 74, 120, 194, 311, 488, 747, 1102, 1546, 2048,
    2550, 2994, 3349, 3608, 3785, 3902, 3976, 4022, 4051, 4069, 4079, 4086, 4090, 4092, 4094, 4095,
], dtype=np.int64)
# fmt: on
_SIGN_SLOT = _BITS_PER_CONTEXT  # the sign bit has a slot of its own
_MIX_SLOTS = _BITS_PER_CONTEXT + 1
_ERROR_STEPS = 5  # an earlier channel's error at this pixel: -5..5, its sign times _half_octave of its magnitude
_EARLIER_CONTEXTS = (2 * _ERROR_STEPS + 1) ** 2  # the two earlier channels' errors
_MODEL_SIZES = (  # contexts of each model (per channel and slot)
    _ACTIVITY_CONTEXTS * _SHAPES,  # method 6's: the activity, or the bias context for the sign
    _ACTIVITY_CONTEXTS * _SHAPES,  # the bias context
    8 * 8 * 8,  # the errors at the left, above and above left
    12 * 10,  # the previous channel's error here, and the activity
    16 * 8,  # the blend's distance from the median edge detector, and the error at the left
    _ACTIVITY_CONTEXTS * _EARLIER_CONTEXTS,  # the activity and the earlier channels' errors here
    64 * 8,  # the texture: which of six neighbours and gradients lie above the prediction, and the activity
)
_MODEL_OFFSETS = np.cumsum(np.array((0, *_MODEL_SIZES[:-1]), dtype=np.int64))
_MODEL_CONTEXTS = sum(_MODEL_SIZES)  # per channel
_MIX_INPUTS = len(_MODEL_SIZES)
_MIX_RATE = 10  # a weight moves by input * (bit * 4096 - p) * rate / 2^14 (weights in units of 2^-16)
_MIX_BIAS = 77  # a constant input (0.3 in stretch units of 1/256)


def _stretch_table() -> np.ndarray:
    """stretch[p] for p = 0..4095: the least x in -2047..2047 with squash(x) >= p (2047 if none), the inverse
    of ``_squash``; integers only, so every platform builds the same table."""
    table = np.full(4096, 2047, dtype=np.int64)
    p = 0
    for x in range(-2047, 2048):
        v = _squash.py_func(x)  # the Python function: nothing to compile or load at import
        table[p : v + 1] = x
        p = max(p, v + 1)
    return table


@njit(nogil=True)
def _squash(x: int) -> int:
    """4096 / (1 + e^(-x / 256)), interpolated linearly between the knots, for x clamped to -2047..2047."""
    x = min(max(x, -2047), 2047) + 2048
    lo, t = x >> 7, x & 127
    return (_SQUASH_KNOTS[lo] * (128 - t) + _SQUASH_KNOTS[lo + 1] * t + 64) >> 7


_STRETCH = _stretch_table()


@njit(nogil=True)
def _signed_step(e: int) -> int:
    """An error as one of 2 _ERROR_STEPS + 1 steps, 0..2 _ERROR_STEPS: its sign and quantised magnitude."""
    q = _half_octave(abs(e), _ERROR_STEPS)
    return _ERROR_STEPS + (q if e >= 0 else -q)


@njit(nogil=True)
def _mixed_bit(
    state: np.ndarray,
    data: np.ndarray,
    undo: bool,
    bit: int,
    probs: np.ndarray,
    contexts: np.ndarray,
    weights: np.ndarray,
    rows: np.ndarray,
    inputs: np.ndarray,
    slot: int,
) -> int:
    """Code (or, ``undo``, decode) one bit in ``slot``, under the models' probabilities ``probs[contexts[z],
    slot]`` mixed with the sum of the weight vectors ``weights[rows[0], slot]`` and ``weights[rows[1], slot]``;
    then teach all of them the bit. Returns the bit, or -1 if ``data`` is full."""
    inputs[_MIX_INPUTS] = _MIX_BIAS
    for z in range(_MIX_INPUTS):
        one = (1 << _PROB_BITS[1]) - probs[contexts[z], slot, 0]  # the model's probability of a 1
        inputs[z] = _STRETCH[min(max(one >> 3, 1), 4095)]
    dot = 0
    for z in range(_MIX_INPUTS + 1):
        dot += (weights[rows[0], slot, z] + weights[rows[1], slot, z]) * inputs[z]
    p = min(max(_squash(dot >> 17), 1), 4095)  # of a 1, in units of 2^-12
    bound = (state[1] >> 12) * (4096 - p)
    if undo:
        bit = _decode_bound(state, data, bound)
    elif not _encode_bound(state, data, bound, bit):
        return -1
    error = ((bit << 12) - p) * _MIX_RATE
    for z in range(_MIX_INPUTS + 1):
        step = (inputs[z] * error + (1 << 13)) >> 14
        weights[rows[0], slot, z] += step
        weights[rows[1], slot, z] += step
    for z in range(_MIX_INPUTS):
        _adapt(probs[contexts[z]], slot, bit, True)
    return bit


class MixedState(NamedTuple):
    """What the mixing coder learns as it codes, and starts from: each model's probabilities, the mixer's
    weights and the bias correction's error sums and counts, for ``C`` channels."""

    probs: np.ndarray  # (C * _MODEL_CONTEXTS, _MIX_SLOTS, 2) int32: each probability of a 0, and the bits seen
    weights: np.ndarray  # (C, _ACTIVITY_CONTEXTS + _EARLIER_CONTEXTS, _MIX_SLOTS, _MIX_INPUTS + 1) int64
    sums: np.ndarray  # (C, _ACTIVITY_CONTEXTS * _SHAPES) int64
    counts: np.ndarray  # (C, _ACTIVITY_CONTEXTS * _SHAPES) int64


# Method 8 starts from the state that method 7 reaches on photos (WARM_STATE, learnt by
# benchmarks/context_state.py), not from nothing: a small image then no longer pays for learning what every
# photo shares (9 % of a 32x32 crop's bits, models/README.md). The format spec names the file by this hash: a
# new state needs a new method number, as a new flow needs a new model id.
WARM_METHOD = MIXED_METHODS[1]
WARM_STATE = "context-state-1.npz"  # in flowzip.models
WARM_STATE_CHANNELS = 3  # learnt on (R - G + 128, G, B - G + 128), the centred subtract-green transform
WARM_STATE_SHA256 = "0291418a132adb548f03e35d4b36fbbbfa1db02c0143d496767602d3984f40f2"


def state_hash(state: MixedState) -> str:
    """SHA-256 (hex) over the state's arrays in field order: for each, ``name|dtype|shape|`` then its bytes."""
    digest = hashlib.sha256()
    for name, array in zip(MixedState._fields, state, strict=True):
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def save_state(state: MixedState, path: Path) -> None:
    """Write ``state`` to ``path`` as a compressed ``.npz`` of its arrays (read back by ``load_state``)."""
    np.savez_compressed(path, **state._asdict())


def load_state(path: Path | Traversable) -> MixedState:
    """Read a state written by ``save_state`` (plain arrays: loading executes no code)."""
    with path.open("rb") as f, np.load(f, allow_pickle=False) as arrays:
        return MixedState(*(arrays[name] for name in MixedState._fields))


@cache
def warm_state() -> MixedState:
    """Method 8's starting state, read once and checked against ``WARM_STATE_SHA256``; callers copy it."""
    state = load_state(resources.files("flowzip.models") / WARM_STATE)
    if state_hash(state) != WARM_STATE_SHA256:
        raise FlowzipError(f"the installed {WARM_STATE} is damaged (its hash does not match); reinstall flowzip")
    return state


def learn_state(images: Iterable[np.ndarray], seen_cap: int) -> MixedState:
    """The state that method 7 reaches by coding ``images`` (each (H, W, C) uint8, transformed as it would
    code them) one after another, each probability's count of bits seen then capped at ``seen_cap``, so that
    a coder starting from it still adapts as fast as after that many bits."""
    state: MixedState | None = None
    for image in images:
        state = state or _cold_state(image.shape[2])
        out = np.empty(4 * image.size + 64, dtype=np.uint8)  # the stream is thrown away, but must fit
        if _mixed_code(np.ascontiguousarray(image), out, False, *state) < 0:
            raise ValueError("an image's stream did not fit its buffer")
    if state is None:
        raise ValueError("no images to learn from")
    np.minimum(state.probs[..., 1], seen_cap, out=state.probs[..., 1])
    return state


def _cold_state(channels: int) -> MixedState:
    """Method 7's starting state for ``channels`` channels: every probability 1/2 and unseen, the weights those
    of method 6's model alone, no errors seen."""
    probs = np.zeros((channels * _MODEL_CONTEXTS, _MIX_SLOTS, 2), dtype=np.int32)  # (probability, seen)
    probs[..., 0] = 1 << (_PROB_BITS[1] - 1)
    # weight vectors by channel, chosen by the activity (rows 0..23) and by the earlier channels' errors
    weights = np.zeros((channels, _ACTIVITY_CONTEXTS + _EARLIER_CONTEXTS, _MIX_SLOTS, _MIX_INPUTS + 1), np.int64)
    weights[..., 0] = 1 << 16  # the sum starts as method 6's model alone
    sums = np.zeros((channels, _ACTIVITY_CONTEXTS * _SHAPES), dtype=np.int64)
    counts = np.zeros((channels, _ACTIVITY_CONTEXTS * _SHAPES), dtype=np.int64)
    return MixedState(probs, weights, sums, counts)


@njit(nogil=True)
def _mixed_code(
    pixels: np.ndarray,
    data: np.ndarray,
    undo: bool,
    probs: np.ndarray,
    weights: np.ndarray,
    sums: np.ndarray,
    counts: np.ndarray,
) -> int:
    """Methods 7 and 8: as ``_context_code`` with ``fast`` (the same stream), each bit coded by ``_mixed_bit``,
    starting from (and updating in place) the state ``probs, weights, sums, counts`` (a ``MixedState``)."""
    h, w, channels = pixels.shape
    rows = np.zeros(2, dtype=np.int64)
    errors = np.zeros((h, w, channels), dtype=np.int32)
    signed = np.zeros(channels, dtype=np.int64)  # this pixel's errors so far, by channel
    sub_errors = np.zeros((2, w, channels, _SUB_PREDICTORS), dtype=np.int64)
    sub = np.zeros(_SUB_PREDICTORS, dtype=np.int64)
    contexts = np.zeros(_MIX_INPUTS, dtype=np.int64)
    inputs = np.zeros(_MIX_INPUTS + 1, dtype=np.int64)
    state = _coder_state(data, undo, True)
    for i in range(h):
        for j in range(w):
            for k in range(channels):
                a, b, c, d = _context_neighbours(pixels, i, j, k)
                ctx, bias_ctx = _context_model(a, b, c, d, i, j, k, errors)
                pred = _blended_prediction(a, b, c, d, i, j, k, sub_errors, sub)
                p = (pred + _bias(sums, counts, k, bias_ctx)) & 255
                left = _half_octave(errors[i, j - 1, k], 7) if j > 0 else 0
                above = _half_octave(errors[i - 1, j, k], 7) if i > 0 else 0
                above_left = _half_octave(errors[i - 1, j - 1, k], 7) if i > 0 and j > 0 else 0
                previous = _half_octave(errors[i, j, k - 1], 11) if k > 0 else 0
                gap = _half_octave(abs(pred - sub[0] // 8), 15)
                earlier = (2 * _ERROR_STEPS + 1) * _signed_step(signed[k - 1] if k > 0 else 0)
                earlier += _signed_step(signed[k - 2] if k > 1 else 0)
                texture = int(a > pred) + 2 * int(b > pred) + 4 * int(c > pred) + 8 * int(d > pred)
                texture += 16 * int(2 * a - c > pred) + 32 * int(2 * b - c > pred)
                contexts[0] = ctx
                contexts[1] = bias_ctx
                contexts[2] = 64 * left + 8 * above + above_left
                contexts[3] = 10 * previous + min(ctx // 2, 9)
                contexts[4] = 8 * gap + left
                contexts[5] = _EARLIER_CONTEXTS * ctx + earlier
                contexts[6] = 8 * texture + min(ctx // 3, 7)
                base = k * _MODEL_CONTEXTS
                for z in range(_MIX_INPUTS):
                    contexts[z] += base + _MODEL_OFFSETS[z]
                rows[0], rows[1] = ctx, _ACTIVITY_CONTEXTS + earlier
                e = 0 if undo else ((np.int32(pixels[i, j, k]) - p + 128) & 255) - 128
                e = _mixed_residual(state, data, undo, e, probs, contexts, weights[k], rows, inputs, base + bias_ctx)
                if e == _FULL:
                    return -1
                if undo:
                    pixels[i, j, k] = (p + e) & 255
                _learn(sums, counts, errors, i, j, k, bias_ctx, e)
                signed[k] = e
                for q in range(_SUB_PREDICTORS):
                    sub_errors[i & 1, j, k, q] = abs(8 * np.int64(pixels[i, j, k]) - sub[q])
    if undo:
        return state[2]
    _fewest_bytes(state)
    for _ in range(5):  # flush
        if not _shift_low(state, data):
            return -1
    return state[4]


_FULL = 1 << 16  # not a residual: the output is full


@njit(nogil=True)
def _mixed_residual(
    state: np.ndarray,
    data: np.ndarray,
    undo: bool,
    e: int,
    probs: np.ndarray,
    contexts: np.ndarray,
    weights: np.ndarray,
    rows: np.ndarray,
    inputs: np.ndarray,
    sign_context: int,
) -> int:
    """Code (or decode) residual ``e`` as method 6's bits, each by ``_mixed_bit``; model 0 codes the sign under
    ``sign_context`` (method 6's bias context). Returns the residual, or ``_FULL``."""
    magnitude = abs(e)
    nonzero = _mixed_bit(state, data, undo, int(magnitude != 0), probs, contexts, weights, rows, inputs, 0)
    if nonzero <= 0:
        return _FULL if nonzero < 0 else 0
    activity_context = contexts[0]
    contexts[0] = sign_context
    negative = _mixed_bit(state, data, undo, int(e < 0), probs, contexts, weights, rows, inputs, _SIGN_SLOT)
    contexts[0] = activity_context
    length = 0
    if not undo:
        while magnitude >> (length + 1):
            length += 1
    more = 0
    for t in range(7):  # the unary length: ones then a zero, no zero after 7
        more = _mixed_bit(state, data, undo, int(t < length), probs, contexts, weights, rows, inputs, 1 + t)
        if more <= 0:
            break
        if undo:
            length += 1
    if negative < 0 or more < 0:
        return _FULL
    m = 1
    for q in range(length):
        bit = (magnitude >> (length - 1 - q)) & 1
        bit = _mixed_bit(state, data, undo, bit, probs, contexts, weights, rows, inputs, 8 + 8 * length + q)
        if bit < 0:
            return _FULL
        m = (m << 1) | bit
    return -m if negative else m


def _run_context_coder(pixels: np.ndarray, data: np.ndarray, undo: bool, method: int) -> int:
    """Code ``pixels`` into ``data`` (or, ``undo``, decode) with context method ``method``: what
    ``_context_code`` or ``_mixed_code`` returns."""
    if method == WARM_METHOD:
        if pixels.shape[2] != WARM_STATE_CHANNELS:
            raise FlowzipError(f"corrupt plane data (context method {method} codes {WARM_STATE_CHANNELS} channels)")
        return _mixed_code(pixels, data, undo, *(a.copy() for a in warm_state()))
    if method == MIXED_METHODS[0]:
        return _mixed_code(pixels, data, undo, *_cold_state(pixels.shape[2]))
    return _context_code(pixels, data, undo, method != CONTEXT_METHODS[0])


def _context_encode(pixels: np.ndarray, budget: int, method: int | None = None) -> bytes | None:
    """Context-coded data of ``pixels`` (H, W, C), the method byte first, or None if longer than ``budget``.
    By default the method is ``WARM_METHOD`` for three channels (always the shorter on photos, and on small
    images by far: models/README.md, "The classical coder's starting state"), else method 7."""
    if method is None:
        method = WARM_METHOD if pixels.shape[2] == WARM_STATE_CHANNELS else MIXED_METHODS[0]
    fast = method != CONTEXT_METHODS[0]
    out = np.empty(max(budget - 1 + fast, 0), dtype=np.uint8)
    written = _run_context_coder(pixels, out, False, method)
    if written < 0:
        return None
    if fast:  # the range coder's first byte is always 0; methods 6 to 8 leave it out, and the zeros at the end
        return bytes([method]) + out[1:written].tobytes().rstrip(b"\0")
    return bytes([method]) + out[:written].tobytes()


def _context_decode(data: bytes, height: int, width: int, channels: int) -> np.ndarray:
    """The pixels (H, W, C) of context-coded data (the method byte first)."""
    pixels = np.empty((height, width, channels), dtype=np.uint8)
    stream = np.frombuffer(data, dtype=np.uint8)[1:].copy()  # writable: one compiled signature for both ways
    fast = data[0] != CONTEXT_METHODS[0]
    read = _run_context_coder(pixels, stream, True, data[0])
    # a stream of method 6 or later ends at its last non-zero byte (the decoder reads zeros past it); method 5's
    # is read whole
    whole = (read >= len(stream) and stream[-1:].tobytes() != b"\0") if fast else read == len(stream)
    if not whole:
        raise FlowzipError("corrupt plane data (context-coded data of the wrong length)")
    return pixels
