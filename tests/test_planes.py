"""The classical coder: every way of coding an array decodes to it exactly, and each is chosen where it pays."""

from __future__ import annotations

import numpy as np
import pytest

from flowzip.errors import FlowzipError
from flowzip.planes import (
    CONTEXT_METHOD,
    CONTEXT_METHODS,
    PREDICTORS,
    TRANSFORMS,
    _context_decode,
    _context_encode,
    _encode_predicted,
    _subtract_green,
    decode_plane,
    decode_rgb,
    encode_plane,
    encode_rgb,
)

from conftest import make_image

SHAPES = [(1, 1), (1, 9), (9, 1), (17, 23)]


@pytest.mark.parametrize("content", ["noise", "constant", "gradient", "photo"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("method", CONTEXT_METHODS)
def test_context_coder_round_trip(content: str, shape: tuple[int, int], channels: int, method: int) -> None:
    """Every version (format 2's and 3's, which old files hold, and format 4's), on sizes down to one pixel."""
    pixels = make_image(content, *shape, channels=channels)
    coded = _context_encode(pixels.copy(), 4 * pixels.size + 64, method)
    assert coded is not None and coded[0] == method
    assert np.array_equal(_context_decode(coded, *pixels.shape), pixels)
    if method != CONTEXT_METHODS[0]:  # the stream ends at its last non-zero byte, so trailing zeros are damage
        with pytest.raises(FlowzipError, match="wrong length"):
            _context_decode(coded + b"\0", *pixels.shape)


def test_each_context_coder_is_shorter_than_the_last() -> None:
    """Format 3's: faster adaptation and a shorter ending, most on small images, where a context sees few bits.
    Format 4's: mixing more context models."""
    for shape in [(16, 16), (96, 96)]:
        photo = make_image("photo", *shape)
        lengths = [len(_context_encode(photo, 10 * photo.size, method) or b"") for method in CONTEXT_METHODS]
        assert lengths[2] < lengths[1] < lengths[0], (shape, lengths)


def test_context_coder_gives_up_when_longer_than_its_budget() -> None:
    assert _context_encode(make_image("noise", 16, 16, channels=1), 100) is None


@pytest.mark.parametrize("content", ["noise", "constant", "gradient", "photo"])
def test_planes_and_rgb_round_trip(content: str) -> None:
    rgb = make_image(content, 33, 47)
    assert np.array_equal(decode_plane(encode_plane(rgb[:, :, 0]), 33, 47), rgb[:, :, 0])
    assert np.array_equal(decode_rgb(encode_rgb(rgb), 33, 47), rgb)


@pytest.mark.parametrize("transform", ["identity", "subtract green", "subtract green, centred"])
def test_every_colour_transform_decodes(transform: str) -> None:
    """Including the plain subtract green, which format 3 encoders no longer write but format 2 files hold."""
    rgb = make_image("photo", 21, 30)
    sign, offset = (0, 0) if transform == "identity" else (-1, 128 if "centred" in transform else 0)
    pixels = _subtract_green(rgb, sign, offset)
    data = bytes([TRANSFORMS.index(transform)]) + _encode_predicted(pixels)
    assert np.array_equal(decode_rgb(data, 21, 30), rgb)


def test_each_coding_is_chosen_where_it_pays() -> None:
    """The context coder on photo-like content, LZMA2 of unpredicted pixels on repeats."""
    photo = make_image("photo", 96, 96, channels=1)[:, :, 0]
    assert encode_plane(photo)[0] == CONTEXT_METHOD
    stripes = np.tile(np.array([0, 255, 7, 7, 90], dtype=np.uint8), (64, 30))
    assert encode_plane(stripes)[0] == PREDICTORS.index("none")
