"""The .fzi container: a compact header, a checksum of the decoded pixels, and the coded sections.

The byte-by-byte specification is ``docs/format.md``; this module is its only reader and writer. Sections
are, in order: one per RGB tile (row-major over the tile grid) when the mode has RGB, then one per extra
plane of the mode (alpha, grey, palette indices). Every length is a LEB128 varint. Format 2 stores every
section's length, so a file that was cut short is known to be truncated; format 1 (still read) left the last
one implied by the end of the file. ``read_container`` checks everything it can before anything is allocated.
"""

from __future__ import annotations

import lzma
import zlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from flowzip.classical.lzma_coder import lzma_compress, lzma_filters
from flowzip.errors import FlowzipError
from flowzip.metadata import ICC, NO_METADATA, Metadata

MAGIC = b"FZ"
FORMAT_VERSION = 9  # what this flowzip writes
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6, 7, 8, 9)
MODEL_ID_BYTES = 4
# format 6: a shipped model is named by its number here (one byte), any other by OTHER_MODEL then its id. Append
# only: a number, once given, names that model for ever (tests/test_zoo.py checks every shipped model has one).
SHIPPED_MODEL_IDS = tuple(
    bytes.fromhex(h) for h in ("ac451c9d", "c7c8e0d3", "815fd2ca", "9c5beff2", "2b918685", "c0f22898")
)
OTHER_MODEL = 255
MAX_SIDE = 1 << 20  # 1,048,576 pixels
MAX_PIXELS = 1 << 32
DEFAULT_MAX_PIXELS = 1 << 28  # the decoder's default limit, like Pillow's decompression-bomb guard
# A flow section cannot hold more latents than this per byte. Its ANS coder quantizes probabilities to 24 bits
# and gives every symbol of a distribution some of them, so no symbol is more likely than 1 - 255 / 2**24 (a
# mixture's 256-symbol table; a single distribution's 2047 symbols allow less) and each costs at least 2.19e-5
# bits: 8 / 2.19e-5 = 365,000 latents a byte, plus a slack for the coder's state (tests/test_never_lose.py codes the
# likeliest symbol millions of times and checks it). The classical coder and the planes have no such floor:
# their context coder leaves out the zero bytes that end its stream, and a flat image codes to none at all, so
# only the pixel limit (``max_pixels``) bounds the work of decoding them, as Pillow's guard does for PNG.
FLOW_SYMBOLS_PER_BYTE, FLOW_SYMBOLS_SLACK = 365_000, 1 << 19
# format 2: the first byte of an RGB tile's section says how it is coded, by its index here (flowzip.tiles)
TILE_TOOLS = ("raw", "flow", "classical")

FILE_SUFFIX = ".fzi"


class ModeLayout(NamedTuple):
    """How an image mode is stored: its code in the header, and its planes by coder."""

    code: int  # part of the format
    rgb_planes: int  # coded in RGB tiles (flowzip.tiles)
    extra_planes: int  # coded each as one plane (flowzip.classical.plane)
    deep_groups: tuple[int, ...] = ()  # format 9, 16-bit samples: the channels coded together (classical.deep)

    @property
    def planes(self) -> int:
        return self.rgb_planes + self.extra_planes + sum(self.deep_groups)

    @property
    def sample_bits(self) -> int:
        return 16 if self.deep_groups else 8


MODES = {
    "RGB": ModeLayout(0, 3, 0),
    "RGBA": ModeLayout(1, 3, 1),
    "L": ModeLayout(2, 0, 1),
    "LA": ModeLayout(3, 0, 2),
    "P": ModeLayout(4, 0, 1),
    "1": ModeLayout(5, 0, 1),
    # format 9: 16 bits a sample (Pillow's name for 16-bit grey, and the same suffix for the modes it lacks)
    "I;16": ModeLayout(6, 0, 0, (1,)),
    "LA;16": ModeLayout(7, 0, 0, (1, 1)),
    "RGB;16": ModeLayout(8, 0, 0, (3,)),
    "RGBA;16": ModeLayout(9, 0, 0, (3, 1)),
}
ARRAY_ONLY_MODES = ("LA;16", "RGB;16", "RGBA;16")  # no PIL image has them: they decode to uint16 arrays only
_MODE_BYTE_FOLLOWS = 6
# format 9: a 16-bit image is coded in strips of whole rows, one for each started this many pixels, each section
# one strip of one channel group, coded on its own (in parallel, as tiles are)
DEEP_STRIP_PIXELS = 1 << 20  # format 9: a flags byte's mode code 6 says the mode's code less 6 is the next byte
_MODE_BY_CODE = {layout.code: mode for mode, layout in MODES.items()}
# how decompress hands the pixels back: as a PIL image, or a numpy array (H, W, C) or (H, W)
KINDS = ("image", "array", "array2d")
_FLAG_METADATA = 0x08  # format 8: the metadata field follows; before, an ICC profile (the only metadata kept)
_FLAG_COLOUR_KEY = 0x40  # format 2: a colour key (tRNS transparency) follows the palette field
_FLAG_TILE_IMPLIED = 0x80  # format 2: no tile-size byte, the tile is the smallest that covers the image
_FLAG_RESERVED = {1: 0xC0, **dict.fromkeys(range(2, FORMAT_VERSION + 1), 0x00)}
COLOUR_KEY_CHANNELS = {"RGB": 3, "L": 1, "1": 1, "I;16": 1}  # the modes that may have a colour key, and its values
COLOUR_KEY_MAX = 65535  # PNG's tRNS holds 16-bit values
MIN_TILE_LOG2, MAX_TILE_LOG2 = 5, 12
PALETTE_MODES = ("RGB", "RGBA")
# format 8: how the metadata field's records are stored (the shorter is written), and a reader's limits
METADATA_CODINGS = ("stored", "LZMA2")
MAX_METADATA_BYTES = 64 << 20  # Pillow's limit for a PNG's text is 64 MB too
MAX_METADATA_NAME_BYTES = 64


@dataclass(frozen=True)
class Palette:
    """A P image's palette (raw bytes in ``mode``) and its transparency (an index, bytes, or none)."""

    mode: str
    data: bytes
    transparency: int | bytes | None = None


@dataclass(frozen=True)
class Header:
    """Everything in a .fzi file but the coded sections."""

    width: int
    height: int
    mode: str
    kind: str
    tile_log2: int
    checksum: int
    model_id: bytes = b""
    metadata: Metadata = NO_METADATA  # its ICC profile, EXIF, XMP... (``flowzip.metadata``)
    palette: Palette | None = None
    colour_key: tuple[int, ...] | None = None  # the one colour shown transparent (RGB, L and 1 images)
    version: int = FORMAT_VERSION  # of the file read; a written file is always FORMAT_VERSION

    @property
    def icc_profile(self) -> bytes | None:
        return self.metadata.get(ICC)

    @property
    def tile_size(self) -> int:
        return 1 << self.tile_log2

    @property
    def tile_counts(self) -> tuple[int, int]:
        """Tiles down and across."""
        t = self.tile_size
        return -(-self.height // t), -(-self.width // t)

    @property
    def section_count(self) -> int:
        """Counted, not listed: a forged header may claim millions of tiles (checked against the file size)."""
        rows, cols = self.tile_counts
        layout = MODES[self.mode]
        strips = -(-self.height // deep_strip_rows(self.height, self.width)) if layout.deep_groups else 0
        return (rows * cols if layout.rgb_planes else 0) + layout.extra_planes + len(layout.deep_groups) * strips

    def deep_sections(self) -> list[tuple[slice, slice]]:
        """The (rows, channels) of every 16-bit section, in section order: each strip of the first channel group,
        then of the next; none for 8-bit modes."""
        return deep_sections(self.mode, self.height, self.width)

    def rgb_tiles(self) -> list[tuple[slice, slice]]:
        """The (rows, columns) of every RGB tile, in section order; none for modes without RGB."""
        return tile_grid(self.height, self.width, self.tile_size) if MODES[self.mode].rgb_planes else []


def deep_strip_rows(height: int, width: int) -> int:
    """The rows of each strip of a 16-bit image (the last may have fewer): the image cut into as many strips of
    equal height as it has started ``DEEP_STRIP_PIXELS``."""
    strips = -(-height * width // DEEP_STRIP_PIXELS)
    return -(-height // strips)


def deep_sections(mode: str, height: int, width: int) -> list[tuple[slice, slice]]:
    """``Header.deep_sections`` of an image of ``mode`` and size."""
    rows = deep_strip_rows(height, width)
    strips = [slice(i, min(i + rows, height)) for i in range(0, height, rows)]
    groups, start = [], 0
    for channels in MODES[mode].deep_groups:
        groups.append(slice(start, start + channels))
        start += channels
    return [(strip, group) for group in groups for strip in strips]


def covering_tile_log2(width: int, height: int) -> int:
    """log2 of the smallest tile side that covers the image (may exceed ``MAX_TILE_LOG2``)."""
    return max(MIN_TILE_LOG2, (max(width, height) - 1).bit_length())


def tile_grid(height: int, width: int, tile_size: int) -> list[tuple[slice, slice]]:
    """The (rows, columns) of the tiles of a fixed grid from the top-left corner, row by row."""
    return [
        (slice(i, min(i + tile_size, height)), slice(j, min(j + tile_size, width)))
        for i in range(0, height, tile_size)
        for j in range(0, width, tile_size)
    ]


def pixel_checksum(pixels: np.ndarray) -> int:
    """CRC-32 of the decoded pixels' bytes (C order; 16-bit samples little-endian), stored to catch any decode
    that is not exact."""
    return zlib.crc32(np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<")).tobytes())


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def write_container(header: Header, sections: list[bytes]) -> bytes:
    """Serialise a header and its coded sections."""
    if len(sections) != header.section_count:
        raise ValueError(f"{header.mode} image needs {header.section_count} sections, got {len(sections)}")
    layout = MODES[header.mode]
    flags = (
        min(layout.code, _MODE_BYTE_FOLLOWS)
        | (_FLAG_METADATA if header.metadata else 0)
        | (KINDS.index(header.kind) << 4)
    )
    flags |= _FLAG_COLOUR_KEY if header.colour_key is not None else 0
    tile_implied = layout.rgb_planes and header.tile_log2 == covering_tile_log2(header.width, header.height)
    flags |= _FLAG_TILE_IMPLIED if tile_implied else 0
    out = bytearray(MAGIC + bytes([FORMAT_VERSION, flags]))
    if layout.code >= _MODE_BYTE_FOLLOWS:
        out.append(layout.code - _MODE_BYTE_FOLLOWS)
    out += _varint(header.width) + _varint(header.height)
    if layout.rgb_planes:
        out += _model_field(header.model_id) + (b"" if tile_implied else bytes([header.tile_log2]))
    if header.palette is not None:
        pal = header.palette
        out += bytes([PALETTE_MODES.index(pal.mode)]) + _varint(len(pal.data)) + pal.data
        if pal.transparency is None:
            out += b"\0"
        elif isinstance(pal.transparency, int):
            out += b"\1" + _varint(pal.transparency)
        else:
            out += b"\2" + _varint(len(pal.transparency)) + pal.transparency
    if header.colour_key is not None:
        if len(header.colour_key) != COLOUR_KEY_CHANNELS.get(header.mode):
            raise ValueError(f"a {header.mode} image cannot have the colour key {header.colour_key}")
        out += b"".join(_varint(v) for v in header.colour_key)
    if header.metadata:
        field = write_metadata_field(header.metadata)
        out += _varint(len(field)) + field
    out += header.checksum.to_bytes(4, "little")
    for s in sections:
        out += _varint(len(s))
    for s in sections:
        out += s
    return bytes(out)


def _model_field(model_id: bytes) -> bytes:
    """The header's model field: a shipped model's number, or ``OTHER_MODEL`` and the id."""
    if model_id in SHIPPED_MODEL_IDS:
        return bytes([SHIPPED_MODEL_IDS.index(model_id)])
    return bytes([OTHER_MODEL]) + model_id


class _Reader:
    """Bounds-checked reading of a byte string; every overrun is a clean FlowzipError."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise FlowzipError(f"truncated file (while reading {what})")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def varint(self, what: str, limit: int, past_end: str = "corrupt file") -> int:
        """A varint of at most ``limit``; a larger one is an error that starts with ``past_end``."""
        value = 0
        for shift in range(0, 64, 7):
            b = self.byte(what)
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                if value > limit:
                    raise FlowzipError(f"{past_end}: {what} {value} exceeds {limit}")
                return value
        raise FlowzipError(f"corrupt file: {what} is not a valid varint")


def _read_model_field(r: _Reader, version: int) -> bytes:
    """The model id of a header's model field (``_model_field``; before format 6, the id itself)."""
    if version < 6:
        return r.take(MODEL_ID_BYTES, "model id")
    number = r.byte("model number")
    if number == OTHER_MODEL:
        return r.take(MODEL_ID_BYTES, "model id")
    if number >= len(SHIPPED_MODEL_IDS):
        raise FlowzipError(f"this file needs shipped model number {number}, which this flowzip does not know")
    return SHIPPED_MODEL_IDS[number]


def write_metadata_field(metadata: Metadata) -> bytes:
    """The metadata field: the records, stored or LZMA2-compressed, whichever is shorter, then their CRC-32 (the
    pixels' checksum does not cover them)."""
    records = b"".join(
        _varint(len(name)) + name.encode("ascii") + _varint(len(value)) + value for name, value in metadata.records
    )
    crc = zlib.crc32(records).to_bytes(4, "little")
    packed = lzma_compress(records, len(records))
    if len(packed) + len(_varint(len(records))) < len(records):
        return bytes([METADATA_CODINGS.index("LZMA2")]) + _varint(len(records)) + packed + crc
    return bytes([METADATA_CODINGS.index("stored")]) + records + crc


def read_metadata_field(field: bytes) -> Metadata:
    """The records of a metadata field (``write_metadata_field``); a malformed or damaged one is an error."""
    if len(field) < 5 or field[0] >= len(METADATA_CODINGS):
        raise FlowzipError("corrupt file: invalid metadata field")
    r = _Reader(field[:-4])
    r.pos = 1
    records = field[1:-4]
    if METADATA_CODINGS[field[0]] == "LZMA2":
        size = r.varint("metadata size", MAX_METADATA_BYTES)
        unpacker = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=lzma_filters(size))
        try:
            records = unpacker.decompress(field[r.pos : -4], max_length=size + 1)
        except lzma.LZMAError as e:
            raise FlowzipError(f"corrupt file: the metadata do not decompress ({e})") from None
        if len(records) != size or not unpacker.eof or unpacker.unused_data:
            raise FlowzipError("corrupt file: the metadata are not the size stored")
    if zlib.crc32(records) != int.from_bytes(field[-4:], "little"):
        raise FlowzipError("corrupt file: the metadata's checksum does not match")
    r, out = _Reader(records), []
    while r.pos < len(records):
        name = r.take(r.varint("metadata name length", MAX_METADATA_NAME_BYTES), "metadata name")
        if not name or not name.isascii():
            raise FlowzipError("corrupt file: invalid metadata name")
        out.append((name.decode("ascii"), r.take(r.varint("metadata length", len(records)), "metadata")))
    return Metadata(tuple(out))


def read_container(data: bytes, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[Header, list[bytes]]:
    """Parse and validate a .fzi file; return its header and coded sections.

    Refuses images of more than ``max_pixels`` pixels (None: no limit but the format's), and sections too
    short for the pixels they claim, so the work and memory of decoding stay proportional to the file.
    """
    r = _Reader(data)
    if r.take(len(MAGIC), "magic") != MAGIC:
        raise FlowzipError("not a flowzip file (bad magic bytes)")
    version = r.byte("format version")
    if version not in READABLE_VERSIONS:
        readable = ", ".join(map(str, READABLE_VERSIONS))
        raise FlowzipError(f"unsupported flowzip format version {version} (this flowzip reads {readable})")
    flags = r.byte("flags")
    code = flags & 0x07
    if version >= 9 and code == _MODE_BYTE_FOLLOWS:
        code += r.byte("mode")
    elif code >= _MODE_BYTE_FOLLOWS:
        code = -1  # no mode
    if flags & _FLAG_RESERVED[version] or code not in _MODE_BY_CODE or (flags >> 4) & 0x03 >= len(KINDS):
        raise FlowzipError(f"corrupt file: invalid flags byte 0x{flags:02x} (mode {code})")
    mode, kind = _MODE_BY_CODE[code], KINDS[(flags >> 4) & 0x03]
    width, height = r.varint("width", MAX_SIDE), r.varint("height", MAX_SIDE)
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise FlowzipError(f"corrupt file: invalid image size {width}x{height}")
    if max_pixels is not None and width * height > max_pixels:
        raise FlowzipError(
            f"image of {width}x{height} pixels is over the limit of {max_pixels} pixels (raise max_pixels, "
            "or --max-pixels, to decode it)"
        )
    model_id, tile_log2 = b"", MAX_TILE_LOG2
    if flags & _FLAG_TILE_IMPLIED and not MODES[mode].rgb_planes:
        raise FlowzipError(f"corrupt file: a {mode} image has no tiles")
    if MODES[mode].rgb_planes:
        model_id = _read_model_field(r, version)
        implied = flags & _FLAG_TILE_IMPLIED
        tile_log2 = covering_tile_log2(width, height) if implied else r.byte("tile size")
        if not MIN_TILE_LOG2 <= tile_log2 <= MAX_TILE_LOG2:
            raise FlowzipError(f"corrupt file: invalid tile size 2**{tile_log2}")
    palette = None
    if mode == "P":
        pal_code = r.byte("palette mode")
        if pal_code >= len(PALETTE_MODES):
            raise FlowzipError("corrupt file: invalid palette mode")
        pal_mode = PALETTE_MODES[pal_code]
        pal_data = r.take(r.varint("palette length", 256 * len(pal_mode)), "palette")
        transparency: int | bytes | None = None
        t_kind = r.byte("transparency kind")
        if t_kind == 1:
            transparency = r.varint("transparent index", 255)
        elif t_kind == 2:
            transparency = r.take(r.varint("transparency length", 256), "transparency")
        elif t_kind != 0:
            raise FlowzipError("corrupt file: invalid transparency kind")
        palette = Palette(pal_mode, pal_data, transparency)
    colour_key = None
    if flags & _FLAG_COLOUR_KEY:
        if mode not in COLOUR_KEY_CHANNELS:
            raise FlowzipError(f"corrupt file: a {mode} image cannot have a colour key")
        colour_key = tuple(r.varint("colour key", COLOUR_KEY_MAX) for _ in range(COLOUR_KEY_CHANNELS[mode]))
    kept = NO_METADATA
    if flags & _FLAG_METADATA:
        what = "metadata" if version >= 8 else "ICC profile"
        field = r.take(r.varint(f"{what} length", len(data), past_end="truncated file"), what)
        kept = read_metadata_field(field) if version >= 8 else Metadata(((ICC, field),))
    checksum = int.from_bytes(r.take(4, "checksum"), "little")
    header = Header(width, height, mode, kind, tile_log2, checksum, model_id, kept, palette, colour_key, version)
    stored = header.section_count - (version == 1)  # format 1 leaves the last length implied
    if stored > len(data) - r.pos:  # each stored length takes at least one byte
        raise FlowzipError(f"truncated file ({header.section_count} sections cannot fit in {len(data)} bytes)")
    # a length past the end of the file is what a cut-off file shows; a corrupt one cannot be told apart
    lengths = [r.varint("section length", len(data), past_end="truncated file") for _ in range(stored)]
    end = r.pos + sum(lengths)
    if end > len(data):
        raise FlowzipError(f"truncated file ({len(data)} bytes of {end})")
    if version > 1 and end < len(data):
        raise FlowzipError(f"corrupt file: {len(data) - end} bytes after the last section")
    sections = [r.take(n, "section") for n in lengths]
    if version == 1:
        sections.append(data[r.pos :])
    _check_section_sizes(header, sections)
    return header, sections


def tile_tool(section: bytes, subpixels: int, version: int) -> tuple[str, bytes]:
    """(tool, its data) of an RGB tile's section of ``subpixels``: from format 2 the first byte names the tool in
    ``TILE_TOOLS`` ("invalid" if it names none); format 1 had no tool byte: a section of one byte a subpixel was
    raw, any other the flow's."""
    if version == 1:
        return ("raw" if len(section) == subpixels else "flow"), section
    if not section or section[0] >= len(TILE_TOOLS):
        return "invalid", section[1:]
    return TILE_TOOLS[section[0]], section[1:]


def _check_section_sizes(header: Header, sections: list[bytes]) -> None:
    """Refuse flow sections too short for the latents they claim to hold (``FLOW_SYMBOLS_PER_BYTE``); the other
    tools' sections can be that short (a flat image)."""
    for (rows, cols), section in zip(header.rgb_tiles(), sections, strict=False):
        symbols = 3 * (rows.stop - rows.start) * (cols.stop - cols.start)
        is_flow = tile_tool(section, symbols, header.version)[0] == "flow"
        if is_flow and symbols > FLOW_SYMBOLS_PER_BYTE * len(section) + FLOW_SYMBOLS_SLACK:
            raise FlowzipError(f"corrupt file: a {len(section)}-byte section cannot hold {symbols} latents")
