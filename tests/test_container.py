"""The container: compact headers, exact parsing, and clean errors on damaged files."""

from __future__ import annotations

import pytest

from flowzip.container import Header, Palette, read_container, write_container
from flowzip.errors import FlowzipError


def test_small_image_overhead_is_at_most_16_bytes() -> None:
    """A 32x32 RGB file: header, model id and checksum (everything but the payload) in 16 bytes or fewer."""
    header = Header(32, 32, "RGB", "image", 8, 0xDEADBEEF, b"\x01\x02\x03\x04")
    payload = bytes(1500)
    data = write_container(header, [payload])
    assert len(data) - len(payload) <= 16
    assert read_container(data) == (header, [payload])


@pytest.mark.parametrize(
    "header",
    [
        Header(1000, 700, "RGBA", "array", 8, 1, b"abcd", icc_profile=b"icc" * 100),
        Header(3, 2, "P", "image", 12, 2, palette=Palette("RGBA", bytes(range(16)), b"\x00\xff")),
        Header(3, 2, "P", "image", 12, 3, palette=Palette("RGB", bytes(range(12)), 2)),
        Header(5, 4, "L", "array2d", 12, 4),
    ],
)
def test_header_round_trip(header: Header) -> None:
    sections = [bytes([i]) * (i + 1) for i in range(header.section_count)]
    assert read_container(write_container(header, sections)) == (header, sections)


def test_every_truncation_is_a_clean_error() -> None:
    header = Header(600, 300, "RGBA", "image", 8, 5, b"abcd", icc_profile=b"x" * 40)
    data = write_container(header, [b"t" * 20] * header.section_count)
    for n in range(len(data) - 20 * header.section_count + 19):  # every cut that loses a length or a section
        with pytest.raises(FlowzipError):
            read_container(data[:n])


@pytest.mark.parametrize(
    ("position", "value", "message"),
    [
        (0, ord("X"), "not a flowzip file"),
        (2, 9, "unsupported flowzip format version"),
        (3, 0x47, "invalid flags"),
        (3, 0x80, "invalid flags"),
    ],
)
def test_bad_header_bytes(position: int, value: int, message: str) -> None:
    data = bytearray(write_container(Header(8, 8, "RGB", "image", 8, 0, b"abcd"), [b"payload"]))
    data[position] = value
    with pytest.raises(FlowzipError, match=message):
        read_container(bytes(data))


def test_huge_dimensions_are_rejected_before_allocating() -> None:
    data = bytearray(write_container(Header(8, 8, "L", "image", 12, 0), [b"x"]))
    forged = data[:4] + bytes([0xA0, 0x8D, 0x06]) * 2 + data[6:]  # 100000 x 100000
    with pytest.raises(FlowzipError, match=r"invalid image size|exceeds"):
        read_container(bytes(forged))
