"""Samples of more than 8 bits (16-bit PNG, TIFF, PGM and PPM): a plane (one channel) or an RGB array (three) of
uint16 samples, coded in one section (``docs/format.md``, "Deep sections").

A form byte says how. Many 16-bit images hold only 8 bits of information: an 8-bit image converted by x 257
(the high byte repeated), or shifted left (low bits always zero, as 10- and 12-bit cameras write). Those are
coded as the 8-bit arrays they are, by the 8-bit coder (``plane``, ``rgb``), so that they cost what the 8-bit
image costs. Samples with more bits (after the common zero low bits are shifted out) go to the deep context
coder below: method 7's design (``mixer``) with contexts and residual bits sized to the samples' bits. A
section the coder would make longer than the samples themselves stores them raw.
"""

from __future__ import annotations

import lzma

import numpy as np

from flowzip.classical.contexts import SHAPES, bias, half_octave, learn
from flowzip.classical.lms import LMS_INPUTS, lms_correction, lms_learn
from flowzip.classical.lzma_coder import lzma_compress, lzma_filters
from flowzip.classical.methods import DEEP_FORMS, DEEP_TRANSFORMS
from flowzip.classical.mixer import MIX_INPUTS, mixed_bit
from flowzip.classical.plane import decode_plane, encode_plane
from flowzip.classical.predictors import context_neighbours, error_weighted, median_edge
from flowzip.classical.range_coder import PROB_BITS, code_adaptive_bit, coder_state, finish
from flowzip.classical.rgb import decode_rgb, encode_rgb
from flowzip.classical.transforms import CENTRE, add_green, subtract_green
from flowzip.errors import FlowzipError
from flowzip.jit import njit

MAX_BITS = 16
_LEVELS = MAX_BITS + 1  # a quantity quantised by its bit length, 0..16
ACTIVITY = 2 * MAX_BITS + 2  # half_octave of the local gradients and errors, 0..33
_STEPS = 9  # an earlier channel's error here: its sign and half its bit length, -8..8
EARLIER = (2 * _STEPS - 1) ** 2  # the two earlier channels' errors
_MODEL_SIZES = (
    ACTIVITY * SHAPES,  # the activity, or the bias context for the sign
    ACTIVITY * SHAPES,  # the bias context
    _LEVELS**3,  # the errors at the left, above and above left
    _LEVELS * _LEVELS,  # the previous channel's error here, and half the activity
    _LEVELS * _LEVELS,  # the blend's distance from the median edge detector, and the error at the left
    ACTIVITY * EARLIER,  # the activity and the earlier channels' errors here
    64 * 16,  # the texture: which of six neighbours and gradients lie above the prediction, and the level
)
_OFFSETS = np.cumsum(np.array((0, *_MODEL_SIZES[:-1]), dtype=np.int64))
DEEP_CONTEXTS = sum(_MODEL_SIZES)  # per channel
# the bits of a residual, by slot: 0 its bit length at least the expected one, then how many steps further above
# (1 + step) or below (18 + step), the three mantissa bits below the leading one by length (35 + 3 length + q),
# the lower ones by length (86 + length), and the sign
_ABOVE, _BELOW = 1, 1 + _LEVELS
_MANTISSA = _BELOW + _LEVELS
_LOW_MANTISSA = _MANTISSA + 3 * _LEVELS
SIGN_SLOT = _LOW_MANTISSA + _LEVELS
DEEP_SLOTS = SIGN_SLOT + 1
_FULL = 1 << 20  # not a residual: the output is full
_TABLE_BYTES = (1 << MAX_BITS) // 8  # the "indexed" form's table: a bit for each value, set where it occurs


@njit(nogil=True)
def _bit_length(v: int) -> int:
    n = 0
    while v >> n:
        n += 1
    return n


_PREDICTIONS = 6
_LMS_SHIFT = 8  # the LMS filter's step (the photo coder's is 6): chosen on Set14 from 6..10


@njit(nogil=True, inline="always")
def _blend(a: int, b: int, c: int, d: int, i: int, j: int, k: int, sub_errors: np.ndarray, sub: np.ndarray) -> int:
    """Method 6's four predictions (``predictors.blended_prediction``) and two smoother ones, the mean of the
    four neighbours and of left and above right, weighted by their recent errors (``error_weighted``), in eighths
    of a level."""
    sub[0] = 8 * median_edge(a, b, c)
    sub[1] = 4 * (a + b)
    sub[2] = 8 * (a + b - c)
    sub[3] = 4 * (b + d + a - c)
    sub[4] = 2 * (a + b + c + d)
    sub[5] = 4 * (a + d)
    total, weights = error_weighted(i, j, k, sub, sub_errors)
    return (total + weights // 2) // weights


@njit(nogil=True)
def _signed_step(e: int) -> int:
    q = (_bit_length(abs(e)) + 1) >> 1
    return _STEPS - 1 + (q if e >= 0 else -q)


@njit(nogil=True)
def _deep_residual(
    state: np.ndarray,
    data: np.ndarray,
    undo: bool,
    e: int,
    bits: int,
    expected: int,
    probs: np.ndarray,
    contexts: np.ndarray,
    weights: np.ndarray,
    rows: np.ndarray,
    inputs: np.ndarray,
    sign_context: int,
) -> int:
    """Code (or decode) residual ``e`` of ``bits``-bit samples: the bit length L of its magnitude (0 for e = 0)
    against the ``expected`` one (0 … bits): whether L >= expected (not coded where expected is 0), then in unary
    how far above it or below it L lies (as JPEG-LS's Golomb parameter saves the unary bits of long residuals);
    the sign (model 0 under ``sign_context``); the bits below the leading one. Returns the residual, or
    ``_FULL``."""
    magnitude = abs(e)
    length = 0 if undo else _bit_length(magnitude)
    at_least = 1
    if expected > 0:
        at_least = mixed_bit(state, data, undo, int(length >= expected), probs, contexts, weights, rows, inputs, 0)
        if at_least < 0:
            return _FULL
    found = expected if at_least else expected - 1
    step = 0
    while (found < bits) if at_least else (found > 0):  # further from the expected length, one step a bit
        slot = (_ABOVE if at_least else _BELOW) + step
        further = int(length > found) if at_least else int(length < found)
        further = mixed_bit(state, data, undo, further, probs, contexts, weights, rows, inputs, slot)
        if further < 0:
            return _FULL
        if not further:
            break
        found += 1 if at_least else -1
        step += 1
    length = found
    if length == 0:
        return 0
    activity_context = contexts[0]
    contexts[0] = sign_context
    negative = mixed_bit(state, data, undo, int(e < 0), probs, contexts, weights, rows, inputs, SIGN_SLOT)
    contexts[0] = activity_context
    if negative < 0:
        return _FULL
    m = 1
    for q in range(length - 1):
        bit = (magnitude >> (length - 2 - q)) & 1
        if q < 3:
            bit = mixed_bit(state, data, undo, bit, probs, contexts, weights, rows, inputs, _MANTISSA + 3 * length + q)
        else:  # nearly noise: model 0's probability alone, unmixed
            bit = code_adaptive_bit(state, data, undo, bit, probs[contexts[0]], _LOW_MANTISSA + length, True)
        if bit < 0:
            return _FULL
        m = (m << 1) | bit
    return -m if negative else m


@njit(nogil=True)
def _deep_code(
    pixels: np.ndarray, data: np.ndarray, undo: bool, bits: int, probs: np.ndarray, weights: np.ndarray
) -> int:
    """Forward: code the ``bits``-bit samples ``pixels`` (H, W, C) into ``data``; return the bytes written, or -1
    if ``data`` is too short. Undo: decode ``data`` into ``pixels``; return the bytes read (past the end too).
    Each sample: six predictions blended by their recent errors (``_blend``) and corrected by the LMS filter
    (``lms``) and by its bias context's mean error, the residual modulo 2^bits coded by ``_deep_residual`` under
    seven models mixed by two weight sets (method 7's way)."""
    h, w, channels = pixels.shape
    top, half = (1 << bits) - 1, 1 << (bits - 1)
    sums = np.zeros((channels, ACTIVITY * SHAPES), dtype=np.int64)
    counts = np.zeros((channels, ACTIVITY * SHAPES), dtype=np.int64)
    errors = np.zeros((2, w, channels), dtype=np.int32)  # residual magnitudes of this row and the last
    signed = np.zeros(channels, dtype=np.int64)
    sub_errors = np.zeros((2, w, channels, _PREDICTIONS), dtype=np.int64)
    sub = np.zeros(_PREDICTIONS, dtype=np.int64)
    lms = np.zeros((channels, LMS_INPUTS), dtype=np.int64)
    lms_in = np.zeros(LMS_INPUTS, dtype=np.int64)
    residuals = np.zeros(channels, dtype=np.int64)
    contexts = np.zeros(MIX_INPUTS, dtype=np.int64)
    inputs = np.zeros(MIX_INPUTS + 1, dtype=np.int64)
    rows = np.zeros(2, dtype=np.int64)
    state = coder_state(data, undo, True)
    for i in range(h):
        row = i & 1
        for j in range(w):
            for k in range(channels):
                a, b, c, d = context_neighbours(pixels, i, j, k)
                a, b, c, d = np.int64(a), np.int64(b), np.int64(c), np.int64(d)
                left = errors[row, j - 1, k] if j > 0 else 0
                above = errors[1 - row, j, k] if i > 0 else 0
                above_left = errors[1 - row, j - 1, k] if i > 0 and j > 0 else 0
                gradients = abs(a - c) + abs(b - c) + abs(d - b) + left + above
                activity = half_octave(gradients, ACTIVITY - 1)
                shape = 9 * (np.sign(b - c) + 1) + 3 * (np.sign(a - c) + 1) + np.sign(d - b) + 1
                bias_ctx = activity * SHAPES + shape
                blend = _blend(a, b, c, d, i, j, k, sub_errors, sub)
                corrected, norm = lms_correction(
                    pixels, i, j, k, a, blend, residuals, sub[0], sub[2], lms, lms_in, 64 << (2 * (bits - 8))
                )  # in eighths
                pred = min(max((corrected + 4) >> 3, 0), top)
                p = (pred + bias(sums, counts, k, bias_ctx)) & top
                earlier = (2 * _STEPS - 1) * _signed_step(signed[k - 1] if k > 0 else 0)
                earlier += _signed_step(signed[k - 2] if k > 1 else 0)
                texture = int(a > pred) + 2 * int(b > pred) + 4 * int(c > pred) + 8 * int(d > pred)
                texture += 16 * int(2 * a - c > pred) + 32 * int(2 * b - c > pred)
                previous = _bit_length(errors[row, j, k - 1]) if k > 0 else 0
                base = k * DEEP_CONTEXTS
                contexts[0] = activity
                contexts[1] = bias_ctx
                contexts[2] = (_bit_length(left) * _LEVELS + _bit_length(above)) * _LEVELS + _bit_length(above_left)
                contexts[3] = previous * _LEVELS + activity // 2
                above_right = errors[1 - row, j + 1, k] if i > 0 and j + 1 < w else above
                expected = _bit_length((left + above + above_left + above_right) >> 2)
                contexts[4] = _bit_length(abs(pred - median_edge(a, b, c))) * _LEVELS + expected
                contexts[5] = activity * EARLIER + earlier
                contexts[6] = texture * 16 + (pred >> (bits - 4))
                for z in range(MIX_INPUTS):
                    contexts[z] += base + _OFFSETS[z]
                rows[0], rows[1] = activity, ACTIVITY + earlier
                e = 0 if undo else ((np.int64(pixels[i, j, k]) - p + half) & top) - half
                e = _deep_residual(
                    state, data, undo, e, bits, expected, probs, contexts, weights[k], rows, inputs, base + bias_ctx
                )
                if e == _FULL:
                    return -1
                if undo:
                    pixels[i, j, k] = (p + e) & top
                learn(sums, counts, errors, row, j, k, bias_ctx, e)
                x = np.int64(pixels[i, j, k])
                for q in range(_PREDICTIONS):
                    sub_errors[i & 1, j, k, q] = abs(8 * x - sub[q])
                residuals[k] = x - ((corrected + 4) >> 3)
                lms_learn(lms, k, lms_in, 8 * x - corrected, 256 << (bits - 8), norm, _LMS_SHIFT)
                signed[k] = e
    return finish(state, data, undo, True)


def _cold_start(channels: int) -> tuple[np.ndarray, np.ndarray]:
    """The deep coder's probabilities (every one 1/2, unseen) and mixer weights (a quarter for each model)."""
    probs = np.zeros((channels * DEEP_CONTEXTS, DEEP_SLOTS, 2), dtype=np.int32)
    probs[..., 0] = 1 << (PROB_BITS[1] - 1)
    weights = np.zeros((channels, ACTIVITY + EARLIER, DEEP_SLOTS, MIX_INPUTS + 1), dtype=np.int64)
    weights[..., :MIX_INPUTS] = 1 << 14
    return probs, weights


def _transform_for(samples: np.ndarray) -> int:
    """The deep transform (``DEEP_TRANSFORMS``) of three channels that predicts red and blue better: the sum of
    the gradient predictor's (left + above - above left) absolute errors, on them as they are or less green."""
    s = samples.astype(np.int64)

    def cost(x: np.ndarray) -> int:
        return int(np.abs(x[1:, 1:] - x[1:, :-1] - x[:-1, 1:] + x[:-1, :-1]).sum())

    return int(cost(s[:, :, 0::2] - s[:, :, 1:2]) < cost(s[:, :, 0::2]))


def encode_deep(samples: np.ndarray) -> bytes:
    """Code uint16 samples (H, W, C), C 1 or 3: the form byte (``DEEP_FORMS``), then by form the samples
    (little-endian); the 8-bit coding of the high bytes; the shift and the 8-bit coding of the shifted samples;
    the shift, the bit count, (three channels) the transform byte and the deep context coder's stream; or the
    values that occur and the coding of each sample's rank among them. The shortest is written; ranks are tried
    where at most half the values in the shifted samples' range occur (as JPEG XL's channel palette)."""
    samples = np.ascontiguousarray(samples, dtype=np.uint16)
    options = [bytes([DEEP_FORMS.index("stored")]) + samples.astype("<u2").tobytes()]
    if np.array_equal(samples >> 8, samples & 255):
        return min(
            options[0], bytes([DEEP_FORMS.index("replicated")]) + _encode_8_bit(samples.astype(np.uint8)), key=len
        )
    combined = int(np.bitwise_or.reduce(samples, axis=None))
    shift = (combined & -combined).bit_length() - 1  # the low bits that are zero in every sample
    shifted = samples >> shift
    bits = int(shifted.max()).bit_length()
    if bits <= 8:
        return min(
            options[0], bytes([DEEP_FORMS.index("narrow"), shift]) + _encode_8_bit(shifted.astype(np.uint8)), key=len
        )
    options.append(_encode_bits(shifted, shift, bits, len(options[0])))
    values = np.unique(samples)
    if 2 * len(values) <= int(shifted.max()) + 1:
        present = np.zeros(1 << MAX_BITS, dtype=bool)
        present[values] = True
        table = lzma_compress(np.packbits(present).tobytes(), _TABLE_BYTES)
        ranks = np.searchsorted(values, samples).astype(np.uint16)
        head = bytes([DEEP_FORMS.index("indexed")]) + (len(values) - 1).to_bytes(2, "little")
        options.append(head + len(table).to_bytes(2, "little") + table + encode_deep(ranks))
    return min((o for o in options if o), key=len)


def _encode_bits(shifted: np.ndarray, shift: int, bits: int, budget: int) -> bytes:
    """The "deep" form of ``bits``-bit samples shifted right by ``shift``, or b"" if not shorter than ``budget``."""
    head = bytes([DEEP_FORMS.index("deep"), shift, bits])
    if shifted.shape[2] == 3:
        transform = _transform_for(shifted)
        head += bytes([transform])
        if transform:
            shifted = subtract_green(shifted, CENTRE << (bits - 8), bits)  # centred: half the range
    out = np.empty(max(budget - len(head), 0) + 1, dtype=np.uint8)  # + the range coder's first byte, left out
    written = _deep_code(np.ascontiguousarray(shifted), out, False, bits, *_cold_start(shifted.shape[2]))
    return b"" if written < 0 else head + out[1:written].tobytes().rstrip(b"\0")


def decode_deep(data: bytes, height: int, width: int, channels: int) -> np.ndarray:
    """The uint16 samples (H, W, C) of a section coded by ``encode_deep``."""
    if not data or data[0] >= len(DEEP_FORMS):
        raise FlowzipError("corrupt file: invalid form of 16-bit samples")
    form = DEEP_FORMS[data[0]]
    if form == "stored":
        if len(data) != 1 + 2 * height * width * channels:
            raise FlowzipError("corrupt file: stored 16-bit samples of the wrong length")
        return np.frombuffer(data, dtype="<u2", offset=1).reshape(height, width, channels).astype(np.uint16)
    if form == "replicated":
        return _decode_8_bit(data[1:], height, width, channels).astype(np.uint16) * 257
    if form == "indexed":
        return _decode_indexed(data, height, width, channels)
    if len(data) < 2 or data[1] >= MAX_BITS:
        raise FlowzipError("corrupt file: invalid shift of 16-bit samples")
    shift = data[1]
    if form == "narrow":
        return _decode_8_bit(data[2:], height, width, channels).astype(np.uint16) << shift
    head = 4 if channels == 3 else 3
    if len(data) < head or not 9 <= data[2] <= MAX_BITS - shift or (channels == 3 and data[3] >= len(DEEP_TRANSFORMS)):
        raise FlowzipError("corrupt file: invalid bit count or transform of 16-bit samples")
    bits = data[2]
    pixels = np.empty((height, width, channels), dtype=np.uint16)
    stream = np.frombuffer(data, dtype=np.uint8)[head:].copy()
    read = _deep_code(pixels, stream, True, bits, *_cold_start(channels))
    if read < len(stream) or stream[-1:].tobytes() == b"\0":
        raise FlowzipError("corrupt file: 16-bit samples' coded data of the wrong length")
    if channels == 3 and data[3]:
        pixels = add_green(pixels, CENTRE << (bits - 8), bits)
    return pixels << shift


def _decode_indexed(data: bytes, height: int, width: int, channels: int) -> np.ndarray:
    """The samples of an "indexed" section: the table of values that occur, then the samples' ranks in it."""
    if len(data) < 5:
        raise FlowzipError("corrupt file: a table of 16-bit values cut short")
    count, size = int.from_bytes(data[1:3], "little") + 1, int.from_bytes(data[3:5], "little")
    ranks_at = 5 + size
    if len(data) <= ranks_at or data[ranks_at] == DEEP_FORMS.index("indexed"):  # never nested: no deep recursion
        raise FlowzipError("corrupt file: invalid table of 16-bit values")
    unpacker = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=lzma_filters(_TABLE_BYTES))
    try:
        table = unpacker.decompress(data[5:ranks_at], max_length=_TABLE_BYTES)
    except lzma.LZMAError as e:
        raise FlowzipError(f"corrupt file: the table of 16-bit values does not decompress ({e})") from None
    values = np.flatnonzero(np.unpackbits(np.frombuffer(table, dtype=np.uint8))).astype(np.uint16)
    if len(table) != _TABLE_BYTES or len(values) != count:
        raise FlowzipError("corrupt file: invalid table of 16-bit values")
    ranks = decode_deep(data[ranks_at:], height, width, channels)
    if ranks.max(initial=0) >= count:
        raise FlowzipError("corrupt file: a 16-bit value past its table")
    return values[ranks]


def _encode_8_bit(pixels: np.ndarray) -> bytes:
    return encode_rgb(pixels) if pixels.shape[2] == 3 else encode_plane(pixels[:, :, 0])


def _decode_8_bit(data: bytes, height: int, width: int, channels: int) -> np.ndarray:
    if channels == 3:
        return decode_rgb(data, height, width)
    return decode_plane(data, height, width)[:, :, None]
