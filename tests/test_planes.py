"""The classical coder: every way of coding an array decodes to it exactly, and each is chosen where it pays."""

from __future__ import annotations

import numpy as np
import pytest

from flowzip.planes import CONTEXT_METHOD, PREDICTORS, _context_code, decode_plane, decode_rgb, encode_plane, encode_rgb

from conftest import make_image

SHAPES = [(1, 1), (1, 9), (9, 1), (17, 23)]


@pytest.mark.parametrize("content", ["noise", "constant", "gradient", "photo"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("channels", [1, 3])
def test_context_coder_round_trip(content: str, shape: tuple[int, int], channels: int) -> None:
    pixels = make_image(content, *shape, channels=channels)
    out = np.empty(4 * pixels.size + 64, dtype=np.uint8)
    written = _context_code(pixels.copy(), out, False)
    assert written > 0
    decoded = np.empty_like(pixels)
    assert _context_code(decoded, out[:written].copy(), True) == written
    assert np.array_equal(decoded, pixels)


def test_context_coder_gives_up_when_longer_than_its_budget() -> None:
    assert _context_code(make_image("noise", 16, 16, channels=1), np.empty(100, dtype=np.uint8), False) == -1


@pytest.mark.parametrize("content", ["noise", "constant", "gradient", "photo"])
def test_planes_and_rgb_round_trip(content: str) -> None:
    rgb = make_image(content, 33, 47)
    assert np.array_equal(decode_plane(encode_plane(rgb[:, :, 0]), 33, 47), rgb[:, :, 0])
    assert np.array_equal(decode_rgb(encode_rgb(rgb), 33, 47), rgb)


def test_each_coding_is_chosen_where_it_pays() -> None:
    """The context coder on photo-like content, LZMA2 of unpredicted pixels on repeats."""
    photo = make_image("photo", 96, 96, channels=1)[:, :, 0]
    assert encode_plane(photo)[0] == CONTEXT_METHOD
    stripes = np.tile(np.array([0, 255, 7, 7, 90], dtype=np.uint8), (64, 30))
    assert encode_plane(stripes)[0] == PREDICTORS.index("none")
