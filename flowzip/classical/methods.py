"""The numbers that name how classical data is coded: predictors with LZMA2, context methods, and the RGB
transforms (``docs/format.md``), and the descriptions ``flowzip info`` and the tests read from them."""

from __future__ import annotations

PREDICTORS = ("none", "left", "up", "paeth", "med")


# the RGB transforms (``flowzip.classical.transforms``); this flowzip writes the centred subtract green (format 3)
# instead of the plain one, which it still reads
TRANSFORMS = ("identity", "subtract green", "palette", "subtract green, centred")


# The context coder's five versions (``flowzip.classical.context_coder``), by the method byte: format 2's (5),
# format 3's (6), format 4's (7, the mixing coder), format 5's (8, method 7 from a state learnt on photos) and
# format 7's (9, the photo coder: ``flowzip.classical.photo_coder``). This flowzip writes method 9 for three
# channels, 7 for one, and reads all five.
CONTEXT_METHODS = tuple(range(len(PREDICTORS), len(PREDICTORS) + 5))  # 5, 6, 7, 8, 9
MIXED_METHODS = CONTEXT_METHODS[2:4]  # 7, and 8: 7 starting from a state learnt on photos (WARM_STATE)


# Method 8 starts from the state that method 7 reaches on photos (WARM_STATE, learnt by
# benchmarks/context_state.py), not from nothing: a small image then no longer pays for learning what every
# photo shares (9 % of a 32x32 crop's bits, models/README.md). The format spec names the file by this hash: a
# new state needs a new method number, as a new flow needs a new model id.
WARM_METHOD = MIXED_METHODS[1]
# Method 9 adds predictors, an LMS filter, models, refinement stages and a learned network's probabilities to
# method 7's, and starts from its own learnt state (PHOTO_STATE) with the network TINY_NET.
PHOTO_METHOD = CONTEXT_METHODS[4]


# how a section of 16-bit samples is coded (``flowzip.classical.deep``), by its first byte: the samples as they
# are; 8-bit samples x 257 ("replicated") or shifted left ("narrow"), coded as 8-bit ones; or the deep context
# coder, after one of DEEP_TRANSFORMS for three channels; or the ranks of the samples among the values that occur
DEEP_FORMS = ("stored", "replicated", "narrow", "deep", "indexed")
DEEP_TRANSFORMS = ("identity", "subtract green, centred")


def indexed_ranks(data: bytes) -> bytes:
    """The section of the ranks in an "indexed" 16-bit section (after its value count and table)."""
    return data[5 + int.from_bytes(data[3:5], "little") :]


def describe_deep(data: bytes, channels: int) -> str:
    """How ``encode_deep`` coded ``data``: "deep context coder, 12 bits << 4, subtract green, centred",
    "replicated 8 bits: palette, context method 7"... (or "invalid")."""
    form = DEEP_FORMS[data[0]] if data and data[0] < len(DEEP_FORMS) else "invalid"
    eight_bit = describe_rgb if channels == 3 else describe_predicted
    if form == "replicated":
        return f"8 bits x 257: {eight_bit(data[1:])}"
    if form == "narrow" and len(data) > 1:
        return f"8 bits << {data[1]}: {eight_bit(data[2:])}"
    if form == "deep" and len(data) > 2 + (channels == 3):
        transform = f", {DEEP_TRANSFORMS[data[3]]}" if channels == 3 and data[3] < len(DEEP_TRANSFORMS) else ""
        return f"deep context coder, {data[2]} bits << {data[1]}{transform}"
    if form == "indexed" and len(data) > 5:
        count = int.from_bytes(data[1:3], "little") + 1
        return f"{count} values indexed: {describe_deep(indexed_ranks(data), channels)}"
    return form if form == "stored" else "invalid"


def describe_predicted(data: bytes) -> str:
    """How ``encode_predicted`` coded ``data``: "context method 8", "paeth + LZMA2" (or "invalid")."""
    method = data[0] if data else -1
    if method in CONTEXT_METHODS:
        return f"context method {method}"
    return f"{PREDICTORS[method]} + LZMA2" if 0 <= method < len(PREDICTORS) else "invalid"


def describe_rgb(data: bytes) -> str:
    """How ``encode_rgb`` coded ``data``: its transform, then ``describe_predicted``."""
    if not data or data[0] >= len(TRANSFORMS):
        return "invalid"
    start = 2 + 3 * (data[1] + 1) if data[0] == TRANSFORMS.index("palette") and len(data) > 1 else 1
    return f"{TRANSFORMS[data[0]]}, {describe_predicted(data[start:])}"


def context_coded_rgb(data: bytes) -> bool:
    """Whether ``encode_rgb`` gave ``data`` to the context coder on three channels (a photo's coding), not to a
    palette or LZMA2."""
    return len(data) > 1 and data[0] != TRANSFORMS.index("palette") and data[1] in CONTEXT_METHODS
