"""The container: compact headers, exact parsing, and clean errors on damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowzip.container import (
    MAX_TILE_LOG2,
    MODEL_ID_BYTES,
    SHIPPED_MODEL_IDS,
    Header,
    Palette,
    covering_tile_log2,
    read_container,
    write_container,
)
from flowzip.errors import FlowzipError
from flowzip.metadata import EXIF, ICC, XMP, Metadata


def test_small_image_overhead_is_at_most_13_bytes() -> None:
    """A 32x32 RGB file coded with a shipped model: header, model number, checksum and length (everything but
    the payload) in 13 bytes or fewer.

    The codec gives an image that fits in one tile the smallest tile that covers it, whose size the header
    then leaves out.
    """
    header = Header(32, 32, "RGB", "image", covering_tile_log2(32, 32), 0xDEADBEEF, SHIPPED_MODEL_IDS[0])
    payload = bytes(1500)
    data = write_container(header, [payload])
    assert len(data) - len(payload) <= 13
    assert read_container(data) == (header, [payload])


@pytest.mark.parametrize(
    "header",
    [
        Header(1000, 700, "RGBA", "array", 8, 1, b"abcd", Metadata(((ICC, b"icc" * 100),))),
        Header(10, 7, "RGB", "image", 8, 1, b"abcd", Metadata(((EXIF, b"MM\0*"), (XMP, b""), ("png:tEXt", b"a\0b")))),
        Header(3, 2, "P", "image", 12, 2, palette=Palette("RGBA", bytes(range(16)), b"\x00\xff")),
        Header(3, 2, "P", "image", 12, 3, palette=Palette("RGB", bytes(range(12)), 2)),
        Header(5, 4, "L", "array2d", 12, 4),
        Header(300, 20, "RGB", "image", 9, 5, b"abcd", colour_key=(1, 65535, 3)),
        Header(300, 20, "RGB", "image", 8, 5, b"abcd"),
        Header(5, 4, "L", "image", 12, 6, colour_key=(7,)),
        Header(5, 4, "1", "image", 12, 7, colour_key=(255,)),
    ],
)
def test_header_round_trip(header: Header) -> None:
    sections = [bytes([i]) * (i + 1) for i in range(header.section_count)]
    assert read_container(write_container(header, sections)) == (header, sections)


def test_a_shipped_model_takes_one_byte_of_the_header() -> None:
    """Format 6 names a shipped model by its number, any other model by a marker and its id: 3 bytes more."""
    shipped, other = (Header(32, 32, "RGB", "array", 5, 1, model_id) for model_id in (SHIPPED_MODEL_IDS[-1], b"abcd"))
    short, long = (write_container(h, [b"tile"]) for h in (shipped, other))
    assert len(long) - len(short) == MODEL_ID_BYTES
    assert [read_container(d)[0] for d in (short, long)] == [shipped, other]
    at = len(b"FZ") + 4  # version, flags and one-byte width and height before it
    unknown = short[:at] + bytes([len(SHIPPED_MODEL_IDS)]) + short[at + 1 :]
    with pytest.raises(FlowzipError, match=f"shipped model number {len(SHIPPED_MODEL_IDS)}"):
        read_container(unknown)


def test_every_truncation_is_a_clean_error_that_says_so() -> None:
    header = Header(600, 300, "RGBA", "image", 8, 5, b"abcd", Metadata(((ICC, bytes(range(40))),)))
    data = write_container(header, [b"t" * 20] * header.section_count)
    for n in range(len(data)):  # every cut, also one inside the last section
        with pytest.raises(FlowzipError, match="truncated"):
            read_container(data[:n])


def test_bytes_after_the_last_section_are_an_error() -> None:
    data = write_container(Header(5, 4, "L", "image", 12, 6), [b"plane"])
    with pytest.raises(FlowzipError, match="1 bytes after the last section"):
        read_container(data + b"x")


def test_a_colour_key_must_fit_the_mode() -> None:
    with pytest.raises(ValueError, match="colour key"):
        write_container(Header(5, 4, "RGB", "image", 12, 6, b"abcd", colour_key=(7,)), [b"tile"])


@pytest.mark.parametrize(
    ("position", "value", "message"),
    [
        (0, ord("X"), "not a flowzip file"),
        (2, 10, "unsupported flowzip format version"),
        (3, 0x47, "invalid flags"),
        (3, 0x30, "invalid flags"),
        (3, 0x82, "a L image has no tiles"),
    ],
)
def test_bad_header_bytes(position: int, value: int, message: str) -> None:
    data = bytearray(write_container(Header(8, 8, "RGB", "image", 8, 0, b"abcd"), [b"payload"]))
    data[position] = value
    with pytest.raises(FlowzipError, match=message):
        read_container(bytes(data))


def test_16_bit_modes_take_the_mode_byte() -> None:
    """Format 9's modes 6 to 9: flag code 6 and a byte; code 7, an unknown byte, or code 6 before format 9 are
    invalid."""
    header = Header(3, 2, "RGBA;16", "array", MAX_TILE_LOG2, 0)
    data = write_container(header, [b"x", b"y"])
    assert data[3] & 0x07 == 6 and data[4] == 3 and read_container(data)[0] == header
    for position, value in ((3, (data[3] & ~0x07) | 7), (4, 4), (2, 8)):
        damaged = bytearray(data)
        damaged[position] = value
        with pytest.raises(FlowzipError, match="invalid flags"):
            read_container(bytes(damaged))


@pytest.mark.parametrize("flag", [0x40, 0x80])
def test_format_1_files_have_no_flags_of_format_2(flag: int) -> None:
    data = bytearray((Path(__file__).parent / "compat" / "v1" / "rgb-tiles.fzi").read_bytes())
    data[3] |= flag
    with pytest.raises(FlowzipError, match="invalid flags"):
        read_container(bytes(data))


def test_huge_dimensions_are_rejected_before_allocating() -> None:
    data = bytearray(write_container(Header(8, 8, "L", "image", 12, 0), [b"x"]))
    forged = data[:4] + bytes([0xA0, 0x8D, 0x06]) * 2 + data[6:]  # 100000 x 100000
    with pytest.raises(FlowzipError, match=r"invalid image size|exceeds"):
        read_container(bytes(forged))
