"""The binary range coder (LZMA's) with adaptive probabilities: method 5's (11-bit, shift 5) and methods 6 to 8's
(15-bit, a shift that grows as a probability sees more bits, and a stream that leaves out its first byte and
the zeros it ends in)."""

from __future__ import annotations

import numpy as np

from flowzip.jit import njit

# An encoder's state is an int64 array (numba compiles its loops over arrays) of these fields: low, range, the
# byte held back for a carry, how many bytes it stands for, and the bytes written
LOW, RANGE, CACHE, CACHE_SIZE, WRITTEN = 0, 1, 2, 3, 4
# a decoder's: the code value, the range (at the encoder's index) and the bytes read
CODE, READ = 0, 2
PROB_BITS = (11, 15)  # by version: probabilities (of a 0) in units of 2**-bits
_ADAPT_SHIFT = 5  # method 5: every probability moves 1/32 of the way to the bit seen
_ADAPT_SHIFT_START, _ADAPT_SHIFT_END, _ADAPT_SHIFT_EVERY = 3, 6, 8  # method 6: 1/8 at first, 1/64 after 24 bits
_TOP = 1 << 24


@njit(nogil=True)
def shift_low(state: np.ndarray, out: np.ndarray) -> bool:
    """LZMA's ShiftLow: move the top byte of ``low`` out, settling a carry; False if ``out`` is full."""
    low = state[LOW]
    if low < 0xFF000000 or low >= 1 << 32:
        carry, temp = low >> 32, state[CACHE]
        while True:
            if state[WRITTEN] >= len(out):
                return False
            out[state[WRITTEN]] = (temp + carry) & 0xFF
            state[WRITTEN] += 1
            temp = 0xFF
            state[CACHE_SIZE] -= 1
            if state[CACHE_SIZE] == 0:
                break
        state[CACHE] = (low >> 24) & 0xFF
    state[CACHE_SIZE] += 1
    state[LOW] = (low & 0x00FFFFFF) << 8
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
def code_bit(state: np.ndarray, data: np.ndarray, undo: bool, bit: int, bound: int) -> int:
    """Code ``bit`` into ``data`` (or, ``undo``, decode one from it): a 0 keeps the range's first ``bound``, a 1
    the rest. Returns the bit, or -1 if ``data`` is full. An encoder's ``state`` is (low, range, cache, cache
    size, bytes written); a decoder's (code, range, bytes read), and past the end of ``data`` it reads zeros."""
    if undo:
        if state[CODE] < bound:
            state[RANGE] = bound
            bit = 0
        else:
            state[CODE] -= bound
            state[RANGE] -= bound
            bit = 1
        while state[RANGE] < _TOP:
            state[RANGE] <<= 8
            state[CODE] = ((state[CODE] << 8) | (data[state[READ]] if state[READ] < len(data) else 0)) & 0xFFFFFFFF
            state[READ] += 1
        return bit
    if bit == 0:
        state[RANGE] = bound
    else:
        state[LOW] += bound
        state[RANGE] -= bound
    while state[RANGE] < _TOP:
        state[RANGE] <<= 8
        if not shift_low(state, data):
            return -1
    return bit


@njit(nogil=True)
def code_adaptive_bit(
    state: np.ndarray, data: np.ndarray, undo: bool, bit: int, probs: np.ndarray, slot: int, fast: bool
) -> int:
    """``code_bit`` under the adaptive probability ``probs[slot, 0]`` of a 0, then ``adapt`` it to the bit."""
    bit = code_bit(state, data, undo, bit, (state[RANGE] >> PROB_BITS[1 if fast else 0]) * probs[slot, 0])
    if bit >= 0:
        adapt(probs, slot, bit, fast)
    return bit


@njit(nogil=True)
def fewest_bytes(state: np.ndarray) -> None:
    """Before the flush (method 6): replace ``low`` by the number in [low, low + range) with the most trailing
    zero bits, so that the flushed bytes end in zeros, which the stream leaves out (the decoder reads 0 past
    the end)."""
    low, high = state[LOW], state[LOW] + state[RANGE]
    for k in range(32, -1, -1):
        v = ((low + (1 << k) - 1) >> k) << k
        if v < high:
            state[LOW] = v
            return


@njit(nogil=True)
def encoder_state() -> np.ndarray:
    """A new encoder's state: low 0, range 2^32 - 1, no cached byte (the first one written is always 0)."""
    state = np.zeros(5, dtype=np.int64)
    state[RANGE], state[CACHE_SIZE] = 0xFFFFFFFF, 1
    return state


@njit(nogil=True)
def decoder_state(data: np.ndarray, fast: bool) -> np.ndarray:
    """A new decoder's state, its code value read from the data's first bytes: five, the first always 0, as in
    LZMA; or (``fast``, methods 6 to 8) four, that 0 left out of the data."""
    state = np.zeros(3, dtype=np.int64)
    state[RANGE] = 0xFFFFFFFF
    for _ in range(4 if fast else 5):
        state[CODE] = ((state[CODE] << 8) | (data[state[READ]] if state[READ] < len(data) else 0)) & 0xFFFFFFFF
        state[READ] += 1
    return state


@njit(nogil=True)
def coder_state(data: np.ndarray, undo: bool, fast: bool) -> np.ndarray:
    """``decoder_state`` to decode (``undo``), else ``encoder_state``."""
    return decoder_state(data, fast) if undo else encoder_state()


@njit(nogil=True)
def finish(state: np.ndarray, data: np.ndarray, undo: bool, fast: bool) -> int:
    """The end of a stream: for a decoder, the bytes it read (past the end too); for an encoder, the flush of its
    last bytes (``fast``: after ``fewest_bytes``), then the bytes written, or -1 if ``data`` is full."""
    if undo:
        return state[READ]
    if fast:
        fewest_bytes(state)
    for _ in range(5):
        if not shift_low(state, data):
            return -1
    return state[WRITTEN]
