"""The binary range coder (LZMA's) with adaptive probabilities: method 5's (11-bit, shift 5) and methods 6 to 8's
(15-bit, a shift that grows as a probability sees more bits, and a stream that leaves out its first byte and
the zeros it ends in)."""

from __future__ import annotations

import numpy as np

from flowzip.jit import njit

PROB_BITS = (11, 15)  # by version: probabilities (of a 0) in units of 2**-bits
_ADAPT_SHIFT = 5  # method 5: every probability moves 1/32 of the way to the bit seen
_ADAPT_SHIFT_START, _ADAPT_SHIFT_END, _ADAPT_SHIFT_EVERY = 3, 6, 8  # method 6: 1/8 at first, 1/64 after 24 bits
_TOP = 1 << 24


@njit(nogil=True)
def shift_low(state: np.ndarray, out: np.ndarray) -> bool:
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
def adapt(probs: np.ndarray, slot: int, bit: int, fast: bool) -> None:
    """Move the probability ``probs[slot, 0]`` of a 0 towards ``bit``: by 1/32 (method 5), or (``fast``, method
    6) by 2**-shift with a shift that grows by one every 8 bits the slot has seen (counted in ``probs[slot, 1]``)."""
    prob_one = 1 << PROB_BITS[1 if fast else 0]
    shift = _ADAPT_SHIFT
    if fast:
        seen = probs[slot, 1]
        shift = min(_ADAPT_SHIFT_START + seen // _ADAPT_SHIFT_EVERY, _ADAPT_SHIFT_END)
        probs[slot, 1] = min(seen + 1, _ADAPT_SHIFT_EVERY * (_ADAPT_SHIFT_END - _ADAPT_SHIFT_START))
    prob = probs[slot, 0]
    probs[slot, 0] = prob + ((prob_one - prob) >> shift) if bit == 0 else prob - (prob >> shift)


@njit(nogil=True)
def encode_bit(state: np.ndarray, out: np.ndarray, probs: np.ndarray, slot: int, bit: int, fast: bool) -> bool:
    """Code one bit under the adaptive probability ``probs[slot, 0]`` (of a 0), then adapt it."""
    bound = (state[1] >> PROB_BITS[1 if fast else 0]) * probs[slot, 0]
    adapt(probs, slot, bit, fast)
    return encode_bound(state, out, bound, bit)


@njit(nogil=True)
def encode_bound(state: np.ndarray, out: np.ndarray, bound: int, bit: int) -> bool:
    """Code one bit: a 0 keeps the range's first ``bound``, a 1 the rest; False if ``out`` is full."""
    if bit == 0:
        state[1] = bound
    else:
        state[0] += bound
        state[1] -= bound
    while state[1] < _TOP:
        state[1] <<= 8
        if not shift_low(state, out):
            return False
    return True


@njit(nogil=True)
def decode_bit(state: np.ndarray, data: np.ndarray, probs: np.ndarray, slot: int, fast: bool) -> int:
    """The mirror of ``encode_bit``; ``state`` is (code, range, bytes read). Past the end, data reads as 0."""
    bit = decode_bound(state, data, (state[1] >> PROB_BITS[1 if fast else 0]) * probs[slot, 0])
    adapt(probs, slot, bit, fast)
    return bit


@njit(nogil=True)
def decode_bound(state: np.ndarray, data: np.ndarray, bound: int) -> int:
    """The mirror of ``encode_bound``: the bit, 0 if the code value lies in the range's first ``bound``."""
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
def fewest_bytes(state: np.ndarray) -> None:
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
def coder_state(data: np.ndarray, undo: bool, fast: bool) -> np.ndarray:
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
