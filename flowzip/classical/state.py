"""What the mixing coder learns as it codes (``MixedState``), its cold start (method 7) and the state learnt on
training photos that method 8 starts from (shipped as ``WARM_STATE``, checked by its hash)."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from flowzip.classical.contexts import ACTIVITY_CONTEXTS, SHAPES
from flowzip.classical.mixer import EARLIER_CONTEXTS, MIX_INPUTS, MIX_SLOTS, MODEL_CONTEXTS
from flowzip.classical.range_coder import PROB_BITS
from flowzip.errors import FlowzipError

if TYPE_CHECKING:
    from importlib.abc import Traversable


class MixedState(NamedTuple):
    """What the mixing coder learns as it codes, and starts from: each model's probabilities, the mixer's
    weights and the bias correction's error sums and counts, for ``C`` channels."""

    probs: np.ndarray  # (C * MODEL_CONTEXTS, MIX_SLOTS, 2) int32: each probability of a 0, and the bits seen
    weights: np.ndarray  # (C, ACTIVITY_CONTEXTS + EARLIER_CONTEXTS, MIX_SLOTS, MIX_INPUTS + 1) int64
    sums: np.ndarray  # (C, ACTIVITY_CONTEXTS * SHAPES) int64
    counts: np.ndarray  # (C, ACTIVITY_CONTEXTS * SHAPES) int64


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


def cold_state(channels: int) -> MixedState:
    """Method 7's starting state for ``channels`` channels: every probability 1/2 and unseen, the weights those
    of method 6's model alone, no errors seen."""
    probs = np.zeros((channels * MODEL_CONTEXTS, MIX_SLOTS, 2), dtype=np.int32)  # (probability, seen)
    probs[..., 0] = 1 << (PROB_BITS[1] - 1)
    # weight vectors by channel, chosen by the activity (rows 0..23) and by the earlier channels' errors
    weights = np.zeros((channels, ACTIVITY_CONTEXTS + EARLIER_CONTEXTS, MIX_SLOTS, MIX_INPUTS + 1), np.int64)
    weights[..., 0] = 1 << 16  # the sum starts as method 6's model alone
    sums = np.zeros((channels, ACTIVITY_CONTEXTS * SHAPES), dtype=np.int64)
    counts = np.zeros((channels, ACTIVITY_CONTEXTS * SHAPES), dtype=np.int64)
    return MixedState(probs, weights, sums, counts)
