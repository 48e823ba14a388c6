"""What the mixing coders learn as they code, their cold starts and the states learnt on training photos that
they start from: method 7's ``MixedState`` (cold for method 7; learnt, ``WARM_STATE``, for method 8) and method
9's ``PhotoState`` (learnt, ``PHOTO_STATE``). The shipped states are checked by their hashes."""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import numpy as np

from flowzip.classical.contexts import ACTIVITY_CONTEXTS, SHAPES
from flowzip.classical.lms import LMS_INPUTS
from flowzip.classical.mixer import EARLIER_CONTEXTS, MIX_INPUTS, MIX_SLOTS, MODEL_CONTEXTS, squash
from flowzip.classical.photo_coder import APM_CELLS, APMS, PHOTO_CONTEXTS, PHOTO_INPUTS
from flowzip.classical.range_coder import PROB_BITS
from flowzip.shipped import shipped_arrays


class MixedState(NamedTuple):
    """What the mixing coder learns as it codes, and starts from: each model's probabilities, the mixer's
    weights and the bias correction's error sums and counts, for ``C`` channels."""

    probs: np.ndarray  # (C * MODEL_CONTEXTS, MIX_SLOTS, 2) int32: each probability of a 0, and the bits seen
    weights: np.ndarray  # (C, ACTIVITY_CONTEXTS + EARLIER_CONTEXTS, MIX_SLOTS, MIX_INPUTS + 1) int64
    sums: np.ndarray  # (C, ACTIVITY_CONTEXTS * SHAPES) int64
    counts: np.ndarray  # (C, ACTIVITY_CONTEXTS * SHAPES) int64


class PhotoState(NamedTuple):
    """What method 9 learns as it codes, and starts from, for ``C`` channels: ``MixedState``'s fields for its
    eleven models and twelve inputs, its refinement stages and its LMS filters."""

    probs: np.ndarray  # (C * PHOTO_CONTEXTS, MIX_SLOTS, 2) int32
    weights: np.ndarray  # (C, ACTIVITY_CONTEXTS + EARLIER_CONTEXTS, MIX_SLOTS, PHOTO_INPUTS + 1) int64
    sums: np.ndarray  # (C, ACTIVITY_CONTEXTS * SHAPES) int64
    counts: np.ndarray  # (C, ACTIVITY_CONTEXTS * SHAPES) int64
    apm: np.ndarray  # (APMS, C * EARLIER_CONTEXTS * MIX_SLOTS, APM_CELLS) int32: probabilities of a 1, 2^-16
    lms: np.ndarray  # (C, LMS_INPUTS) int64: the filters' weights, in units of 2^-16


WARM_STATE = "context-state-1.npz"  # in flowzip.models
WARM_STATE_CHANNELS = 3  # learnt on (R - G + 128, G, B - G + 128), the centred subtract-green transform
WARM_STATE_SHA256 = "0291418a132adb548f03e35d4b36fbbbfa1db02c0143d496767602d3984f40f2"


PHOTO_STATE = "context-state-2.npz"  # method 9's, in flowzip.models
PHOTO_STATE_SHA256 = "22cfb5d09cecebe619fe539d9cb02bfacc0afe1bf77961d6088d45af58787d7f"


@cache
def warm_state() -> MixedState:
    """Method 8's starting state, read once and checked against ``WARM_STATE_SHA256``; callers copy it."""
    return shipped_arrays(WARM_STATE, MixedState, WARM_STATE_SHA256)


@cache
def photo_state() -> PhotoState:
    """Method 9's starting state, read once and checked against ``PHOTO_STATE_SHA256``; callers copy it."""
    return shipped_arrays(PHOTO_STATE, PhotoState, PHOTO_STATE_SHA256)


def cold_state(channels: int, contexts: int = MODEL_CONTEXTS, inputs: int = MIX_INPUTS) -> MixedState:
    """Method 7's starting state for ``channels`` channels (or that of a mixer of ``contexts`` contexts a
    channel and ``inputs`` inputs): every probability 1/2 and unseen, the weights those of method 6's model
    alone, no errors seen."""
    probs = np.zeros((channels * contexts, MIX_SLOTS, 2), dtype=np.int32)  # (probability, seen)
    probs[..., 0] = 1 << (PROB_BITS[1] - 1)
    # weight vectors by channel, chosen by the activity (rows 0..23) and by the earlier channels' errors
    weights = np.zeros((channels, ACTIVITY_CONTEXTS + EARLIER_CONTEXTS, MIX_SLOTS, inputs + 1), np.int64)
    weights[..., 0] = 1 << 16  # the sum starts as method 6's model alone
    sums = np.zeros((channels, ACTIVITY_CONTEXTS * SHAPES), dtype=np.int64)
    counts = np.zeros((channels, ACTIVITY_CONTEXTS * SHAPES), dtype=np.int64)
    return MixedState(probs, weights, sums, counts)


def photo_cold_state(channels: int) -> PhotoState:
    """Method 9 from nothing (what ``PHOTO_STATE`` is learnt from): ``cold_state``'s start for its models and
    mixer, refinement stages that return the mixer's probability, LMS filters that correct nothing."""
    apm = np.zeros((APMS, channels * EARLIER_CONTEXTS * MIX_SLOTS, APM_CELLS), dtype=np.int32)
    middle = APM_CELLS // 2
    for t in range(APM_CELLS):
        apm[:, :, t] = 16 * squash.py_func((t - middle) * 128)
    mixer = cold_state(channels, PHOTO_CONTEXTS, PHOTO_INPUTS)
    return PhotoState(*mixer, apm, np.zeros((channels, LMS_INPUTS), dtype=np.int64))
