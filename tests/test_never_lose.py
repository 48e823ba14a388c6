"""Lossless must never lose (issue 27): the four ways flowzip once reported success and lost data, each with the
check that now stops it, and the checks that keep the class of failure from coming back.

1. Files that flowzip wrote and then refused: flat images whose sections were shorter than the reader's bound.
2. Files that flowzip wrote and could not decode: tiny images under the pixel model.
3. 16-bit images cut to 8 bits without a word (now read whole and coded at 16 bits).
4. Inputs of one run that shared an output, the last one winning.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import constriction
import imagecodecs
import numpy as np
import pytest
from PIL import Image

import flowzip
import flowzip.container
from flowzip.container import FLOW_SYMBOLS_PER_BYTE, FLOW_SYMBOLS_SLACK, MAX_TILE_LOG2
from flowzip.errors import FlowzipError

from conftest import make_image

FLOWZIP = shutil.which("flowzip") or pytest.fail("the flowzip command is not installed (pip install -e .)")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([FLOWZIP, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def _page() -> Image.Image:
    page = np.ones((2200, 1700), dtype=bool)
    page[50, 100:1600] = False  # a rule near the top: 28 bytes in all
    return Image.fromarray(page)


def _opaque(rgb: np.ndarray) -> np.ndarray:
    return np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=2)


# 1. The reader's bounds follow from what the coders reach


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.zeros((2000, 2000, 3), np.uint8),
        lambda: np.full((1200, 1600, 3), 255, np.uint8),
        lambda: _opaque(make_image("two-colour", 1500, 1536, seed=2)),
        _page,
    ],
    ids=["black-2000x2000", "white-1600x1200", "opaque-rgba-1536x1500", "bilevel-page-1700x2200"],
)
def test_very_compressible_images_decode(make) -> None:
    image = make()
    data = flowzip.compress(image)
    assert np.array_equal(np.asarray(flowzip.decompress(data)), np.asarray(image))


@pytest.mark.parametrize(
    "model",
    [
        constriction.stream.model.Categorical(np.eye(256)[200], perfect=False),  # a mixture's table
        constriction.stream.model.QuantizedGaussian(-1023, 1023, 0.0, 1e-3),  # a single distribution's
    ],
    ids=["mixture-table", "gaussian"],
)
def test_flow_section_bound_holds_at_the_coders_floor(model) -> None:
    """The flow's coder gives no symbol more than its 24-bit floor allows: its likeliest symbol, coded up to a
    whole largest tile's worth of times, still takes no fewer bytes than the reader's bound says, and the
    bound is tight within 10 % at the mixture table's floor."""
    for symbols in (1, 1000, 1 << 20, 3 << (2 * MAX_TILE_LOG2)):
        coder = constriction.stream.stack.AnsCoder()
        coder.encode_reverse(np.full(symbols, 200 if model.__class__.__name__ == "Categorical" else 0, np.int32), model)
        words = coder.get_compressed().astype("<u4").tobytes()
        length = len(words) - min(3, len(words) - len(words.rstrip(b"\0")))  # as flowzip.learned.entropy trims it
        assert symbols <= FLOW_SYMBOLS_PER_BYTE * length + FLOW_SYMBOLS_SLACK, (symbols, length)
    if model.__class__.__name__ == "Categorical":
        assert symbols > 0.9 * FLOW_SYMBOLS_PER_BYTE * length


def test_the_encoder_checks_what_it_wrote(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file the reader would refuse is never returned: here a reader's bound made too tight."""
    image = make_image("photo", 40, 40)
    monkeypatch.setattr(flowzip.container, "FLOW_SYMBOLS_PER_BYTE", 1)
    monkeypatch.setattr(flowzip.container, "FLOW_SYMBOLS_SLACK", 0)
    with pytest.raises(FlowzipError, match="internal error: the file flowzip wrote does not decode"):
        flowzip.compress(image, model="photo", tools=("flow",))


def test_verify_decodes_and_compares(monkeypatch: pytest.MonkeyPatch) -> None:
    image = Image.fromarray(make_image("photo", 30, 41, channels=4), "RGBA")
    data = flowzip.compress(image, verify=True)
    assert data == flowzip.compress(image)
    from flowzip import tiles

    decode = tiles.decode_tile

    def off_by_one(*args: object) -> np.ndarray:
        return decode(*args) ^ 1  # a decoder that is not exact

    monkeypatch.setattr(tiles, "decode_tile", off_by_one)
    with pytest.raises(FlowzipError, match="does not decode"):
        flowzip.compress(image, verify=True)


def test_test_command_and_verify_option(tmp_path: Path) -> None:
    Image.fromarray(make_image("photo", 30, 41)).save(tmp_path / "a.png")
    assert run("compress", "a.png", "--verify", "-q", cwd=tmp_path).returncode == 0
    data = (tmp_path / "a.fzi").read_bytes()
    (tmp_path / "cut.fzi").write_bytes(data[:-5])
    flipped = bytearray(data)
    flipped[-3] ^= 0x10
    (tmp_path / "flipped.fzi").write_bytes(bytes(flipped))
    ok = run("test", "a.fzi", cwd=tmp_path)
    assert ok.returncode == 0 and "a.fzi: ok" in ok.stderr
    bad = run("test", "a.fzi", "cut.fzi", "flipped.fzi", cwd=tmp_path)
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert any(line.startswith("flowzip: cut.fzi: truncated") for line in lines)
    assert any(line.startswith("flowzip: flipped.fzi: ") for line in lines)
    assert "1 files, " in lines[-1] and "2 failed" in lines[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.fzi", "a.png", "cut.fzi", "flipped.fzi"]


# 2. Tiny images under the pixel model: tests/test_round_trips.py codes every size and model


# 3. Images of more than 8 bits a sample are read whole, never cut


def _png16(path: Path, samples: np.ndarray, colour_type: int, frames: int = 1) -> None:
    """A 16-bit PNG (an APNG of ``frames`` equal frames if more than one)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    height, width = samples.shape[:2]
    rows = b"".join(b"\0" + samples[i].astype(">u2").tobytes() for i in range(height))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0))
    if frames > 1:
        png += chunk(b"acTL", struct.pack(">II", frames, 0))
    for k in range(frames):
        if frames > 1:
            png += chunk(b"fcTL", struct.pack(">IIIIIHHBB", 2 * k, width, height, 0, 0, 1, 10, 0, 0))
        body = zlib.compress(rows)
        png += chunk(b"IDAT", body) if k == 0 else chunk(b"fdAT", struct.pack(">I", 2 * k + 1) + body)
    path.write_bytes(png + chunk(b"IEND", b""))


def _tiff16(path: Path, samples: np.ndarray) -> None:
    """An uncompressed little-endian TIFF of 16-bit RGB or RGBA samples."""
    height, width, channels = samples.shape
    pixels = samples.astype("<u2").tobytes()
    bits_at = 8 + len(pixels)
    bits = struct.pack(f"<{channels}H", *[16] * channels)
    short = (3, 1)
    tags = [
        (256, *short, width),
        (257, *short, height),
        (258, 3, channels, bits_at),
        (259, *short, 1),
        (262, *short, 2),
        (273, 4, 1, 8),
        (277, *short, channels),
        (278, *short, height),
        (279, 4, 1, len(pixels)),
        (284, *short, 1),
    ] + ([(338, *short, 2)] if channels == 4 else [])
    entries = b"".join(
        struct.pack("<HHII", *t) if t[1] == 4 or t[2] > 1 else struct.pack("<HHIHH", *t, 0) for t in tags
    )
    ifd = struct.pack("<H", len(tags)) + entries + b"\0\0\0\0"
    path.write_bytes(b"II*\0" + struct.pack("<I", bits_at + len(bits)) + pixels + bits + ifd)


def _bmp565(path: Path, rgb: np.ndarray) -> None:
    """A 16-bit-a-pixel BMP (5-6-5 bit fields): 8 bits a sample at most, which flowzip codes."""
    height, width, _ = rgb.shape
    packed = ((rgb[:, :, 0] >> 3).astype(np.uint16) << 11) | ((rgb[:, :, 1] >> 2).astype(np.uint16) << 5)
    packed |= rgb[:, :, 2] >> 3
    stride = -(-2 * width // 4) * 4
    rows = b"".join(packed[i].astype("<u2").tobytes().ljust(stride, b"\0") for i in range(height - 1, -1, -1))
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 16, 3, len(rows), 2835, 2835, 0, 0)
    masks = struct.pack("<III", 0xF800, 0x07E0, 0x001F)
    offset = 14 + len(info) + len(masks)
    path.write_bytes(b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) + info + masks + rows)


DEEP_FILES = {
    "rgb16.png": lambda p, s: _png16(p, s[:, :, :3], 2),
    "rgba16.png": lambda p, s: _png16(p, s, 6),
    "la16.png": lambda p, s: _png16(p, s[:, :, :2], 4),
    "grey16.png": lambda p, s: _png16(p, s[:, :, 0], 0),
    "animated16.png": lambda p, s: _png16(p, s[:, :, :3], 2, frames=2),
    "rgb16.tif": lambda p, s: _tiff16(p, s[:, :, :3]),
    "rgba16.tif": lambda p, s: _tiff16(p, s),
    "rgb16.ppm": lambda p, s: p.write_bytes(b"P6 7 5 65535\n" + s[:, :, :3].astype(">u2").tobytes()),
    "grey16.pgm": lambda p, s: p.write_bytes(b"P5 7 5 65535\n" + s[:, :, 0].astype(">u2").tobytes()),
    "rgb10.ppm": lambda p, s: p.write_bytes(b"P6 7 5 1023\n" + (s[:, :, :3] >> 6).astype(">u2").tobytes()),
}


def _written_samples(name: str, samples: np.ndarray) -> np.ndarray:
    """What ``DEEP_FILES[name]`` stores of ``samples`` (H, W, 4)."""
    channels = {"rgb": 3, "rgba": 4, "la": 2, "grey": 1}[name.split("1")[0]]
    return (samples[:, :, :channels] >> (6 if "10" in name else 0)).astype(np.uint16)


@pytest.mark.parametrize("name", sorted(set(DEEP_FILES) - {"animated16.png"}))
def test_deep_images_come_back_whole(tmp_path: Path, name: str) -> None:
    """Each 16-bit file is coded at 16 bits and decompresses to a 16-bit PNG of the same samples."""
    samples = np.random.default_rng(0).integers(0, 65536, (5, 7, 4))
    DEEP_FILES[name](tmp_path / name, samples)
    r = run("compress", name, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    fzi = (tmp_path / name).with_suffix(".fzi")
    decoded = flowzip.decompress(fzi.read_bytes())
    assert decoded.dtype == np.uint16 if isinstance(decoded, np.ndarray) else decoded.mode == "I;16"
    expected = _written_samples(name, samples)
    got = np.asarray(decoded)
    assert np.array_equal(got.reshape(expected.shape), expected)
    assert run("decompress", fzi.name, "-o", "back.png", cwd=tmp_path).returncode == 0
    back = imagecodecs.imread(tmp_path / "back.png")
    assert np.array_equal(back.reshape(expected.shape), expected), "the PNG holds the 16-bit samples"
    if expected.shape[2] > 1:  # the library never takes what Pillow cut
        with pytest.raises(FlowzipError, match="would lose the low bits"), Image.open(tmp_path / name) as image:
            flowzip.compress(image)


def test_a_16_bit_animation_is_refused(tmp_path: Path) -> None:
    DEEP_FILES["animated16.png"](tmp_path / "a.png", np.zeros((5, 7, 4), dtype=np.uint16))
    r = run("compress", "a.png", cwd=tmp_path)
    assert r.returncode == 1 and "an animation of 2 frames" in r.stderr and not (tmp_path / "a.fzi").exists()


def test_16_bit_colour_without_imagecodecs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow cuts 16-bit colour to 8 bits: without imagecodecs a PNG is read whole all the same, and a TIFF is
    refused, not cut."""
    from flowzip.deep_files import read_deep

    samples = np.random.default_rng(1).integers(0, 65536, (5, 7, 4))
    _png16(tmp_path / "rgb16.png", samples[:, :, :3], 2)
    _tiff16(tmp_path / "rgb16.tif", samples[:, :, :3])
    monkeypatch.setitem(sys.modules, "imagecodecs", None)
    assert np.array_equal(read_deep((tmp_path / "rgb16.png").read_bytes(), "PNG", "rgb16.png"), samples[:, :, :3])
    with pytest.raises(FlowzipError, match=r"rgb16.tif: reading 16-bit colour TIFF files needs imagecodecs"):
        read_deep((tmp_path / "rgb16.tif").read_bytes(), "TIFF", "rgb16.tif")


def test_packed_16_bit_pixels_are_8_bit_samples(tmp_path: Path) -> None:
    """A 5-6-5 BMP's samples fit in 8 bits: it is coded, exactly as Pillow reads it."""
    _bmp565(tmp_path / "565.bmp", make_image("photo", 9, 13))
    assert run("compress", "565.bmp", cwd=tmp_path).returncode == 0
    with Image.open(tmp_path / "565.bmp") as original:
        assert np.array_equal(np.asarray(flowzip.decompress((tmp_path / "565.fzi").read_bytes())), np.asarray(original))


# 4. Two inputs of one run never share an output


def test_inputs_that_share_an_output_are_refused(tmp_path: Path) -> None:
    image = Image.fromarray(make_image("photo", 12, 20))
    for suffix in ("png", "bmp", "webp"):
        image.save(tmp_path / f"hopper.{suffix}", **({"lossless": True} if suffix == "webp" else {}))
    image.save(tmp_path / "other.png")
    r = run("compress", "-r", "-f", ".", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    refused = [line for line in r.stderr.splitlines() if "hopper.fzi would also be written" in line]
    assert len(refused) == 3, r.stderr
    assert "3 failed" in r.stderr.splitlines()[-1]
    assert not (tmp_path / "hopper.fzi").exists() and (tmp_path / "other.fzi").exists()
    (tmp_path / "other.fzi").rename(tmp_path / "x.fzi")
    shutil.copy(tmp_path / "x.fzi", tmp_path / "x.FZI")
    r = run("decompress", "-r", "-f", ".", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.count("x.png would also be written") == 2, r.stderr
    assert not (tmp_path / "x.png").exists()


def test_existing_outputs_fail_before_any_coding(tmp_path: Path) -> None:
    Image.fromarray(make_image("photo", 12, 20)).save(tmp_path / "a.png")
    (tmp_path / "a.fzi").write_bytes(b"keep me")
    r = run("compress", "a.png", "-v", cwd=tmp_path)
    assert (
        r.returncode == 1
        and r.stderr.strip()
        == "flowzip: a.png: a.fzi already exists (use -f to overwrite, or -o or --out-dir to write elsewhere)"
    )
    assert (tmp_path / "a.fzi").read_bytes() == b"keep me"


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_the_own_16_bit_png_reader_undoes_every_filter(channels: int) -> None:
    """flowzip reads 16-bit PNG without imagecodecs: its samples equal imagecodecs' under each row filter."""
    from flowzip.deep_files import read_deep

    rng = np.random.default_rng(channels)
    samples = np.cumsum(rng.integers(0, 300, (11, 13, channels)), axis=1).astype(np.uint16)
    for kind in imagecodecs.PNG.FILTER:
        png = imagecodecs.png_encode(samples[:, :, 0] if channels == 1 else samples, filter=kind)
        assert np.array_equal(read_deep(png, "PNG", "x.png"), samples), kind
