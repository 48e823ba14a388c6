"""16-bit colour files, which Pillow reads cut to 8 bits and cannot write: their samples as uint16 arrays.

Pillow keeps 16-bit grey whole (modes I;16 and I), but hands over 16-bit RGB, RGBA and grey+alpha PNG and TIFF,
and 16-bit PPM, as 8-bit images (``benchmarks/readers_16bit.py`` measures it file by file). Binary PGM and PPM,
and PNG that is not interlaced, are read here; TIFF and interlaced PNG through imagecodecs (the optional extra
``flowzip[16bit]``), which reads them whole. PNG is written here: the one format every viewer reads at 16 bits
with all of flowzip's metadata.
"""

from __future__ import annotations

import re
import struct
import zlib

import numpy as np

from flowzip.errors import FlowzipError
from flowzip.jit import njit
from flowzip.metadata import EXIF, ICC, Metadata, insert_png_chunks, png_chunk, read_png_chunks, save_options

_PNM_HEADER = re.compile(rb"(P[56])(?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)\s")
_PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_deep(raw: bytes, fmt: str | None, name: str) -> np.ndarray:
    """The uint16 samples (H, W, C) of a 16-bit file that Pillow opened as ``fmt`` ("PNG", "TIFF", "PPM")."""
    if fmt == "PPM":
        return _read_pnm(raw, name)
    if fmt == "PNG" and raw[28:29] == b"\0":  # IHDR's interlace method: none
        return _read_png(raw, name)
    if fmt not in ("PNG", "TIFF"):
        raise FlowzipError(f"{name}: 16-bit {fmt} files are not supported (16-bit PNG, TIFF, PGM and PPM are)")
    try:
        import imagecodecs
    except ImportError:
        raise FlowzipError(
            f"{name}: reading 16-bit colour {'interlaced PNG' if fmt == 'PNG' else fmt} files needs imagecodecs: "
            "pip install 'flowzip[16bit]'"
        ) from None
    try:
        samples = imagecodecs.imread(raw)
    except Exception as e:  # imagecodecs raises its own error classes, one per codec
        raise FlowzipError(f"{name}: not a readable 16-bit image ({e})") from None
    if samples.dtype != np.uint16:
        raise FlowzipError(f"{name}: unsupported {samples.dtype} samples: flowzip codes 8- and 16-bit images")
    return samples[:, :, None] if samples.ndim == 2 else samples


def _read_pnm(raw: bytes, name: str) -> np.ndarray:
    """The samples of a binary PGM (P5) or PPM (P6) whose maximum value is over 255 (big-endian 16-bit)."""
    match = _PNM_HEADER.match(raw)
    if match is None:
        raise FlowzipError(f"{name}: not a binary PGM or PPM file")
    width, height, top = (int(v) for v in match.groups()[1:])
    channels = 1 if match[1] == b"P5" else 3
    count = width * height * channels
    if not 256 <= top <= 65535 or len(raw) < match.end() + 2 * count:
        raise FlowzipError(f"{name}: not a 16-bit PGM or PPM file (maximum {top}, or cut short)")
    samples = np.frombuffer(raw, dtype=">u2", count=count, offset=match.end()).astype(np.uint16)
    if samples.max(initial=0) > top:
        raise FlowzipError(f"{name}: samples above the file's maximum value {top}")
    return samples.reshape(height, width, channels)


def _read_png(raw: bytes, name: str) -> np.ndarray:
    """The samples of a 16-bit PNG that is not interlaced (its IDAT chunks inflated and unfiltered)."""
    chunks = read_png_chunks(raw)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise FlowzipError(f"{name}: not a readable PNG file")
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[0][1][:10])
    channels = {v: k for k, v in _PNG_COLOUR_TYPES.items()}.get(colour_type)
    if depth != 16 or channels is None:
        raise FlowzipError(f"{name}: not a 16-bit grey or colour PNG (depth {depth}, colour type {colour_type})")
    stride = 2 * channels * width
    inflater = zlib.decompressobj()
    try:
        rows = inflater.decompress(b"".join(data for cid, data in chunks if cid == b"IDAT"), height * (stride + 1))
    except zlib.error as e:
        raise FlowzipError(f"{name}: damaged PNG data ({e})") from None
    if len(rows) != height * (stride + 1):
        raise FlowzipError(f"{name}: PNG data cut short")
    lines = np.frombuffer(rows, dtype=np.uint8).reshape(height, stride + 1)
    if lines[:, 0].max(initial=0) > 4:
        raise FlowzipError(f"{name}: damaged PNG data (filter type {lines[:, 0].max()})")
    out = np.empty((height, stride), dtype=np.uint8)
    _unfilter(np.ascontiguousarray(lines), out, 2 * channels)
    return out.view(">u2").reshape(height, width, channels).astype(np.uint16)


@njit(nogil=True)
def _unfilter(lines: np.ndarray, out: np.ndarray, bpp: int) -> None:
    """PNG's five row filters undone: ``lines`` (H, 1 + stride), each row's filter type first, into ``out``."""
    height, stride = out.shape
    for i in range(height):
        kind = lines[i, 0]
        for x in range(stride):
            left = np.int32(out[i, x - bpp]) if x >= bpp else np.int32(0)
            up = np.int32(out[i - 1, x]) if i > 0 else np.int32(0)
            corner = np.int32(out[i - 1, x - bpp]) if i > 0 and x >= bpp else np.int32(0)
            if kind == 0:
                p = 0
            elif kind == 1:
                p = left
            elif kind == 2:
                p = up
            elif kind == 3:
                p = (left + up) >> 1
            else:
                pa, pb, pc = abs(up - corner), abs(left - corner), abs(left + up - 2 * corner)
                p = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
            out[i, x] = (np.int32(lines[i, 1 + x]) + p) & 255


def write_png(samples: np.ndarray, metadata: Metadata) -> tuple[bytes, list[str]]:
    """A 16-bit PNG of uint16 samples (H, W, C), C 1 to 4, with ``metadata`` (the ICC profile, EXIF and the
    chunks ``save_options`` gives), and what of it a PNG cannot hold. Rows are filtered by "up" where it
    leaves smaller differences, and compressed at zlib's level 9."""
    height, width, channels = samples.shape
    rows = np.ascontiguousarray(samples, dtype=">u2").view(np.uint8).reshape(height, width * channels * 2)
    up = np.vstack([rows[:1], rows[1:] - rows[:-1]])  # uint8 wraps as PNG's filter does
    smaller = np.abs(up.astype(np.int8)).sum(axis=1) < np.abs(rows.astype(np.int8)).sum(axis=1)
    smaller[0] = False
    lines = np.where(smaller[:, None], up, rows)
    filtered = np.hstack([smaller.astype(np.uint8)[:, None] * 2, lines]).tobytes()
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([16, _PNG_COLOUR_TYPES[channels], 0, 0, 0])
    held = save_options(metadata, "PNG")
    extra = b""
    if "icc_profile" in held.options:
        extra += png_chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(metadata.get(ICC) or b"", 9))
    if "exif" in held.options:
        extra += png_chunk(b"eXIf", metadata.get(EXIF) or b"")
    png = (
        _PNG_SIGNATURE
        + png_chunk(b"IHDR", header)
        + extra
        + png_chunk(b"IDAT", zlib.compress(filtered, 9))
        + png_chunk(b"IEND", b"")
    )
    return insert_png_chunks(png, held.png_chunks), held.unkept
