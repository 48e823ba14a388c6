"""Metadata: read from every kind of input, stored in the container, and written to each output format."""

from __future__ import annotations

import contextlib
import io
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

import flowzip
from flowzip.container import read_metadata_field, write_metadata_field
from flowzip.errors import FlowzipError
from flowzip.frontends.batch import encode_output
from flowzip.learned.zoo import Model
from flowzip.metadata import (
    COMMENT,
    DPI,
    EXIF,
    ICC,
    XMP,
    Metadata,
    insert_png_chunks,
    of_image,
    read_png_chunks,
    save_options,
)

from conftest import make_image


def _png(image: Image.Image, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", **options)
    return buf.getvalue()


def _crc(records: bytes) -> bytes:
    return zlib.crc32(records).to_bytes(4, "little")


def _smooth_profile(size: int) -> bytes:
    """A stand-in for a large ICC profile: mostly smooth 16-bit curves, as a LUT profile's tables are."""
    curve = (np.sin(np.linspace(0, 20, size // 2)) * 30000 + 32768).astype(">u2")
    return b"acsp" + curve.tobytes()[: size - 4]


@pytest.mark.parametrize(
    "records",
    [
        (),
        ((ICC, b""),),
        ((DPI, b"300.0 300.0"), ("png:tEXt", b"k\0v"), ("png:tEXt", b"k2\0v2")),
        ((ICC, bytes(range(256)) * 40), (EXIF, b"MM\0*" + bytes(100)), ("a-later-kind", b"\xff" * 3)),
    ],
)
def test_records_round_trip_through_the_field(records: tuple) -> None:
    assert read_metadata_field(write_metadata_field(Metadata(records))) == Metadata(records)


def test_the_field_is_compressed_only_where_that_is_shorter() -> None:
    small = Metadata(((DPI, b"72.0 72.0"),))
    assert (
        len(write_metadata_field(small)) == 1 + 1 + 3 + 1 + 9 + 4
    )  # coding, name length, name, value length, value, CRC
    profile = _smooth_profile(400_000)
    assert len(write_metadata_field(Metadata(((ICC, profile),)))) < len(profile) // 4


def test_a_large_icc_profile_no_longer_makes_the_file_larger_than_its_png(tiny_model: Model) -> None:
    """The profile is compressed in the file, as PNG's iCCP compresses it (the issue's 400 KB profile)."""
    image = Image.fromarray(make_image("photo", 32, 32))
    profile = _smooth_profile(400_000)
    png = _png(image, icc_profile=profile)
    image.info["icc_profile"] = profile
    data = flowzip.compress(image, model=tiny_model)
    assert len(data) < len(png)
    assert flowzip.decompress(data, model=tiny_model).info["icc_profile"] == profile


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (b"", "invalid metadata field"),
        (b"\x02" + _crc(b""), "invalid metadata field"),
        (b"\x00\x03ic" + _crc(b"\x03ic"), "truncated file .while reading metadata name"),
        (b"\x00\x00\x00" + _crc(b"\x00\x00"), "invalid metadata name"),
        (b"\x00\x01a\x02b" + _crc(b"\x01a\x02b"), "truncated file .while reading metadata"),
        (b"\x00\x41" + b"x" * 65 + _crc(b"\x41" + b"x" * 65), "exceeds 64"),
        (b"\x01\x05" + b"\x00" * 8 + _crc(b""), "do not decompress|not the size stored"),
        (b"\x01\x80\x80\x80\x40" + _crc(b""), "exceeds"),
        (b"\x00\x01a\x01b" + _crc(b"\x01a\x01c"), "checksum"),
    ],
)
def test_a_damaged_field_is_a_clean_error(field: bytes, message: str) -> None:
    with pytest.raises(FlowzipError, match=message):
        read_metadata_field(field)


def test_every_damaged_byte_of_a_field_is_caught() -> None:
    """The CRC-32 covers the records: a flipped bit is an error or, where the damage did not matter (a bit of
    the LZMA2 stream's padding), the same records; never other metadata."""
    for records in (((ICC, bytes(1000)),), ((DPI, b"72.0 72.0"), ("png:tEXt", b"a\0b"))):
        field = write_metadata_field(Metadata(records))
        for i in range(len(field)):
            for bit in (0x01, 0x80):
                damaged = field[:i] + bytes([field[i] ^ bit]) + field[i + 1 :]
                with contextlib.suppress(FlowzipError):
                    assert read_metadata_field(damaged) == Metadata(records)


def test_an_lzma_field_must_hold_exactly_its_stated_size() -> None:
    field = write_metadata_field(Metadata(((ICC, bytes(1000)),)))
    assert field[0] == 1
    for forged in (field[:2] + field[3:], field + b"\0", field[:-1]):
        with pytest.raises(FlowzipError):
            read_metadata_field(forged)


def test_every_truncation_of_a_file_with_metadata_is_an_error(tiny_model: Model) -> None:
    image = Image.fromarray(make_image("photo", 8, 8))
    image.info.update(icc_profile=bytes(300), exif=b"MM\0*" + bytes(60), xmp=b"<x/>")
    data = flowzip.compress(image, model=tiny_model)
    for n in range(len(data)):
        with pytest.raises(FlowzipError):
            flowzip.decompress(data[:n], model=tiny_model)


def test_a_png_file_keeps_every_ancillary_chunk_and_pillow_s_view_keeps_what_it_parsed() -> None:
    chunks = PngImagePlugin.PngInfo()
    chunks.add_text("Title", "t")
    chunks.add(b"cICP", b"\1\x0d\0\1")  # Pillow does not read cICP
    chunks.add(b"gAMA", struct.pack(">I", 45455))
    raw = _png(Image.fromarray(make_image("photo", 4, 4)), pnginfo=chunks, dpi=(300, 300))
    with Image.open(io.BytesIO(raw)) as image:
        image.load()
        from_file, from_pillow = of_image(image, raw), of_image(image)
    kinds = {k for k, _ in from_file.records}
    assert kinds == {"png:tEXt", "png:cICP", "png:gAMA", "png:pHYs"}
    assert {k for k, _ in from_pillow.records} == kinds - {"png:cICP"}
    assert dict(from_file.png_chunks())[b"pHYs"] == dict(from_pillow.png_chunks())[b"pHYs"]
    assert dict(from_file.png_chunks())[b"gAMA"] == dict(from_pillow.png_chunks())[b"gAMA"]


def test_png_output_is_a_valid_png_that_pillow_reads_back() -> None:
    """The added chunks sit where PNG wants them (gAMA before PLTE, the rest before the first IDAT)."""
    image = Image.fromarray(make_image("photo", 6, 6)).quantize(colors=8)
    metadata = Metadata((("png:gAMA", struct.pack(">I", 45455)), ("png:tEXt", b"Title\0hello"), (XMP, b"<x/>")))
    data, note = encode_output(image, Path("x.png"), metadata)
    assert note == ""
    cids = [cid for cid, _ in read_png_chunks(data)]
    assert cids.index(b"gAMA") < cids.index(b"PLTE") < cids.index(b"tEXt") < cids.index(b"IDAT")
    with Image.open(io.BytesIO(data)) as back:
        back.load()
        assert back.info["gamma"] == 0.45455 and back.info["Title"] == "hello" and back.info["xmp"] == b"<x/>"
        assert np.array_equal(np.asarray(back), np.asarray(image))


def test_insert_png_chunks_leaves_a_png_without_additions_alone() -> None:
    raw = _png(Image.fromarray(make_image("photo", 3, 3)))
    assert insert_png_chunks(raw, []) == raw


@pytest.mark.parametrize(
    ("fmt", "unkept"),
    [
        ("PNG", ["Photoshop resources"]),
        ("WEBP", ["Photoshop resources", "comment", "resolution", "tEXt chunk"]),
        ("TIFF", ["comment", "tEXt chunk"]),
        ("BMP", ["ICC profile", "EXIF", "XMP", "Photoshop resources", "comment", "tEXt chunk"]),
    ],
)
def test_each_output_format_names_what_it_cannot_hold(fmt: str, unkept: list[str]) -> None:
    metadata = Metadata(
        (
            (ICC, b"p"),
            (EXIF, Image.Exif().tobytes()[6:]),
            (XMP, b"<x/>"),
            ("photoshop", b"8BIM"),
            (COMMENT, b"hi"),
            (DPI, b"72.0 96.0"),
            ("png:tEXt", b"a\0b"),
        )
    )
    assert sorted(save_options(metadata, fmt).unkept) == sorted(unkept)


def test_strip_keeps_only_the_icc_profile(tiny_model: Model) -> None:
    image = Image.fromarray(make_image("photo", 8, 8))
    image.info.update(icc_profile=b"profile", exif=b"MM\0*" + bytes(60), xmp=b"<x/>", gamma=0.5)
    header = flowzip.read_header(flowzip.compress(image, model=tiny_model, strip=True))
    assert header.metadata == Metadata(((ICC, b"profile"),))
    none = Image.fromarray(make_image("photo", 8, 8))
    assert not flowzip.read_header(flowzip.compress(none, model=tiny_model, strip=True)).metadata


def test_arrays_carry_metadata_only_when_given(tiny_model: Model) -> None:
    pixels = make_image("photo", 8, 8)
    assert not flowzip.read_header(flowzip.compress(pixels, model=tiny_model)).metadata
    given = Metadata(((XMP, b"<x/>"),))
    data = flowzip.compress(pixels, model=tiny_model, metadata=given)
    assert flowzip.read_header(data).metadata == given
    assert np.array_equal(flowzip.decompress(data, model=tiny_model), pixels)


def test_verify_compares_the_metadata_too(tiny_model: Model) -> None:
    image = Image.fromarray(make_image("photo", 8, 8))
    image.info["exif"] = b"Exif\0\0MM\0*" + bytes(60)
    data = flowzip.compress(image, model=tiny_model, verify=True)
    assert flowzip.decompress(data, model=tiny_model).info["exif"] == image.info["exif"]


@pytest.mark.parametrize("exif", [b"\xff\xff\xff\xff\x00\x00\x00\x08", b"MM\x00*\x00\x00\x00\x08\x00\x05\x01"])
def test_malformed_exif_is_kept_as_it_is_and_named_where_it_cannot_become_tags(exif: bytes) -> None:
    """EXIF that Pillow cannot read (Pillow's own invalid-exif.jpg and truncated_exif_dpi.jpg have such) goes
    to a PNG byte for byte; a TIFF, which holds EXIF as tags, names it as not written."""
    image = Image.fromarray(make_image("photo", 4, 4))
    metadata = Metadata(((EXIF, exif),))
    assert metadata.describe() == [f"EXIF ({len(exif)} bytes)"]
    png, note = encode_output(image, Path("x.png"), metadata)
    assert note == "" and dict(read_png_chunks(png))[b"eXIf"] == exif
    tiff, note = encode_output(image, Path("x.tif"), metadata)
    assert note == "TIFF cannot hold its EXIF: not written"
    with Image.open(io.BytesIO(tiff)) as back:
        assert np.array_equal(np.asarray(back), np.asarray(image))


def test_what_is_not_kept_of_a_jpeg_or_tiff_is_named(tmp_path: Path, tiny_model: Model) -> None:
    """A JPEG's APP segments that are no record (a maker's, an extended XMP) and a TIFF's tags that are neither
    layout nor kept are named in a warning, unless the metadata are stripped on purpose."""
    from PIL import TiffImagePlugin

    image = Image.fromarray(make_image("photo", 8, 8))
    image.save(tmp_path / "x.jpg", quality=95)
    jpeg = (tmp_path / "x.jpg").read_bytes()
    ducky = b"Ducky\0\1\0\4\0\0\0\x50\0\0"
    (tmp_path / "x.jpg").write_bytes(jpeg[:2] + b"\xff\xec" + (len(ducky) + 2).to_bytes(2, "big") + ducky + jpeg[2:])
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[269], tags[297], tags[65000] = "a document", (1, 1), "private"
    image.save(tmp_path / "x.tif", tiffinfo=tags)
    expected = {
        "x.jpg": "its JPEG segment APP12 (Ducky) is not kept",
        "x.tif": "its TIFF tags DocumentName, PageNumber, 65000 are not kept",
    }
    for name, message in expected.items():
        with Image.open(tmp_path / name) as opened:
            with pytest.warns(flowzip.FlowzipWarning, match=re.escape(message)):
                flowzip.compress(opened, model=tiny_model)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                flowzip.compress(opened, model=tiny_model, strip=True)
