"""Which additions to the mixing coder pay on photos? The code length of candidate features, each on or off.

    python -m benchmarks.decisions.photo_coder [FOLDER ...] [--limit N] [--net runs/tiny-net/net.pt]

A research model of the next context method (issue #32), not a coder: it runs method 7's model (the context
coder's mixing method, cold start; ``flowzip.classical.context_coder``) subpixel by subpixel on the centred
subtract-green transform and sums the ideal code length, -log2 of each coded bit's probability, with each
candidate feature switched on in turn and then all together. Method 7's real file size is printed beside it
(the model with every feature off lands within 0.1 % of it). The candidates, read from the coders ahead of JPEG
XL (``../shared/BRIEF.md``):

- ``predictors``: four more predictions in the blend: N + NE - NNE, 2W - WW, 2N - NN, and the mean of W and N
  moved by the earlier channel's own step at this pixel (W + NE for the first channel);
- ``lms``: a normalised LMS filter over 14 inputs (ten causal neighbours, the earlier channels' errors at this
  pixel, two of the predictions), relative to the blend, corrects it (L1codec's and NBLI's idea);
- ``models``: four more context models (the prediction's eighths and the sign of the earlier channel's error;
  the neighbours' errors weighted as paq8px does and quantised to 32 levels; the errors at NE, N and W; the
  spread of the predictions), and the mixer's first weight set chosen by that error level;
- ``apm``: two adaptive probability maps after the mixer (keyed on the activity and on the earlier channels'
  errors), averaged with it (paq8px's SSE stages);
- ``net``: a tiny learned network (``benchmarks/decisions/tiny_net.py``) gives each subpixel a discretized
  logistic; each coded bit's probability under it is one more mixer input, and its scale and offset one more
  context (the issue's learned likelihoods inside the mixer). Only with ``--net``.

The network runs in float64 with ``math.exp`` here, which is fine for a code length but not for a coder that must
decode bit for bit on every machine: a shipped version needs a fixed-point network and a table for the logistic.
Prints bits per subpixel of each set with each feature, and seconds (a cost model: no range coder).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from benchmarks.paths import TRAIN_PHOTOS
from benchmarks.photo_sets import PHOTO_SETS, colour_photos
from flowzip.classical.context_coder import context_encode
from flowzip.classical.contexts import ACTIVITY_CONTEXTS, SHAPES, bias, context_model, half_octave, learn
from flowzip.classical.mixer import (
    EARLIER_CONTEXTS,
    MIX_INPUTS,
    MIX_SLOTS,
    MODEL_CONTEXTS,
    SIGN_SLOT,
    STRETCH,
    model_contexts,
    squash,
)
from flowzip.classical.photo_coder import PREDICTIONS, eight_predictions
from flowzip.classical.predictors import context_neighbours, error_weighted
from flowzip.classical.range_coder import PROB_BITS, adapt
from flowzip.classical.transforms import subtract_green
from flowzip.images import read_image_rgb
from flowzip.jit import njit
from flowzip.learned.tiny_net import OTHER, SAME

FEATURES = ("predictors", "lms", "models", "apm", "net")
_COST = np.array([-math.log2(max(p, 0.5) / 4096) for p in range(4097)])  # bits of a 12-bit probability
_LMS_INPUTS = 14
_LMS_SHIFT = 6  # the filter's step: chosen on the training photos from 4..8
_APM_RATE = 6
_EXTRA_MODELS = 5  # four context models, and the net's input
_EXTRA_ROWS = 4096  # contexts per extra model and channel


@njit(nogil=True)
def _at(pixels: np.ndarray, i: int, j: int, k: int) -> int:
    """pixels[i, j, k] with the row and column clamped into the image (rows above the first read the first)."""
    return np.int64(pixels[max(i, 0), min(max(j, 0), pixels.shape[1] - 1), k])


@njit(nogil=True)
def _cdf(t: float, mean: float, scale: float) -> float:
    """The network's logistic at t, its end bins taking the tails of 0..255."""
    if t < 0:
        return 0.0
    if t > 255:
        return 1.0
    return 1.0 / (1.0 + math.exp(-(t - mean) / scale))


@njit(nogil=True)
def _net(pixels, i, j, k, w1, b1, w2, b2, features, hidden) -> tuple[float, float]:
    """(mean, scale) of subpixel (i, j, k) under the tiny network (``tiny_net.features``'s inputs)."""
    base = (_at(pixels, i, j - 1, k) + _at(pixels, i - 1, j, k)) / 2.0
    f = 0
    for t in range(len(SAME)):
        features[f] = (_at(pixels, i + SAME[t][0], j + SAME[t][1], k) - base) / 32.0
        f += 1
    for other in range(3):
        if other == k:
            continue
        other_base = (_at(pixels, i, j - 1, other) + _at(pixels, i - 1, j, other)) / 2.0
        features[f] = (np.int64(pixels[i, j, other]) - other_base) / 32.0 if other < k else 0.0
        f += 1
        for t in range(len(OTHER)):
            features[f] = (_at(pixels, i + OTHER[t][0], j + OTHER[t][1], other) - other_base) / 32.0
            f += 1
    for c in range(3):
        features[f + c] = 1.0 if c == k else 0.0
    out0, out1 = b2[0], b2[1]
    for h in range(w1.shape[0]):
        hidden[h] = b1[h]
        for q in range(w1.shape[1]):
            hidden[h] += w1[h, q] * features[q]
        if hidden[h] > 0:
            out0 += w2[0, h] * hidden[h]
            out1 += w2[1, h] * hidden[h]
    return base + 32.0 * out0, math.exp(min(max(out1, -3.0), 6.0))


@njit(nogil=True)
def _net_probability_of_one(slot, p, e, magnitude, length, mean, scale) -> float:
    """The probability under the network's logistic that the bit of ``slot`` is 1, given the bits before it
    (prediction ``p``, residual ``e``; the binarization of ``context_coder._code_residual``)."""
    if slot == 0:
        return 1.0 - (_cdf(p + 0.5, mean, scale) - _cdf(p - 0.5, mean, scale))
    if slot == SIGN_SLOT:
        below = _cdf(p - 0.5, mean, scale)
        return below / max(below + 1.0 - _cdf(p + 0.5, mean, scale), 1e-12)
    side = -1 if e < 0 else 1
    if slot < 8:  # |e| >= 2^(t + 1), given |e| >= 2^t
        t = slot - 1
        lo, hi = (1 << t), (1 << (t + 1))
        if side < 0:
            return _cdf(p - hi + 0.5, mean, scale) / max(_cdf(p - lo + 0.5, mean, scale), 1e-12)
        return (1.0 - _cdf(p + hi - 0.5, mean, scale)) / max(1.0 - _cdf(p + lo - 0.5, mean, scale), 1e-12)
    q = slot - 8 - 8 * length  # a bit below the top one: the upper half of what is left
    half = 1 << (length - q - 1)
    low = (magnitude >> (length - q)) << (length - q)
    if side < 0:
        edges = (p - low + 0.5, p - low - half + 0.5, p - low - 2 * half + 0.5)
        lower = _cdf(edges[0], mean, scale) - _cdf(edges[1], mean, scale)
        upper = _cdf(edges[1], mean, scale) - _cdf(edges[2], mean, scale)
    else:
        edges = (p + low - 0.5, p + low + half - 0.5, p + low + 2 * half - 0.5)
        lower = _cdf(edges[1], mean, scale) - _cdf(edges[0], mean, scale)
        upper = _cdf(edges[2], mean, scale) - _cdf(edges[1], mean, scale)
    return upper / max(lower + upper, 1e-12)


@njit(nogil=True)
def code_length(pixels: np.ndarray, on: np.ndarray, w1, b1, w2, b2) -> float:
    """Bits to code ``pixels`` (H, W, 3) with method 7's model and the features ``on`` (flags in ``FEATURES``
    order)."""
    more_predictions, use_lms, use_models, use_apm, use_net = on[0], on[1], on[2], on[3], on[4]
    h, w, channels = pixels.shape
    rows_per_channel = MODEL_CONTEXTS + _EXTRA_MODELS * _EXTRA_ROWS
    inputs_all = MIX_INPUTS + _EXTRA_MODELS
    probs = np.zeros((channels * rows_per_channel, MIX_SLOTS, 2), dtype=np.int32)
    probs[..., 0] = 1 << (PROB_BITS[1] - 1)
    weights = np.zeros((channels, ACTIVITY_CONTEXTS + EARLIER_CONTEXTS, MIX_SLOTS, inputs_all + 1), np.int64)
    weights[..., 0] = 1 << 16
    sums = np.zeros((channels, ACTIVITY_CONTEXTS * SHAPES), dtype=np.int64)
    counts = np.zeros_like(sums)
    errors = np.zeros((h, w, channels), dtype=np.int32)
    signed = np.zeros(channels, dtype=np.int64)
    step_errors = np.zeros((2, w, channels, PREDICTIONS), dtype=np.int64)
    predictions = np.zeros(PREDICTIONS, dtype=np.int64)
    contexts = np.zeros(inputs_all, dtype=np.int64)
    inputs = np.zeros(inputs_all + 1, dtype=np.int64)
    active = np.zeros(inputs_all + 1, dtype=np.bool_)
    active[: MIX_INPUTS + (_EXTRA_MODELS - 1 if use_models else 0)] = True
    active[inputs_all - 1] = use_net
    active[inputs_all] = True  # the bias input
    rows = np.zeros(2, dtype=np.int64)
    lms_weights = np.zeros((channels, _LMS_INPUTS), dtype=np.int64)
    lms_in = np.zeros(_LMS_INPUTS, dtype=np.int64)
    apm = np.zeros((2, channels * EARLIER_CONTEXTS * MIX_SLOTS, 33), dtype=np.int64)
    for t in range(33):
        apm[:, :, t] = squash((t - 16) * 128) * 16
    residuals = np.zeros(channels, dtype=np.int64)
    features = np.zeros(w1.shape[1])
    hidden = np.zeros(w1.shape[0])
    count = PREDICTIONS if more_predictions else 4
    total = 0.0
    for i in range(h):
        for j in range(w):
            for k in range(channels):
                a, b, c, d = context_neighbours(pixels, i, j, k)
                ctx, bias_ctx = context_model(a, b, c, d, i, j, k, errors)
                eight_predictions(pixels, i, j, k, (a, b, c, d), predictions)
                weighted, weight_sum = error_weighted(i, j, k, predictions[:count], step_errors)
                blend8 = (weighted + weight_sum // 2) // weight_sum  # in eighths
                pred8 = blend8
                norm = 64
                if use_lms:
                    for t in range(10):
                        lms_in[t] = 8 * _at(pixels, i + SAME[t][0], j + SAME[t][1], k) - blend8
                    lms_in[10] = 8 * residuals[0] if k > 0 else 0
                    lms_in[11] = 8 * residuals[1] if k > 1 else 0
                    lms_in[12] = predictions[0] - blend8
                    lms_in[13] = predictions[2] - blend8
                    correction = 0
                    for q in range(_LMS_INPUTS):
                        correction += lms_weights[k, q] * lms_in[q]
                        norm += lms_in[q] * lms_in[q]
                    pred8 = blend8 + (correction >> 16)
                pred = min(max((pred8 + 4) >> 3, 0), 255)
                p = (pred + bias(sums, counts, k, bias_ctx)) & 255
                x = np.int64(pixels[i, j, k])
                e = ((x - p + 128) & 255) - 128
                base = k * rows_per_channel
                earlier = model_contexts(
                    contexts, errors, signed, i, j, k, (a, b, c, d), ctx, bias_ctx, pred, predictions[0] // 8, base
                )
                err_w = errors[i, j - 1, k] if j > 0 else 0
                err_n = errors[i - 1, j, k] if i > 0 else 0
                err_nw = errors[i - 1, j - 1, k] if i > 0 and j > 0 else 0
                err_ne = errors[i - 1, j + 1, k] if i > 0 and j + 1 < w else 0
                left_q, above_q = half_octave(err_w, 7), half_octave(err_n, 7)
                # the candidates' models
                extra = base + MODEL_CONTEXTS
                err_ww = errors[i, j - 2, k] if j > 1 else 0
                err_nn = errors[i - 2, j, k] if i > 1 else 0
                error_level = half_octave(2 * err_w + 2 * err_n + err_nw + err_ne + err_ww + err_nn, 31)
                fraction = 2 * (pred8 & 7) + int((signed[k - 1] if k > 0 else 0) > 0)
                lowest, highest = predictions[0], predictions[0]
                for q in range(count):
                    lowest, highest = min(lowest, predictions[q]), max(highest, predictions[q])
                contexts[MIX_INPUTS] = extra + 16 * ctx + fraction
                contexts[MIX_INPUTS + 1] = extra + _EXTRA_ROWS + 32 * error_level + fraction
                contexts[MIX_INPUTS + 2] = extra + 2 * _EXTRA_ROWS + 64 * half_octave(err_ne, 7) + 8 * above_q + left_q
                contexts[MIX_INPUTS + 3] = extra + 3 * _EXTRA_ROWS + 16 * half_octave((highest - lowest) >> 2, 15)
                contexts[MIX_INPUTS + 3] += min(ctx // 2, 15)
                mean, scale = 0.0, 1.0
                if use_net:
                    mean, scale = _net(pixels, i, j, k, w1, b1, w2, b2, features, hidden)
                    level = min(max(int(3.0 * math.log2(scale)) + 9, 0), 31)
                    offset = min(max(math.floor(2.0 * (mean - p)) + 8, 0), 15)
                    contexts[MIX_INPUTS + 3] = extra + 3 * _EXTRA_ROWS + 16 * level + offset
                rows[0] = min(error_level, ACTIVITY_CONTEXTS - 1) if use_models else ctx
                rows[1] = ACTIVITY_CONTEXTS + earlier
                # the residual's bits: the zero flag, the sign, the unary length, the bits below the top one
                magnitude = abs(e)
                length = 0
                while magnitude >> (length + 1):
                    length += 1
                for step in range(2 + 7 + 7):
                    if step == 0:
                        slot, bit = 0, int(magnitude != 0)
                    elif step == 1:
                        if magnitude == 0:
                            break
                        slot, bit = SIGN_SLOT, int(e < 0)
                    elif step < 9:
                        if step - 2 > length:
                            continue
                        slot, bit = step - 1, int(step - 2 < length)
                    else:
                        if step - 9 >= length:
                            break
                        q = step - 9
                        slot, bit = 8 + 8 * length + q, (magnitude >> (length - 1 - q)) & 1
                    model0 = contexts[0]
                    if slot == SIGN_SLOT:
                        contexts[0] = base + bias_ctx
                    for z in range(inputs_all):
                        if active[z] and z != inputs_all - 1:
                            inputs[z] = STRETCH[min(max(((1 << 15) - probs[contexts[z], slot, 0]) >> 3, 1), 4095)]
                    if use_net:
                        one = _net_probability_of_one(slot, p, e, magnitude, length, mean, scale)
                        inputs[inputs_all - 1] = STRETCH[min(max(int(one * 4096), 1), 4095)]
                    inputs[inputs_all] = 77
                    dot = 0
                    for z in range(inputs_all + 1):
                        if active[z]:
                            dot += (weights[k, rows[0], slot, z] + weights[k, rows[1], slot, z]) * inputs[z]
                    mixed = min(max(squash(dot >> 17), 1), 4095)
                    final = mixed
                    if use_apm:
                        stretched = min(max(dot >> 17, -2047), 2047) + 2048
                        lo, frac = stretched >> 7, stretched & 127
                        keys = (
                            (k * EARLIER_CONTEXTS + ctx) * MIX_SLOTS + slot,
                            (k * EARLIER_CONTEXTS + earlier) * MIX_SLOTS + slot,
                        )
                        refined = 2 * mixed
                        for s in range(2):
                            key = keys[s]
                            refined += (apm[s, key, lo] * (128 - frac) + apm[s, key, lo + 1] * frac) >> 11
                            nearer = lo + int(frac >= 64)
                            apm[s, key, nearer] += ((bit << 16) - apm[s, key, nearer]) >> _APM_RATE
                        final = min(max((refined + 2) >> 2, 1), 4095)
                    total += _COST[final] if bit else _COST[4096 - final]
                    error = ((bit << 12) - mixed) * 10
                    for z in range(inputs_all + 1):
                        if active[z]:
                            step_z = (inputs[z] * error + (1 << 13)) >> 14
                            weights[k, rows[0], slot, z] += step_z
                            weights[k, rows[1], slot, z] += step_z
                    for z in range(inputs_all):
                        if active[z] and z != inputs_all - 1:
                            adapt(probs[contexts[z]], slot, bit, True)
                    contexts[0] = model0
                learn(sums, counts, errors, i, j, k, bias_ctx, e)
                signed[k] = e
                residuals[k] = x - ((pred8 + 4) >> 3)
                for q in range(count):
                    step_errors[i & 1, j, k, q] = abs(8 * x - predictions[q])
                if use_lms:
                    step = (min(max(8 * x - pred8, -256), 256) << 16) // norm
                    for q in range(_LMS_INPUTS):
                        lms_weights[k, q] += (step * lms_in[q]) >> _LMS_SHIFT
    return total


def _net_weights(path: Path | None) -> tuple[np.ndarray, ...]:
    """The tiny network's (w1, b1, w2, b2) as float64, or a dummy when there is none."""
    if path is None:
        return np.zeros((1, 1)), np.zeros(1), np.zeros((2, 1)), np.zeros(2)
    import torch

    weights = torch.load(path, weights_only=True)
    return tuple(weights[k].double().numpy() for k in ("l1.weight", "l1.bias", "l2.weight", "l2.bias"))


def photos(folder: Path, limit: int | None) -> list[np.ndarray]:
    """The colour photos of a folder (``benchmarks.photo_sets.colour_photos``), subtract-green centred."""
    paths = colour_photos(folder)[:limit]
    return [np.ascontiguousarray(subtract_green(read_image_rgb(path))) for path in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=list(PHOTO_SETS))
    parser.add_argument("--limit", type=int, help="the first N images of each folder")
    parser.add_argument("--net", type=Path, help="a tiny network (benchmarks/decisions/tiny_net.py) for 'net'")
    parser.add_argument("--train", action="store_true", help=f"also 384x384 crops of 4 of {TRAIN_PHOTOS}")
    args = parser.parse_args()
    net = _net_weights(args.net)
    candidates = [("method 7's model", ())] + [(f"+ {f}", (f,)) for f in FEATURES[:4]]
    candidates += [("all but predictors and net", FEATURES[1:4]), ("all but net", FEATURES[:4])]
    if args.net:
        candidates += [("+ net", ("net",)), ("all but predictors", FEATURES[1:]), ("all", FEATURES)]
    sets = [(folder.name, photos(folder, args.limit)) for folder in args.folders]
    if args.train:
        files = sorted(TRAIN_PHOTOS.iterdir())[:4]
        sets.append(
            ("training crops", [np.ascontiguousarray(subtract_green(read_image_rgb(f)[:384, :384])) for f in files])
        )
    print("| candidate | " + " | ".join(f"{name} ({len(images)})" for name, images in sets) + " | all | seconds |")
    print("|---|" + "---|" * (len(sets) + 2))
    subpixels = [sum(x.size for x in images) for _, images in sets]
    method7 = [8 * sum(len(context_encode(x.copy(), 10 * x.size, 7)) for x in images) for _, images in sets]
    print("| method 7's files | " + " | ".join(f"{b / n:.4f}" for b, n in zip(method7, subpixels, strict=True)), end="")
    print(f" | {sum(method7) / sum(subpixels):.4f} | |", flush=True)
    for label, on in candidates:
        flags = np.array([f in on for f in FEATURES])
        start = time.perf_counter()
        bits = [sum(code_length(x, flags, *net) for x in images) for _, images in sets]
        seconds = time.perf_counter() - start
        cells = [f"{b / n:.4f} ({b / m - 1:+.2%})" for b, n, m in zip(bits, subpixels, method7, strict=True)]
        print(
            f"| {label} | " + " | ".join(cells) + f" | {sum(bits) / sum(subpixels):.4f} "
            f"({sum(bits) / sum(method7) - 1:+.2%}) | {seconds:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
