"""The context coder: a prediction corrected by the mean error seen in its context (as in LOCO-I), the residual
coded bit by bit with the binary range coder under contexts of local activity. The layout and the model are
specified in docs/format.md ("Context-coded data").

Five versions, by the method byte: format 2's (method 5), the median edge detector's prediction; format 3's
(method 6), a blend of four predictions, which adapts fast while a context is new (small images learn their
statistics sooner), keeps finer probabilities (near-certain bits in flat areas cost less) and ends its stream
in fewer bytes; format 4's (method 7), which codes each of method 6's bits under a mix of seven context models'
probabilities (``flowzip.classical.mixer``); format 5's (method 8), method 7 starting from what it learnt on
photos (``flowzip.classical.state``); format 7's (method 9), the photo coder (``flowzip.classical.photo_coder``).
"""

from __future__ import annotations

import numpy as np

from flowzip.classical.contexts import (
    ACTIVITY_CONTEXTS,
    BITS_PER_CONTEXT,
    SHAPES,
    bias,
    context_model,
    learn,
    unary_slots,
)
from flowzip.classical.methods import CONTEXT_METHODS, MIXED_METHODS, PHOTO_METHOD, WARM_METHOD
from flowzip.classical.mixer import (
    MIX_INPUTS,
    MODEL_CONTEXTS,
    SIGN_SLOT,
    mixed_bit,
    model_contexts,
)
from flowzip.classical.photo_coder import photo_code
from flowzip.classical.predictors import SUB_PREDICTORS, blended_prediction, context_neighbours, median_edge
from flowzip.classical.range_coder import PROB_BITS, code_adaptive_bit, coder_state, finish
from flowzip.classical.state import WARM_STATE_CHANNELS, cold_state, photo_state, warm_state
from flowzip.errors import FlowzipError
from flowzip.jit import njit
from flowzip.learned.tiny_net import tiny_net


@njit(nogil=True, inline="always")  # as a call, once a subpixel, it cost methods 7 and 8 about 10 % more time
def _predict(
    pixels: np.ndarray,
    i: int,
    j: int,
    k: int,
    errors: np.ndarray,
    sub_errors: np.ndarray,
    sub: np.ndarray,
    sums: np.ndarray,
    counts: np.ndarray,
    fast: bool,
) -> tuple[int, int, int, int, int, int, int, int]:
    """What every method does first at subpixel (i, j, k): its neighbours (a, b, c, d), its activity and bias
    contexts, the prediction (``fast``: method 6's blend, else the median edge detector) and that prediction
    corrected by its bias context's mean error, modulo 256."""
    a, b, c, d = context_neighbours(pixels, i, j, k)
    ctx, bias_ctx = context_model(a, b, c, d, i, j, k, errors)
    pred = blended_prediction(a, b, c, d, i, j, k, sub_errors, sub, 255) if fast else median_edge(a, b, c)
    return a, b, c, d, ctx, bias_ctx, pred, (pred + bias(sums, counts, k, bias_ctx)) & 255


@njit(nogil=True, inline="always")
def _learn(
    pixels: np.ndarray,
    i: int,
    j: int,
    k: int,
    e: int,
    bias_ctx: int,
    sums: np.ndarray,
    counts: np.ndarray,
    errors: np.ndarray,
    sub_errors: np.ndarray,
    sub: np.ndarray,
    fast: bool,
) -> None:
    """What every method does last at subpixel (i, j, k), once its residual ``e`` is known: the bias context's
    error sums, the error map and (``fast``) each blended predictor's error."""
    learn(sums, counts, errors, i, j, k, bias_ctx, e)
    if fast:
        for q in range(SUB_PREDICTORS):
            sub_errors[i & 1, j, k, q] = abs(8 * np.int64(pixels[i, j, k]) - sub[q])


@njit(nogil=True)
def _context_code(pixels: np.ndarray, data: np.ndarray, undo: bool, fast: bool) -> int:
    """Forward: code ``pixels`` (H, W, C) into ``data``; return the bytes written, or -1 if ``data`` is too
    short. Undo: decode ``data`` into ``pixels``; return the bytes read (past the end too, where data reads as 0).

    ``fast`` is method 6 (format 3): fast adaptation at first, 15-bit probabilities, and a stream without the
    range coder's first byte (always 0) and without the zeros it ends in; else method 5 (format 2).
    """
    h, w, channels = pixels.shape
    half = 1 << (PROB_BITS[1 if fast else 0] - 1)
    probs = np.zeros((channels, ACTIVITY_CONTEXTS, BITS_PER_CONTEXT, 2), dtype=np.int64)  # (probability, seen)
    probs[..., 0] = half
    sign_probs = np.zeros((channels, ACTIVITY_CONTEXTS * SHAPES, 1, 2), dtype=np.int64)
    sign_probs[..., 0] = half
    sums = np.zeros((channels, ACTIVITY_CONTEXTS * SHAPES), dtype=np.int64)
    counts = np.zeros((channels, ACTIVITY_CONTEXTS * SHAPES), dtype=np.int64)
    errors = np.zeros((h, w, channels), dtype=np.int32)
    sub_errors = np.zeros((2, w, channels, SUB_PREDICTORS), dtype=np.int64)  # method 6: this row and the last
    sub = np.zeros(SUB_PREDICTORS, dtype=np.int64)
    state = coder_state(data, undo, fast)
    for i in range(h):
        for j in range(w):
            for k in range(channels):
                _, _, _, _, ctx, bias_ctx, _, p = _predict(pixels, i, j, k, errors, sub_errors, sub, sums, counts, fast)
                bits = probs[k, ctx]
                if undo:
                    m = code_adaptive_bit(state, data, True, 0, bits, 0, fast)
                    if m:
                        negative = code_adaptive_bit(state, data, True, 0, sign_probs[k, bias_ctx], 0, fast)
                        length = 0
                        while length < 7 and code_adaptive_bit(state, data, True, 0, bits, 1 + length, fast):
                            length += 1
                        for q in range(length):
                            m = (m << 1) | code_adaptive_bit(state, data, True, 0, bits, 8 + 8 * length + q, fast)
                        m = -m if negative else m
                    e = m
                    pixels[i, j, k] = (p + e) & 255
                else:
                    e = ((np.int32(pixels[i, j, k]) - p + 128) & 255) - 128
                    m = abs(e)
                    ok = code_adaptive_bit(state, data, False, int(m != 0), bits, 0, fast) >= 0
                    if m:
                        length = 0
                        while m >> (length + 1):
                            length += 1
                        ok &= code_adaptive_bit(state, data, False, int(e < 0), sign_probs[k, bias_ctx], 0, fast) >= 0
                        for t in range(unary_slots(length)):
                            ok &= code_adaptive_bit(state, data, False, int(t < length), bits, 1 + t, fast) >= 0
                        for q in range(length):
                            bit = (m >> (length - 1 - q)) & 1
                            ok &= code_adaptive_bit(state, data, False, bit, bits, 8 + 8 * length + q, fast) >= 0
                    if not ok:
                        return -1
                _learn(pixels, i, j, k, e, bias_ctx, sums, counts, errors, sub_errors, sub, fast)
    return finish(state, data, undo, fast)


@njit(nogil=True)
def mixed_code(
    pixels: np.ndarray,
    data: np.ndarray,
    undo: bool,
    probs: np.ndarray,
    weights: np.ndarray,
    sums: np.ndarray,
    counts: np.ndarray,
) -> int:
    """Methods 7 and 8: as ``_context_code`` with ``fast`` (the same stream), each bit coded by ``mixed_bit``,
    starting from (and updating in place) the state ``probs, weights, sums, counts`` (a ``MixedState``)."""
    h, w, channels = pixels.shape
    rows = np.zeros(2, dtype=np.int64)
    errors = np.zeros((h, w, channels), dtype=np.int32)
    signed = np.zeros(channels, dtype=np.int64)  # this pixel's errors so far, by channel
    sub_errors = np.zeros((2, w, channels, SUB_PREDICTORS), dtype=np.int64)
    sub = np.zeros(SUB_PREDICTORS, dtype=np.int64)
    contexts = np.zeros(MIX_INPUTS, dtype=np.int64)
    inputs = np.zeros(MIX_INPUTS + 1, dtype=np.int64)
    state = coder_state(data, undo, True)
    for i in range(h):
        for j in range(w):
            for k in range(channels):
                a, b, c, d, ctx, bias_ctx, pred, p = _predict(
                    pixels, i, j, k, errors, sub_errors, sub, sums, counts, True
                )
                base = k * MODEL_CONTEXTS
                earlier = model_contexts(
                    contexts, errors, signed, i, j, k, (a, b, c, d), ctx, bias_ctx, pred, sub[0] // 8, base
                )
                rows[0], rows[1] = ctx, ACTIVITY_CONTEXTS + earlier
                e = 0 if undo else ((np.int32(pixels[i, j, k]) - p + 128) & 255) - 128
                e = _mixed_residual(state, data, undo, e, probs, contexts, weights[k], rows, inputs, base + bias_ctx)
                if e == _FULL:
                    return -1
                if undo:
                    pixels[i, j, k] = (p + e) & 255
                _learn(pixels, i, j, k, e, bias_ctx, sums, counts, errors, sub_errors, sub, True)
                signed[k] = e
    return finish(state, data, undo, True)


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
    """Code (or decode) residual ``e`` as method 6's bits, each by ``mixed_bit``; model 0 codes the sign under
    ``sign_context`` (method 6's bias context). Returns the residual, or ``_FULL``."""
    magnitude = abs(e)
    nonzero = mixed_bit(state, data, undo, int(magnitude != 0), probs, contexts, weights, rows, inputs, 0)
    if nonzero <= 0:
        return _FULL if nonzero < 0 else 0
    activity_context = contexts[0]
    contexts[0] = sign_context
    negative = mixed_bit(state, data, undo, int(e < 0), probs, contexts, weights, rows, inputs, SIGN_SLOT)
    contexts[0] = activity_context
    length = 0
    if not undo:
        while magnitude >> (length + 1):
            length += 1
    more = 0
    for t in range(7):  # the unary length: ones then a zero, no zero after 7
        more = mixed_bit(state, data, undo, int(t < length), probs, contexts, weights, rows, inputs, 1 + t)
        if more <= 0:
            break
        if undo:
            length += 1
    if negative < 0 or more < 0:
        return _FULL
    m = 1
    for q in range(length):
        bit = (magnitude >> (length - 1 - q)) & 1
        bit = mixed_bit(state, data, undo, bit, probs, contexts, weights, rows, inputs, 8 + 8 * length + q)
        if bit < 0:
            return _FULL
        m = (m << 1) | bit
    return -m if negative else m


def _run_context_coder(pixels: np.ndarray, data: np.ndarray, undo: bool, method: int) -> int:
    """Code ``pixels`` into ``data`` (or, ``undo``, decode) with context method ``method``: what
    ``_context_code`` or ``mixed_code`` returns."""
    if method in (WARM_METHOD, PHOTO_METHOD) and pixels.shape[2] != WARM_STATE_CHANNELS:
        raise FlowzipError(f"corrupt plane data (context method {method} codes {WARM_STATE_CHANNELS} channels)")
    if method == PHOTO_METHOD:
        return photo_code(pixels, data, undo, *(a.copy() for a in photo_state()), tiny_net())
    if method == WARM_METHOD:
        return mixed_code(pixels, data, undo, *(a.copy() for a in warm_state()))
    if method == MIXED_METHODS[0]:
        return mixed_code(pixels, data, undo, *cold_state(pixels.shape[2]))
    return _context_code(pixels, data, undo, method != CONTEXT_METHODS[0])


def context_encode(pixels: np.ndarray, budget: int, method: int | None = None) -> bytes | None:
    """Context-coded data of ``pixels`` (H, W, C), the method byte first, or None if longer than ``budget``.
    By default the method is ``PHOTO_METHOD`` for three channels, else method 7."""
    if method is None:
        method = PHOTO_METHOD if pixels.shape[2] == WARM_STATE_CHANNELS else MIXED_METHODS[0]
    fast = method != CONTEXT_METHODS[0]
    out = np.empty(max(budget - 1 + fast, 0), dtype=np.uint8)
    written = _run_context_coder(pixels, out, False, method)
    if written < 0:
        return None
    if fast:  # the range coder's first byte is always 0; methods 6 to 8 leave it out, and the zeros at the end
        return bytes([method]) + out[1:written].tobytes().rstrip(b"\0")
    return bytes([method]) + out[:written].tobytes()


def context_decode(data: bytes, height: int, width: int, channels: int) -> np.ndarray:
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
