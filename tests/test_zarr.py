"""flowzip as a numcodecs codec and a zarr v3 codec: registered by name, exact on every chunk layout it takes, a
clear error for any other, and zarr arrays of both formats written and read back."""

from __future__ import annotations

import numpy as np
import pytest

from flowzip.errors import FlowzipError

from conftest import make_image

numcodecs = pytest.importorskip("numcodecs", reason="the zarr extra is not installed")
from flowzip.frontends.numcodecs_codec import FlowzipCodec  # noqa: E402  (after the skip)

FAST = {"effort": 1}  # the classical coder alone: no model to load


def _chunk(shape: tuple[int, ...], content: str, seed: int = 0) -> np.ndarray:
    """A uint8 chunk of ``shape`` whose last axis is channels where it has 3 dimensions or more."""
    channels = shape[-1] if len(shape) >= 3 else 1
    images = int(np.prod(shape[:-3])) if len(shape) > 3 else 1
    h, w = (shape[-3], shape[-2]) if len(shape) >= 3 else shape[-2:]
    stack = [make_image(content, h, w, channels=channels, seed=seed + k) for k in range(images)]
    return np.stack(stack).reshape(shape)


def test_numcodecs_finds_the_codec_by_its_id_and_its_config_round_trips() -> None:
    codec = numcodecs.get_codec({"id": "flowzip", "tile_size": 64, "effort": 1, "stacked": True})
    assert isinstance(codec, FlowzipCodec) and codec.get_config() == {
        "id": "flowzip",
        "model": None,
        "tile_size": 64,
        "effort": 1,
        "stacked": True,
    }
    assert numcodecs.get_codec(codec.get_config()) == codec != FlowzipCodec()


@pytest.mark.parametrize(
    ("shape", "stacked"),
    [
        ((1, 1), False),
        ((1, 300), False),
        ((40, 30), False),
        ((40, 30, 1), False),
        ((17, 9, 2), False),
        ((33, 70, 3), False),
        ((20, 31, 4), False),
        ((3, 12, 10), True),
        ((2, 12, 10, 3), True),
        ((1, 1, 1, 4), True),
    ],
)
@pytest.mark.parametrize("content", ["noise", "constant", "photo"])
def test_chunks_come_back_exactly_in_their_shape(shape: tuple[int, ...], stacked: bool, content: str) -> None:
    chunk = _chunk(shape, content)
    codec = FlowzipCodec(stacked=stacked, **FAST)
    decoded = codec.decode(codec.encode(chunk))
    assert decoded.shape == chunk.shape and np.array_equal(decoded, chunk)
    out = np.empty_like(chunk)
    assert codec.decode(codec.encode(chunk), out=out) is out and np.array_equal(out, chunk)


@pytest.mark.parametrize(("shape", "stacked"), [((9, 7), False), ((2, 9, 7, 3), True), ((5, 6, 4), False)])
def test_16_bit_chunks_come_back_exactly(shape: tuple[int, ...], stacked: bool) -> None:
    chunk = _chunk(shape, "photo").astype(np.uint16) * 251 + np.uint16(3)
    codec = FlowzipCodec(stacked=stacked, **FAST)
    decoded = codec.decode(codec.encode(chunk))
    assert decoded.dtype == np.uint16 and decoded.shape == chunk.shape and np.array_equal(decoded, chunk)


def test_small_images_get_the_default_models() -> None:
    """With the default effort each image of a stack is a file of its own, coded as ``flowzip compress`` codes
    an image of its size."""
    chunk = _chunk((2, 32, 32, 3), "photo")
    codec = FlowzipCodec(stacked=True)
    assert np.array_equal(codec.decode(codec.encode(chunk)), chunk)


@pytest.mark.parametrize(
    ("chunk", "stacked", "message"),
    [
        (np.zeros((8, 8), np.int16), False, "uint8 and uint16 chunks, not int16"),
        (np.zeros((8, 8, 3), np.float32), False, "not float32"),
        (np.zeros(64, np.uint8), False, r"shape \(64,\) is not an image"),
        (np.zeros((8, 8, 5), np.uint8), False, r"shape \(8, 8, 5\) is not an image"),
        (np.zeros((2, 8, 8, 3), np.uint8), False, r"expected \(H, W\) or \(H, W, C\)"),
        (np.zeros((8, 8), np.uint8), True, r"expected \(N, H, W\) or \(N, H, W, C\)"),
    ],
)
def test_what_is_not_an_image_chunk_is_refused(chunk: np.ndarray, stacked: bool, message: str) -> None:
    with pytest.raises(FlowzipError, match=message):
        FlowzipCodec(stacked=stacked, **FAST).encode(chunk)


def test_a_damaged_stack_is_an_error_not_an_image() -> None:
    codec = FlowzipCodec(stacked=True, **FAST)
    data = codec.encode(_chunk((2, 8, 8), "photo"))
    for damaged in (data[:3], data[:-1], data + b"\0", b"\x03" + data[1:]):
        with pytest.raises(FlowzipError, match=r"corrupt|truncated"):
            codec.decode(damaged)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_a_zarr_array_of_images_reads_back_exactly(zarr_format: int) -> None:
    zarr = pytest.importorskip("zarr", reason="zarr is not installed")
    stack = _chunk((5, 24, 20, 3), "photo")
    store = zarr.storage.MemoryStore()
    codec = {"compressors": FlowzipCodec(stacked=True, **FAST)}
    if zarr_format == 3:
        from flowzip.frontends.zarr_codec import FlowzipZarrCodec

        codec = {"serializer": FlowzipZarrCodec(stacked=True, **FAST), "compressors": None}
    array = zarr.create_array(
        store, shape=stack.shape, chunks=(2, 24, 20, 3), dtype="uint8", zarr_format=zarr_format, **codec
    )
    array[:] = stack
    again = zarr.open_array(store, mode="r")  # the codec found again by its name in the array's metadata
    assert np.array_equal(again[:], stack) and np.array_equal(again[3], stack[3])
