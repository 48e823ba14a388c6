"""16-bit images (format 9): the deep sections' forms, round trips at the extremes of size and content, every
16-bit mode through the codec, and damaged sections failing cleanly."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import flowzip
from flowzip.classical.deep import decode_deep, encode_deep
from flowzip.classical.methods import DEEP_FORMS
from flowzip.container import MAX_TILE_LOG2, Header, deep_sections
from flowzip.errors import FlowzipError

from conftest import make_image

_RNG = np.random.default_rng(16)


def _contents(height: int, width: int, channels: int) -> dict[str, np.ndarray]:
    photo = make_image("photo", height, width, channels=3)[:, :, :channels].astype(np.uint16)
    shape = (height, width, channels)
    return {
        "zero": np.zeros(shape, np.uint16),
        "full": np.full(shape, 65535, np.uint16),
        "noise": _RNG.integers(0, 65536, shape).astype(np.uint16),
        "two values": np.where(_RNG.random(shape) < 0.5, 3, 65000).astype(np.uint16),
        "x257": photo * 257,
        "12 bits << 4": ((photo << 4) | _RNG.integers(0, 16, shape).astype(np.uint16)) << 4,
        "9 bits": photo * 2 + _RNG.integers(0, 2, shape).astype(np.uint16),
        "low byte only": photo,
        "photo, 16 bits": np.clip(photo * 257 + _RNG.normal(0, 30, shape), 0, 65535).astype(np.uint16),
        "ramp": (np.arange(height * width * channels) * 977 % 65536).astype(np.uint16).reshape(shape),
        "12 bits scaled": (photo * 16 + _RNG.integers(0, 16, shape) * 65535 // 4095).astype(np.uint16),
        "few values": np.array([0, 662, 30000, 65535], np.uint16)[_RNG.integers(0, 4, shape)],
    }


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(1, 1), (1, 37), (29, 1), (70, 70)])
def test_every_content_comes_back(size: tuple[int, int], channels: int) -> None:
    for name, samples in _contents(*size, channels).items():
        data = encode_deep(samples)
        assert np.array_equal(decode_deep(data, *samples.shape), samples), name
        assert len(data) <= 1 + samples.nbytes, f"{name}: never more than the samples stored"


def test_forms_are_chosen_by_content() -> None:
    contents = _contents(40, 40, 3)
    assert DEEP_FORMS[encode_deep(contents["x257"])[0]] == "replicated"
    assert DEEP_FORMS[encode_deep(contents["low byte only"])[0]] == "narrow"
    assert encode_deep(contents["12 bits << 4"])[:3] == bytes([DEEP_FORMS.index("deep"), 4, 12])
    assert DEEP_FORMS[encode_deep(contents["noise"])[0]] == "stored"
    few = encode_deep(contents["few values"])
    assert DEEP_FORMS[few[0]] == "indexed" and int.from_bytes(few[1:3], "little") == 3
    photo16 = encode_deep(contents["photo, 16 bits"])
    assert DEEP_FORMS[photo16[0]] == "deep" and len(photo16) < 0.9 * contents["photo, 16 bits"].nbytes


def test_8_bit_information_costs_what_the_8_bit_image_costs() -> None:
    """A grey image x 257 codes to the 8-bit image's section: the files differ by the mode and form bytes."""
    grey = make_image("photo", 48, 64, channels=3)[:, :, 1]
    eight = flowzip.compress(grey)
    sixteen = flowzip.compress(grey.astype(np.uint16) * 257)
    assert len(sixteen) - len(eight) == 2


@pytest.mark.parametrize("channels", [None, 1, 2, 3, 4])
def test_every_16_bit_mode_round_trips(channels: int | None) -> None:
    shape = (23, 31) if channels is None else (23, 31, channels)
    samples = np.clip(_RNG.normal(30000, 4000, shape), 0, 65535).astype(np.uint16)
    data = flowzip.compress(samples, verify=True)
    back = flowzip.decompress(data)
    assert back.dtype == np.uint16 and back.shape == samples.shape and np.array_equal(back, samples)
    mode = flowzip.read_header(data).mode
    assert mode == {None: "I;16", 1: "I;16", 2: "LA;16", 3: "RGB;16", 4: "RGBA;16"}[channels]
    if mode != "I;16":
        with pytest.raises(FlowzipError, match="no PIL form"):
            flowzip.decompress_image(data)


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I"])
def test_pil_16_bit_grey_comes_back_as_i16(mode: str) -> None:
    samples = _RNG.integers(0, 65536, (9, 11)).astype(np.uint16)
    if mode == "I;16B":  # Pillow's convert to I;16B gives 255s: made from the bytes
        image = Image.frombytes(mode, (11, 9), samples.astype(">u2").tobytes())
    else:
        image = Image.fromarray(samples).convert(mode) if mode == "I" else Image.fromarray(samples)
    image.info["transparency"] = 40000
    back = flowzip.decompress(flowzip.compress(image))
    assert back.mode == "I;16" and np.array_equal(np.asarray(back), samples)
    assert back.info["transparency"] == 40000


@pytest.mark.parametrize(
    ("height", "width", "rows"),
    [(1, 1, [1]), (1000, 1100, [500, 500]), (3, 1 << 20, [1, 1, 1]), (2048, 512, [2048]), (2049, 512, [1025, 1024])],
)
def test_strips_are_even_and_about_a_megapixel(height: int, width: int, rows: list[int]) -> None:
    sections = deep_sections("LA;16", height, width)
    assert [r.stop - r.start for r, _ in sections] == rows * 2 and {c.stop - c.start for _, c in sections} == {1}
    assert Header(width, height, "LA;16", "array", MAX_TILE_LOG2, 0).section_count == 2 * len(rows)


def test_strips_code_alike_on_any_number_of_cores() -> None:
    samples = np.clip(_RNG.normal(30000, 3000, (1100, 1000)), 0, 65535).astype(np.uint16)[:, :, None]
    samples[:, :, 0] += np.arange(1000, dtype=np.uint16)
    calls: list[tuple[int, int]] = []
    data = flowzip.compress(samples, jobs=1, progress=lambda *call: calls.append(call))
    assert flowzip.compress(samples, jobs=2) == data and len(flowzip.read_header(data).deep_sections()) == 2
    assert np.array_equal(flowzip.decompress(data, jobs=2, progress=lambda *call: calls.append(call)), samples)
    assert calls == [(1, 2), (2, 2)] * 2, "progress after each strip, both ways"


def test_numpy_byte_order_does_not_matter() -> None:
    samples = _RNG.integers(0, 65536, (6, 5, 3)).astype(np.uint16)
    assert flowzip.compress(samples.astype(">u2")) == flowzip.compress(samples)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (b"", "invalid form"),
        (bytes([len(DEEP_FORMS)]), "invalid form"),
        (bytes([DEEP_FORMS.index("stored")]) + b"\0" * 5, "wrong length"),
        (bytes([DEEP_FORMS.index("deep"), 16, 9]), "invalid shift"),
        (bytes([DEEP_FORMS.index("deep"), 4, 13]), "invalid bit count"),
        (bytes([DEEP_FORMS.index("deep"), 0, 8]), "invalid bit count"),
        (bytes([DEEP_FORMS.index("deep"), 0, 16, 2]), "invalid bit count or transform"),
        (bytes([DEEP_FORMS.index("indexed"), 0, 0]), "cut short"),
        (bytes([DEEP_FORMS.index("indexed"), 0, 0, 1, 0, 7, DEEP_FORMS.index("stored")]), "does not decompress"),
        (bytes([DEEP_FORMS.index("indexed"), 0, 0, 0, 0, DEEP_FORMS.index("indexed")]), "invalid table"),
    ],
)
def test_damaged_sections_fail_cleanly(section: bytes, message: str) -> None:
    with pytest.raises(FlowzipError, match=message):
        decode_deep(section, 2, 2, 3)


def test_indexed_values_past_the_table_fail_cleanly() -> None:
    section = encode_deep(_contents(8, 8, 1)["few values"])
    head = 5 + int.from_bytes(section[3:5], "little")
    stored = bytes([DEEP_FORMS.index("stored")]) + np.full(64, 4, "<u2").tobytes()  # rank 4 of 4 values
    with pytest.raises(FlowzipError, match="past its table"):
        decode_deep(section[:head] + stored, 8, 8, 1)


def test_truncated_deep_streams_fail_cleanly() -> None:
    samples = _contents(20, 20, 3)["photo, 16 bits"]
    data = flowzip.compress(samples)
    for cut in range(len(data) - 40, len(data)):
        with pytest.raises(FlowzipError):
            flowzip.decompress(data[:cut])
