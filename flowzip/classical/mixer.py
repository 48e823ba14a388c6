"""The mixing of methods 7 and 8: seven context models' probabilities, stretched, weighted by weight vectors
chosen by context and learnt online along the gradient of the code length, squashed back (the PAQ coders' way).
Integers throughout, so the decoder repeats it exactly."""

from __future__ import annotations

import numpy as np

from flowzip.classical.contexts import ACTIVITY_CONTEXTS, BITS_PER_CONTEXT, SHAPES, half_octave
from flowzip.classical.range_coder import PROB_BITS, RANGE, adapt, code_bit
from flowzip.jit import njit

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
SIGN_SLOT = BITS_PER_CONTEXT  # the sign bit has a slot of its own
MIX_SLOTS = BITS_PER_CONTEXT + 1
ERROR_STEPS = 5  # an earlier channel's error at this pixel: -5..5, its sign times half_octave of its magnitude
EARLIER_CONTEXTS = (2 * ERROR_STEPS + 1) ** 2  # the two earlier channels' errors
_MODEL_SIZES = (  # contexts of each model (per channel and slot)
    ACTIVITY_CONTEXTS * SHAPES,  # method 6's: the activity, or the bias context for the sign
    ACTIVITY_CONTEXTS * SHAPES,  # the bias context
    8 * 8 * 8,  # the errors at the left, above and above left
    12 * 10,  # the previous channel's error here, and the activity
    16 * 8,  # the blend's distance from the median edge detector, and the error at the left
    ACTIVITY_CONTEXTS * EARLIER_CONTEXTS,  # the activity and the earlier channels' errors here
    64 * 8,  # the texture: which of six neighbours and gradients lie above the prediction, and the activity
)


MODEL_OFFSETS = np.cumsum(np.array((0, *_MODEL_SIZES[:-1]), dtype=np.int64))
MODEL_CONTEXTS = sum(_MODEL_SIZES)  # per channel
MIX_INPUTS = len(_MODEL_SIZES)
MIX_RATE = 10  # a weight moves by input * (bit * 4096 - p) * rate / 2^14 (weights in units of 2^-16)
MIX_BIAS = 77  # a constant input (0.3 in stretch units of 1/256)


def _stretch_table() -> np.ndarray:
    """stretch[p] for p = 0..4095: the least x in -2047..2047 with squash(x) >= p (2047 if none), the inverse
    of ``squash``; integers only, so every platform builds the same table."""
    table = np.full(4096, 2047, dtype=np.int64)
    p = 0
    for x in range(-2047, 2048):
        v = squash.py_func(x)  # the Python function: nothing to compile or load at import
        table[p : v + 1] = x
        p = max(p, v + 1)
    return table


@njit(nogil=True)
def squash(x: int) -> int:
    """4096 / (1 + e^(-x / 256)), interpolated linearly between the knots, for x clamped to -2047..2047."""
    x = min(max(x, -2047), 2047) + 2048
    lo, t = x >> 7, x & 127
    return (_SQUASH_KNOTS[lo] * (128 - t) + _SQUASH_KNOTS[lo + 1] * t + 64) >> 7


STRETCH = _stretch_table()


@njit(nogil=True)
def signed_step(e: int) -> int:
    """An error as one of 2 ERROR_STEPS + 1 steps, 0..2 ERROR_STEPS: its sign and quantised magnitude."""
    q = half_octave(abs(e), ERROR_STEPS)
    return ERROR_STEPS + (q if e >= 0 else -q)


@njit(nogil=True, inline="always")
def model_contexts(
    contexts: np.ndarray,
    errors: np.ndarray,
    signed: np.ndarray,
    i: int,
    j: int,
    k: int,
    neighbours: tuple[int, int, int, int],
    ctx: int,
    bias_ctx: int,
    pred: int,
    median: int,
    base: int,
) -> int:
    """The seven models' contexts of subpixel (i, j, k) into ``contexts[:MIX_INPUTS]``, each offset by ``base +
    MODEL_OFFSETS[z]``, from its neighbours (a, b, c, d), activity and bias contexts, prediction ``pred``, the
    median edge detector's ``median``, the error map and the earlier channels' errors at this pixel
    (``signed``). Returns the context of those errors, which also chooses the mixer's second weight set."""
    a, b, c, d = neighbours
    left = half_octave(errors[i, j - 1, k], 7) if j > 0 else 0
    above = half_octave(errors[i - 1, j, k], 7) if i > 0 else 0
    above_left = half_octave(errors[i - 1, j - 1, k], 7) if i > 0 and j > 0 else 0
    previous = half_octave(errors[i, j, k - 1], 11) if k > 0 else 0
    gap = half_octave(abs(pred - median), 15)
    earlier = (2 * ERROR_STEPS + 1) * signed_step(signed[k - 1] if k > 0 else 0)
    earlier += signed_step(signed[k - 2] if k > 1 else 0)
    texture = int(a > pred) + 2 * int(b > pred) + 4 * int(c > pred) + 8 * int(d > pred)
    texture += 16 * int(2 * a - c > pred) + 32 * int(2 * b - c > pred)
    contexts[0] = ctx
    contexts[1] = bias_ctx
    contexts[2] = 64 * left + 8 * above + above_left
    contexts[3] = 10 * previous + min(ctx // 2, 9)
    contexts[4] = 8 * gap + left
    contexts[5] = EARLIER_CONTEXTS * ctx + earlier
    contexts[6] = 8 * texture + min(ctx // 3, 7)
    for z in range(MIX_INPUTS):
        contexts[z] += base + MODEL_OFFSETS[z]
    return earlier


@njit(nogil=True, inline="always")
def stretch_models(probs: np.ndarray, contexts: np.ndarray, slot: int, inputs: np.ndarray, models: int) -> None:
    """The first ``models`` models' probabilities of a 1 in ``slot``, stretched, into ``inputs[:models]``."""
    for z in range(models):
        one = (1 << PROB_BITS[1]) - probs[contexts[z], slot, 0]
        inputs[z] = STRETCH[min(max(one >> 3, 1), 4095)]


@njit(nogil=True, inline="always")
def mix(weights: np.ndarray, rows: np.ndarray, slot: int, inputs: np.ndarray, size: int) -> int:
    """The mix of ``inputs[:size]`` under the sum of the weight vectors ``weights[rows[0], slot]`` and
    ``weights[rows[1], slot]``, in stretch units (squash it for the probability of a 1). ``size`` is a constant
    of the caller's: numba compiles a loop of known length to faster code than one over ``inputs.shape[0]``."""
    dot = 0
    for z in range(size):
        dot += (weights[rows[0], slot, z] + weights[rows[1], slot, z]) * inputs[z]
    return dot >> 17


@njit(nogil=True, inline="always")
def teach(
    probs: np.ndarray,
    contexts: np.ndarray,
    weights: np.ndarray,
    rows: np.ndarray,
    inputs: np.ndarray,
    slot: int,
    bit: int,
    p: int,
    size: int,
    models: int,
) -> None:
    """After ``bit`` was coded in ``slot`` under the mixed probability ``p`` of a 1 (in 2^-12): move both weight
    vectors along the gradient of its code length (``inputs[:size]``, as ``mix``), and the first ``models``
    models' probabilities to it."""
    error = ((bit << 12) - p) * MIX_RATE
    for z in range(size):
        step = (inputs[z] * error + (1 << 13)) >> 14
        weights[rows[0], slot, z] += step
        weights[rows[1], slot, z] += step
    for z in range(models):
        adapt(probs[contexts[z]], slot, bit, True)


@njit(nogil=True)
def mixed_bit(
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
    stretch_models(probs, contexts, slot, inputs, MIX_INPUTS)
    inputs[MIX_INPUTS] = MIX_BIAS
    p = min(max(squash(mix(weights, rows, slot, inputs, MIX_INPUTS + 1)), 1), 4095)  # of a 1, in units of 2^-12
    bit = code_bit(state, data, undo, bit, (state[RANGE] >> 12) * (4096 - p))
    if bit >= 0:
        teach(probs, contexts, weights, rows, inputs, slot, bit, p, MIX_INPUTS + 1, MIX_INPUTS)
    return bit
