"""Method 9, the photo coder: method 7's bits under a stronger model, read from the coders ahead of JPEG XL
(``../shared/BRIEF.md``) and chosen by ``benchmarks/decisions/photo_coder.py`` (models/README.md, "Photo coder:
candidates measured"). Specified in docs/format.md ("Context-coded data", method 9).

What it adds to method 7:
- **Eight predictions** blended by their recent errors at the four causal neighbours (method 6's four, and
  N + NE - NNE, 2W - WW, 2N - NN, and the mean of W and N moved by the earlier channel's step at this pixel).
- **An LMS filter** per channel over fourteen inputs (ten causal neighbours, the earlier channels' errors at
  this pixel, two predictions), relative to the blend, that corrects it (L1codec's and NBLI's sign-LMS idea,
  normalised).
- **Four more context models**: the prediction's eighths with the sign of the earlier channel's error, under
  the activity and under the neighbours' errors weighted as paq8px weighs them; the errors at NE, N and W; and
  the learned network's scale and offset from the prediction.
- **The learned network's probability** of each bit as one more mixer input (``flowzip.learned.tiny_net``):
  the mixer learns, per context and per image, how far to trust it.
- **Two refinement stages** (APM / SSE) after the mixer, keyed on the activity and on the earlier channels'
  errors, averaged with it.
- The mixer's first weight set is chosen by the neighbours' error level, not by the activity.

It starts from the state it reaches on training photos (``flowzip.classical.state.PHOTO_STATE``), as method 8
starts from method 7's.
"""

from __future__ import annotations

import numpy as np

from flowzip.classical.contexts import ACTIVITY_CONTEXTS, bias, context_model, half_octave, learn
from flowzip.classical.lms import LMS_INPUTS, lms_correction, lms_learn
from flowzip.classical.mixer import (
    EARLIER_CONTEXTS,
    MIX_BIAS,
    MIX_INPUTS,
    MIX_SLOTS,
    MODEL_CONTEXTS,
    SIGN_SLOT,
    STRETCH,
    mix,
    model_contexts,
    squash,
    stretch_models,
    teach,
)
from flowzip.classical.predictors import context_neighbours, error_weighted, median_edge
from flowzip.classical.range_coder import RANGE, code_bit, coder_state, finish
from flowzip.jit import njit
from flowzip.learned.tiny_net import (
    CDF_BITS,
    INPUTS,
    LOG_SCALE_RANGE,
    MEAN_UNIT,
    causal,
    first_layer,
    net_forward,
)

PREDICTIONS = 8
_LMS_SHIFT = 6  # the filter's step: chosen on the training photos from 4..8
APMS = 2
APM_CELLS = 33  # a probability per 1/16 of the stretched range, interpolated
_APM_RATE = 6
# the models method 9 adds to method 7's seven (contexts per channel and slot): the prediction's eighths under
# the activity, and under the error level; the errors at NE, N and W; the network's scale and offset
_EXTRA_SIZES = (16 * ACTIVITY_CONTEXTS, 16 * 32, 8 * 8 * 8, 16 * 32)
_EXTRA_OFFSETS = np.cumsum(np.array((MODEL_CONTEXTS, *_EXTRA_SIZES[:-1]), dtype=np.int64))
PHOTO_MODELS = MIX_INPUTS + len(_EXTRA_SIZES)
PHOTO_CONTEXTS = MODEL_CONTEXTS + sum(_EXTRA_SIZES)  # per channel
PHOTO_INPUTS = PHOTO_MODELS + 1  # and the network's probability
_NET = PHOTO_MODELS  # its input
_WEIGHT_SETS = ACTIVITY_CONTEXTS + EARLIER_CONTEXTS  # per channel: by the error level, by the earlier errors
# 2^24 / (1 + e^-(z / 4)) at z = -64..64, rounded: the logistic at quarter steps from -16 to 16
# fmt: off
_LOGISTIC_KNOTS = np.array([
    2, 2, 3, 4, 5, 7, 8, 11, 14, 18, 23, 30, 38, 49, 63, 80, 103, 132, 170, 218, 280, 360, 462, 593, 762, 978,
    1256, 1612, 2070, 2658, 3413, 4382, 5626, 7224, 9274, 11906, 15285, 19621, 25186, 32325, 41484, 53229, 68286,
    87579, 112287, 143906, 184330, 235949, 301759, 385496, 491778, 626241, 795674, 1008087, 1272689, 1599699,
    1999893, 2483820, 3060592, 3736288, 4512088, 5382488, 6334081, 7345459, 8388608, 9431757, 10443135, 11394728,
    12265128, 13040928, 13716624, 14293396, 14777323, 15177517, 15504527, 15769129, 15981542, 16150975, 16285438,
    16391720, 16475457, 16541267, 16592886, 16633310, 16664929, 16689637, 16708930, 16723987, 16735732, 16744891,
    16752030, 16757595, 16761931, 16765310, 16767942, 16769992, 16771590, 16772834, 16773803, 16774558, 16775146,
    16775604, 16775960, 16776238, 16776454, 16776623, 16776754, 16776856, 16776936, 16776998, 16777046, 16777084,
    16777113, 16777136, 16777153, 16777167, 16777178, 16777186, 16777193, 16777198, 16777202, 16777205, 16777208,
    16777209, 16777211, 16777212, 16777213, 16777214, 16777214,
], dtype=np.int64)
# fmt: on
_OCTAVE_EIGHTHS = np.array([65536, 60097, 55109, 50535, 46341, 42495, 38968, 35734], dtype=np.int64)  # 2^(16 - r/8)
_FULL = 1 << 16  # not a residual: the output is full


@njit(nogil=True, inline="always")
def _inverse_scale(log_scale: int) -> int:
    """2^(24 - log_scale / 8), for log_scale in ``LOG_SCALE_RANGE``, from eight constants and shifts."""
    octave, eighth = log_scale >> 3, log_scale & 7
    return (_OCTAVE_EIGHTHS[eighth] << 13) >> (octave - (LOG_SCALE_RANGE[0] >> 3))


@njit(nogil=True, inline="always")
def _cdf(twice_edge: int, mean: int, inverse_scale: int) -> int:
    """The network's logistic (mean in 1/32 of a level) at edge ``twice_edge / 2``, in units of 2^-24, the end
    bins taking the tails of 0..255."""
    if twice_edge < 0:
        return 0
    if twice_edge > 510:
        return 1 << CDF_BITS
    z = min(max(((16 * twice_edge - mean) * inverse_scale) >> 21, -4095), 4095) + 4096  # 1/256 of a scale
    lo, t = z >> 6, z & 63
    return (_LOGISTIC_KNOTS[lo] * (64 - t) + _LOGISTIC_KNOTS[lo + 1] * t + 32) >> 6


@njit(nogil=True, inline="always")
def _net_one(slot: int, p: int, negative: int, top: int, length: int, q: int, mean: int, inverse_scale: int) -> int:
    """The probability under the network's logistic, in 1/4096 (1..4095), that the bit of ``slot`` is 1, given
    the bits before it: the prediction ``p``, the sign, and for the bits below the top one (the ``q``-th of
    ``length``) the magnitude's bits so far, ``top``."""
    full = 1 << CDF_BITS
    if slot == 0:  # nonzero
        num, den = full - _cdf(2 * p + 1, mean, inverse_scale) + _cdf(2 * p - 1, mean, inverse_scale), full
    elif slot == SIGN_SLOT:  # negative, given nonzero
        num = _cdf(2 * p - 1, mean, inverse_scale)
        den = num + full - _cdf(2 * p + 1, mean, inverse_scale)
    elif slot < 8:  # |e| >= 2^slot, given |e| >= 2^(slot - 1)
        lo, hi = 1 << (slot - 1), 1 << slot
        if negative:
            num, den = _cdf(2 * (p - hi) + 1, mean, inverse_scale), _cdf(2 * (p - lo) + 1, mean, inverse_scale)
        else:
            num = full - _cdf(2 * (p + hi) - 1, mean, inverse_scale)
            den = full - _cdf(2 * (p + lo) - 1, mean, inverse_scale)
    else:  # the upper half of what is left
        half = 2 << (length - q - 1)  # twice the half's width
        edge = 2 * (p - (top << (length - q))) + 1 if negative else 2 * (p + (top << (length - q))) - 1
        step = -half if negative else half
        first = _cdf(edge, mean, inverse_scale)
        middle = _cdf(edge + step, mean, inverse_scale)
        num = abs(_cdf(edge + 2 * step, mean, inverse_scale) - middle)
        den = num + abs(middle - first)
    if den <= 0:
        return 2048
    return min(max((num << 12) // den, 1), 4095)


@njit(nogil=True, inline="always")
def _photo_bit(
    state: np.ndarray,
    data: np.ndarray,
    undo: bool,
    bit: int,
    slot: int,
    model: tuple,
    net_one: int,
) -> int:
    """Code (or, ``undo``, decode) one bit in ``slot``: the models' probabilities ``probs[contexts[z], slot]``
    and the network's ``net_one`` (0: none), mixed with the weight sets ``weights[rows[0]]`` and
    ``weights[rows[1]]`` as ``mixer.mixed_bit`` mixes, then refined by the two stages ``apm[s, keys[s] +
    slot]``; then teach all of them the bit. ``model``: (probs, contexts, weights, rows, inputs, apm, keys).
    Returns the bit, or -1 if ``data`` is full."""
    probs, contexts, weights, rows, inputs, apm, keys = model
    stretch_models(probs, contexts, slot, inputs, PHOTO_MODELS)
    inputs[_NET] = STRETCH[net_one] if net_one else 0
    inputs[PHOTO_INPUTS] = MIX_BIAS
    mixed_stretch = mix(weights, rows, slot, inputs, PHOTO_INPUTS + 1)
    mixed = min(max(squash(mixed_stretch), 1), 4095)
    stretched = min(max(mixed_stretch, -2047), 2047) + 2048
    cell, t = stretched >> 7, stretched & 127
    refined = 2 * mixed
    for s in range(APMS):
        row = apm[s, keys[s] + slot]
        refined += (row[cell] * (128 - t) + row[cell + 1] * t) >> 11
    final = min(max((refined + 2) >> 2, 1), 4095)
    bit = code_bit(state, data, undo, bit, (state[RANGE] >> 12) * (4096 - final))
    if bit < 0:
        return -1
    nearer = cell + int(t >= 64)
    for s in range(APMS):
        row = apm[s, keys[s] + slot]
        row[nearer] += ((bit << 16) - row[nearer]) >> _APM_RATE
    teach(probs, contexts, weights, rows, inputs, slot, bit, mixed, PHOTO_INPUTS + 1, PHOTO_MODELS)
    return bit


@njit(nogil=True)
def _photo_residual(
    state: np.ndarray,
    data: np.ndarray,
    undo: bool,
    e: int,
    p: int,
    model: tuple,
    sign_context: int,
    mean: int,
    inverse_scale: int,
    use_net: bool,
) -> int:
    """Code (or decode) residual ``e`` of prediction ``p`` as method 6's bits, each by ``_photo_bit``; model 0
    codes the sign under ``sign_context``. ``model``: ``_photo_bit``'s.
    Returns the residual, or ``_FULL``."""
    contexts = model[1]
    magnitude = abs(e)
    one = _net_one(0, p, 0, 0, 0, 0, mean, inverse_scale) if use_net else 0
    nonzero = _photo_bit(state, data, undo, int(magnitude != 0), 0, model, one)
    if nonzero <= 0:
        return _FULL if nonzero < 0 else 0
    activity_context = contexts[0]
    contexts[0] = sign_context
    one = _net_one(SIGN_SLOT, p, 0, 0, 0, 0, mean, inverse_scale) if use_net else 0
    negative = _photo_bit(state, data, undo, int(e < 0), SIGN_SLOT, model, one)
    contexts[0] = activity_context
    if negative < 0:
        return _FULL
    length = 0
    if not undo:
        while magnitude >> (length + 1):
            length += 1
    known = length
    length = 0
    for t in range(7):  # the unary length: ones then a zero, no zero after 7
        one = _net_one(1 + t, p, negative, 0, 0, 0, mean, inverse_scale) if use_net else 0
        more = _photo_bit(state, data, undo, int(t < known), 1 + t, model, one)
        if more < 0:
            return _FULL
        if more == 0:
            break
        length += 1
    m = 1
    for q in range(length):
        one = _net_one(8, p, negative, m, length, q, mean, inverse_scale) if use_net else 0
        bit = _photo_bit(state, data, undo, (magnitude >> (length - 1 - q)) & 1, 8 + 8 * length + q, model, one)
        if bit < 0:
            return _FULL
        m = (m << 1) | bit
    return -m if negative else m


@njit(nogil=True, inline="always")
def eight_predictions(
    pixels: np.ndarray, i: int, j: int, k: int, neighbours: tuple[int, int, int, int], predictions: np.ndarray
) -> None:
    """The eight predictions of subpixel (i, j, k), in eighths of a level, into ``predictions``."""
    a, b, c, d = neighbours
    ww = causal(pixels, i, j, k, 0, -2, a) if j > 1 else a
    nn = causal(pixels, i, j, k, -2, 0, b) if i > 1 else b
    nne = causal(pixels, i, j, k, -2, 1, d) if i > 1 else d
    predictions[0] = 8 * median_edge(a, b, c)
    predictions[1] = 4 * (a + b)
    predictions[2] = 8 * (a + b - c)
    predictions[3] = 4 * (b + d + a - c)
    predictions[4] = 8 * (b + d - nne)
    predictions[5] = 8 * (2 * a - ww)
    predictions[6] = 8 * (2 * b - nn)
    if k > 0:  # the mean of W and N moved by the earlier channel's step from its own W and N here
        left = np.int64(pixels[i, j - 1, k - 1]) if j > 0 else np.int64(pixels[i - 1, j, k - 1]) if i > 0 else 0
        above = np.int64(pixels[i - 1, j, k - 1]) if i > 0 else left
        predictions[7] = 4 * (a + b) + 2 * (2 * np.int64(pixels[i, j, k - 1]) - left - above)
    else:
        predictions[7] = 4 * (a + d)


@njit(nogil=True)
def photo_code(
    pixels: np.ndarray,
    data: np.ndarray,
    undo: bool,
    probs: np.ndarray,
    weights: np.ndarray,
    sums: np.ndarray,
    counts: np.ndarray,
    apm: np.ndarray,
    lms: np.ndarray,
    net: tuple,
    use_net: bool = True,
) -> int:
    """Method 9: code ``pixels`` (H, W, C) into ``data`` (or, ``undo``, decode), starting from (and updating in
    place) the state ``probs .. lms`` (a ``PhotoState``), with the network ``net`` (a ``TinyNetWeights``).
    Returns what ``context_coder.mixed_code`` returns. ``use_net`` False leaves the network out (its input 0,
    its model the predictions' spread): a measurement of what it adds, not a method."""
    h, w, channels = pixels.shape
    w1, b1, w2, b2 = net
    layer1 = first_layer(w1, b1)
    rows = np.zeros(2, dtype=np.int64)
    keys = np.zeros(APMS, dtype=np.int64)
    errors = np.zeros((h, w, channels), dtype=np.int32)
    signed = np.zeros(channels, dtype=np.int64)  # this pixel's errors so far, by channel
    residuals = np.zeros(channels, dtype=np.int64)  # and those of the blend corrected by the filter
    step_errors = np.zeros((2, w, channels, PREDICTIONS), dtype=np.int64)  # this row and the last
    predictions = np.zeros(PREDICTIONS, dtype=np.int64)
    lms_in = np.zeros(LMS_INPUTS, dtype=np.int64)
    net_scratch = (np.zeros(INPUTS, dtype=np.int32), np.zeros(w1.shape[0], dtype=np.int32))
    contexts = np.zeros(PHOTO_MODELS, dtype=np.int64)
    inputs = np.zeros(PHOTO_INPUTS + 1, dtype=np.int64)
    by_set = weights.reshape(channels * _WEIGHT_SETS, MIX_SLOTS, PHOTO_INPUTS + 1)  # every channel's sets
    model = (probs, contexts, by_set, rows, inputs, apm, keys)
    state = coder_state(data, undo, True)
    for i in range(h):
        for j in range(w):
            for k in range(channels):
                neighbours = context_neighbours(pixels, i, j, k)
                a, b, c, d = neighbours
                ctx, bias_ctx = context_model(a, b, c, d, i, j, k, errors)
                eight_predictions(pixels, i, j, k, neighbours, predictions)
                weighted, weight_sum = error_weighted(i, j, k, predictions, step_errors)
                blend = (weighted + weight_sum // 2) // weight_sum  # in eighths
                corrected, norm = lms_correction(
                    pixels, i, j, k, a, blend, residuals, predictions[0], predictions[2], lms, lms_in, 64
                )  # in eighths
                pred = min(max((corrected + 4) >> 3, 0), 255)
                p = (pred + bias(sums, counts, k, bias_ctx)) & 255
                base = k * PHOTO_CONTEXTS
                earlier = model_contexts(
                    contexts, errors, signed, i, j, k, neighbours, ctx, bias_ctx, pred, predictions[0] // 8, base
                )
                err_w = errors[i, j - 1, k] if j > 0 else 0
                err_n = errors[i - 1, j, k] if i > 0 else 0
                err_nw = errors[i - 1, j - 1, k] if i > 0 and j > 0 else 0
                err_ne = errors[i - 1, j + 1, k] if i > 0 and j + 1 < w else 0
                err_ww = errors[i, j - 2, k] if j > 1 else 0
                err_nn = errors[i - 2, j, k] if i > 1 else 0
                level = half_octave(2 * err_w + 2 * err_n + err_nw + err_ne + err_ww + err_nn, 31)
                fraction = 2 * (corrected & 7) + int((signed[k - 1] if k > 0 else 0) > 0)
                contexts[MIX_INPUTS] = 16 * ctx + fraction
                contexts[MIX_INPUTS + 1] = 16 * level + fraction
                contexts[MIX_INPUTS + 2] = 64 * half_octave(err_ne, 7) + 8 * half_octave(err_n, 7)
                contexts[MIX_INPUTS + 2] += half_octave(err_w, 7)
                mean, inverse_scale = 0, 0
                if use_net:
                    mean, log_scale = net_forward(pixels, i, j, k, layer1, w2, b2, net_scratch)
                    inverse_scale = _inverse_scale(log_scale)
                    scale_level = min(max((3 * log_scale >> 3) + 9, 0), 31)
                    offset = min(max(((mean - MEAN_UNIT * p) >> 4) + 8, 0), 15)
                    contexts[MIX_INPUTS + 3] = 16 * scale_level + offset
                else:
                    lowest, highest = predictions[0], predictions[0]
                    for q in range(PREDICTIONS):
                        lowest, highest = min(lowest, predictions[q]), max(highest, predictions[q])
                    contexts[MIX_INPUTS + 3] = 16 * half_octave((highest - lowest) >> 2, 15) + min(ctx // 2, 15)
                for z in range(len(_EXTRA_SIZES)):
                    contexts[MIX_INPUTS + z] += base + _EXTRA_OFFSETS[z]
                rows[0] = k * _WEIGHT_SETS + min(level, ACTIVITY_CONTEXTS - 1)
                rows[1] = k * _WEIGHT_SETS + ACTIVITY_CONTEXTS + earlier
                keys[0] = (k * EARLIER_CONTEXTS + ctx) * MIX_SLOTS
                keys[1] = (k * EARLIER_CONTEXTS + earlier) * MIX_SLOTS
                e = 0 if undo else ((np.int64(pixels[i, j, k]) - p + 128) & 255) - 128
                e = _photo_residual(state, data, undo, e, p, model, base + bias_ctx, mean, inverse_scale, use_net)
                if e == _FULL:
                    return -1
                if undo:
                    pixels[i, j, k] = (p + e) & 255
                x = np.int64(pixels[i, j, k])
                learn(sums, counts, errors, i, j, k, bias_ctx, e)
                signed[k] = e
                residuals[k] = x - ((corrected + 4) >> 3)
                for q in range(PREDICTIONS):
                    step_errors[i & 1, j, k, q] = abs(8 * x - predictions[q])
                lms_learn(lms, k, lms_in, 8 * x - corrected, 256, norm, _LMS_SHIFT)
    return finish(state, data, undo, True)
