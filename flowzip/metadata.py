"""What an image carries besides its pixels, kept byte for byte: its colour profile, EXIF, XMP, IPTC, comment,
resolution and a PNG's ancillary chunks.

``of_image`` reads them from an input image, ``flowzip.container`` stores them (as ``docs/format.md``
specifies), and ``save_options`` says how an output format holds each, or names what it cannot hold so that
nothing is dropped silently. A ``Metadata`` is a list of records, each a name and its bytes,
in the order the input had them:

- ``icc``: the ICC profile; ``exif``: EXIF as a TIFF structure (PNG's eXIf; JPEG's "Exif\\0\\0" prefix removed);
  ``xmp``: the XMP packet; ``iptc``: IPTC-IIM records (TIFF's tag 33723); ``photoshop``: Photoshop image
  resources, which hold a JPEG's IPTC (its APP13 segments without their name, or TIFF's tag 34377);
  ``comment``: a JPEG's or GIF's comment; ``dpi``: the resolution as "x y" in decimal (but a PNG's);
- ``png:XXXX``: a PNG ancillary chunk's data, for chunk type XXXX (text, gAMA, cHRM, sRGB, cICP, pHYs, sBIT,
  bKGD, tIME, private chunks...); a PNG read from its bytes keeps every one, and one read from a PIL image keeps
  what Pillow parsed.

Names a later flowzip may add are kept and listed, and an output names them as not written.
"""

from __future__ import annotations

import math
import struct
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image, PngImagePlugin, TiffImagePlugin, TiffTags

ICC, EXIF, XMP, IPTC, PHOTOSHOP, COMMENT, DPI = "icc", "exif", "xmp", "iptc", "photoshop", "comment", "dpi"
PNG_CHUNK = "png:"  # a record "png:tEXt" holds one tEXt chunk's data
_DESCRIPTIONS = {
    ICC: "ICC profile",
    EXIF: "EXIF",
    XMP: "XMP",
    IPTC: "IPTC",
    PHOTOSHOP: "Photoshop resources",
    COMMENT: "comment",
    DPI: "resolution",
}
_EXIF_PREFIX = b"Exif\0\0"
_PHOTOSHOP_PREFIX = b"Photoshop 3.0\0"
_XMP_KEYWORD = b"XML:com.adobe.xmp"
# a PNG's chunks that are pixels or structure (kept elsewhere, or refused: animation), and those kept as records
# of their own (iCCP as icc, eXIf as exif, the XMP iTXt as xmp)
_PNG_STRUCTURE = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"acTL", b"fcTL", b"fdAT", b"iCCP", b"eXIf"}
# chunks that PNG places before PLTE; the others are written just before the first IDAT
_PNG_BEFORE_PLTE = {b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCV", b"cLLI"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_METRES_PER_INCH = 0.0254
# TIFF tags that describe the image (not its layout), kept as EXIF from a TIFF input: description, make, model,
# software, date, artist, copyright. Not the orientation: Pillow's TIFF reader turns the pixels by it and drops it.
_TIFF_DESCRIPTIVE_TAGS = (270, 271, 272, 305, 306, 315, 33432)
_TIFF_EXIF_IFDS = (0x8769, 0x8825)  # the EXIF and GPS sub-directories


# A JPEG's segments that are kept as records (EXIF, XMP, ICC, Photoshop resources), are read into one (JFIF's
# resolution), or are not metadata (MPF: other pictures, refused unless --first-frame; Adobe: how to decode colour)
_JPEG_HANDLED = {
    "APP0": (b"JFIF\0",),
    "APP1": (_EXIF_PREFIX, b"http://ns.adobe.com/xap/1.0/\0"),
    "APP2": (b"ICC_PROFILE\0", b"MPF\0"),
    "APP13": (_PHOTOSHOP_PREFIX,),
    "APP14": (b"Adobe",),
}
# A TIFF's tags that lay out or encode its pixels, or are kept (as EXIF, XMP, IPTC, Photoshop resources, ICC,
# resolution)
_TIFF_HANDLED = {
    *(254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 274, 277, 278, 279, 280, 281, 282, 283, 284, 292, 293),
    *(296, 317, 320, 322, 323, 324, 325, 332, 338, 339, 340, 341, 347, *range(512, 522), 529, 530, 531, 532),
    *(700, 33723, 34377, 34665, 34853, 34675),
    *_TIFF_DESCRIPTIVE_TAGS,
}


@dataclass(frozen=True)
class Metadata:
    """An image's metadata records (name, bytes), in the input's order."""

    records: tuple[tuple[str, bytes], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.records)

    def get(self, name: str) -> bytes | None:
        """The first record of this name, or None."""
        return next((value for key, value in self.records if key == name), None)

    def png_chunks(self) -> list[tuple[bytes, bytes]]:
        """The PNG chunks kept as they were: (type, data)."""
        return [(k[len(PNG_CHUNK) :].encode("latin-1"), v) for k, v in self.records if k.startswith(PNG_CHUNK)]

    def stripped(self) -> Metadata:
        """Only the ICC profile, which says what the pixels' colours are (``--strip`` keeps it)."""
        return Metadata(tuple((k, v) for k, v in self.records if k == ICC))

    def describe(self) -> list[str]:
        """One phrase per kind of record, for ``flowzip info``: "EXIF (1,234 bytes, orientation 6)"."""
        out, counts = [], {}
        for key, _ in self.records:
            counts[key] = counts.get(key, 0) + 1
        for key, count in counts.items():
            size = sum(len(v) for k, v in self.records if k == key)
            what, detail = record_kind(key), f"{size:,} bytes"
            if key == EXIF:
                orientation = exif_orientation(self.get(EXIF) or b"")
                detail += f", orientation {orientation}" if orientation not in (None, 1) else ""
            out.append(f"{what}{f' x{count}' if count > 1 else ''} ({detail})")
        return out


NO_METADATA = Metadata()


def record_kind(name: str) -> str:
    """What a record is, in words: "EXIF", "tEXt chunk" (a name a later flowzip may add: the name itself)."""
    return name[len(PNG_CHUNK) :] + " chunk" if name.startswith(PNG_CHUNK) else _DESCRIPTIONS.get(name, name)


def exif_orientation(exif: bytes) -> int | None:
    """The orientation tag of EXIF bytes, or None (none, or unreadable)."""
    tags = _exif_tags(exif)
    return None if tags is None else tags.get(0x0112)


def _exif_tags(exif: bytes) -> dict[int, object] | None:
    """EXIF's tags (its EXIF and GPS directories as dicts under their tags), or None if Pillow cannot read them:
    the bytes are still kept as they are, only not turned into another format's tags."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns of corrupt EXIF too: nothing the user can act on here
            parsed = Image.Exif()
            parsed.load(exif)
            return {tag: parsed.get_ifd(tag) if tag in _TIFF_EXIF_IFDS else value for tag, value in parsed.items()}
    except Exception:  # Pillow raises many kinds (SyntaxError, struct.error...) on malformed EXIF
        return None


def _png_chunk_spans(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of a PNG file's chunks up to IEND, each span its whole chunk (a truncated tail is left
    out)."""
    spans, pos = [], len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length, cid = struct.unpack(">I4s", data[pos : pos + 8])
        if pos + 12 + length > len(data):
            break
        spans.append((cid, pos, pos + 12 + length))
        pos += 12 + length
        if cid == b"IEND":
            break
    return spans


def read_png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, data) of a PNG file's chunks, in order."""
    return [(cid, data[start + 8 : end - 4]) for cid, start, end in _png_chunk_spans(data)]


def of_image(image: Image.Image, source: bytes | None = None) -> Metadata:
    """The metadata of a PIL image, from its ``info`` as Pillow read it; with ``source``, the bytes of the file a
    PNG was read from, every ancillary chunk of the file is kept as it was."""
    info, records = image.info, []
    if info.get("icc_profile"):
        records.append((ICC, bytes(info["icc_profile"])))
    exif = _exif_of(image)
    if exif:
        records.append((EXIF, exif))
    if info.get("xmp"):
        xmp = info["xmp"]
        records.append((XMP, xmp.encode() if isinstance(xmp, str) else bytes(xmp)))
    if image.format == "TIFF" and hasattr(image, "tag_v2"):
        for name, tag in ((IPTC, TiffImagePlugin.IPTC_NAA_CHUNK), (PHOTOSHOP, TiffImagePlugin.PHOTOSHOP_CHUNK)):
            value = image.tag_v2.get(tag)
            if value:
                records.append((name, bytes(value) if not isinstance(value, tuple) else bytes(value[0])))
    photoshop = b"".join(
        s[len(_PHOTOSHOP_PREFIX) :]
        for app, s in getattr(image, "applist", [])
        if app == "APP13" and s.startswith(_PHOTOSHOP_PREFIX)
    )
    if photoshop:
        records.append((PHOTOSHOP, photoshop))
    if info.get("comment") and image.format != "PNG":
        comment = info["comment"]
        records.append((COMMENT, comment.encode() if isinstance(comment, str) else bytes(comment)))
    from_file = image.format == "PNG" and source is not None
    chunks = _png_file_chunks(source) if from_file else _png_chunks_from_info(image)
    records += [(PNG_CHUNK + cid.decode("latin-1"), data) for cid, data in chunks]
    if image.format != "PNG" and info.get("dpi"):
        x, y = info["dpi"]
        records.append((DPI, f"{float(x)!r} {float(y)!r}".encode()))
    return Metadata(tuple(records))


def unkept_of_image(image: Image.Image) -> list[str]:
    """What of a PIL image's metadata ``of_image`` does not keep, in words for a warning: a JPEG's other APP
    segments (an extended XMP, a JFIF thumbnail, a maker's segment) and comments but the last, a TIFF's other
    tags."""
    lost = []
    applist = getattr(image, "applist", [])
    others = [
        f"{marker} ({_segment_name(data)})"
        for marker, data in applist
        if marker.startswith("APP") and not data.startswith(_JPEG_HANDLED.get(marker, ()))
    ]
    if others:
        lost.append(f"its JPEG segment{'s' * (len(others) > 1)} {', '.join(others)} {_are(others)} not kept")
    comments = sum(marker == "COM" for marker, _ in applist)
    if comments > 1:
        lost.append(f"of its {comments} JPEG comments only the last is kept")
    if image.format == "TIFF" and hasattr(image, "tag_v2"):
        tags = [_tiff_tag_name(tag) for tag in sorted(image.tag_v2) if tag not in _TIFF_HANDLED]
        if tags:
            lost.append(f"its TIFF tag{'s' * (len(tags) > 1)} {', '.join(tags)} {_are(tags)} not kept")
    return lost


def _tiff_tag_name(tag: int) -> str:
    name = TiffTags.lookup(tag).name
    return f"{tag}" if name == "unknown" else name


def _segment_name(data: bytes) -> str:
    """How a JPEG APP segment names itself: its leading text, up to a NUL (at most 40 characters)."""
    name = data[:40].split(b"\0", 1)[0]
    return name.decode("latin-1") if name and all(32 <= c < 127 for c in name) else "unnamed"


def _are(things: list[str]) -> str:
    return "are" if len(things) > 1 else "is"


def _exif_of(image: Image.Image) -> bytes | None:
    """EXIF as a TIFF structure: what the file had (without JPEG's prefix), or a TIFF's descriptive tags."""
    exif = image.info.get("exif")
    if exif:
        exif = bytes(exif)
        return exif[len(_EXIF_PREFIX) :] if exif.startswith(_EXIF_PREFIX) else exif
    if image.format != "TIFF":
        return None
    tags = image.getexif()
    kept = Image.Exif()
    for tag in _TIFF_DESCRIPTIVE_TAGS:
        if tag in tags:
            kept[tag] = tags[tag]
    for tag in _TIFF_EXIF_IFDS:
        if tag in tags:
            kept[tag] = tags.get_ifd(tag)
    return kept.tobytes()[len(_EXIF_PREFIX) :] if len(kept) else None


def _png_file_chunks(source: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG file's ancillary chunks but iCCP, eXIf and the XMP iTXt (records of their own)."""
    return [
        (cid, data)
        for cid, data in read_png_chunks(source)
        if cid[:1].islower() and cid not in _PNG_STRUCTURE and not _is_xmp_chunk(cid, data)
    ]


def _is_xmp_chunk(cid: bytes, data: bytes) -> bool:
    return cid == b"iTXt" and data.startswith(_XMP_KEYWORD + b"\0")


def _png_chunks_from_info(image: Image.Image) -> list[tuple[bytes, bytes]]:
    """The PNG chunks Pillow parsed into ``info``, ``text`` and ``private_chunks``, written back as chunks (the
    resolution only of a PNG: another format's is a dpi record)."""
    info, chunks = image.info, []
    if "gamma" in info:
        chunks.append((b"gAMA", struct.pack(">I", round(info["gamma"] * 100000))))
    if "chromaticity" in info:
        chunks.append((b"cHRM", struct.pack(">8I", *(round(v * 100000) for v in info["chromaticity"]))))
    if "srgb" in info:
        chunks.append((b"sRGB", bytes([info["srgb"]])))
    if image.format == "PNG" and ("dpi" in info or "aspect" in info):
        unit, (x, y) = (1, [v / _METRES_PER_INCH for v in info["dpi"]]) if "dpi" in info else (0, info["aspect"])
        chunks.append((b"pHYs", struct.pack(">IIB", round(x), round(y), unit)))
    for key, value in (getattr(image, "text", None) or {}).items():
        if key != _XMP_KEYWORD.decode():
            chunks.append(_text_chunk(key, value))
    chunks += [(c[0], c[1]) for c in getattr(image, "private_chunks", [])]
    return chunks


def _text_chunk(key: str, value: str) -> tuple[bytes, bytes]:
    """A tEXt chunk for Latin-1 text, else an iTXt (with its language and translated keyword, if it had them)."""
    keyword = key.encode("latin-1", "replace")
    if isinstance(value, PngImagePlugin.iTXt) or not _is_latin1(value):
        lang = (getattr(value, "lang", None) or "").encode("latin-1", "replace")
        tkey = (getattr(value, "tkey", None) or "").encode()
        return b"iTXt", keyword + b"\0\0\0" + lang + b"\0" + tkey + b"\0" + str(value).encode()
    return b"tEXt", keyword + b"\0" + value.encode("latin-1")


def _is_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def to_info(metadata: Metadata) -> dict[str, object]:
    """What a decoded PIL image's ``info`` gets, named as Pillow names what it reads: icc_profile, exif (with
    the "Exif\\0\\0" prefix, as Pillow's JPEG and PNG readers give it), xmp, dpi and comment."""
    info: dict[str, object] = {}
    for name, key in ((ICC, "icc_profile"), (XMP, "xmp"), (COMMENT, "comment")):
        if metadata.get(name) is not None:
            info[key] = metadata.get(name)
    if metadata.get(EXIF) is not None:
        info["exif"] = _EXIF_PREFIX + metadata.get(EXIF)
    dpi = _dpi(metadata)
    if dpi is not None:
        info["dpi"] = dpi
    return info


def _dpi(metadata: Metadata) -> tuple[float, float] | None:
    """The resolution in dots per inch: the dpi record, or a pHYs chunk in pixels per metre."""
    if metadata.get(DPI) is not None:
        try:
            x, y = (float(v) for v in metadata.get(DPI).decode("ascii").split())
        except ValueError:
            return None
        return x, y
    phys = next((data for cid, data in metadata.png_chunks() if cid == b"pHYs" and len(data) == 9), None)
    if phys is None or phys[8] != 1:
        return None
    x, y = struct.unpack(">II", phys[:8])
    return x * _METRES_PER_INCH, y * _METRES_PER_INCH


@dataclass(frozen=True)
class OutputMetadata:
    """How an output format holds an image's metadata: Pillow's save options, the PNG chunks to add to a PNG
    (``insert_png_chunks``), and what the format cannot hold (for a warning)."""

    options: dict[str, object]
    png_chunks: list[tuple[bytes, bytes]]
    unkept: list[str]


def save_options(metadata: Metadata, fmt: str) -> OutputMetadata:
    """How Pillow's writer of ``fmt`` ("PNG", "WEBP", "TIFF", "BMP") is to keep each record."""
    options: dict[str, object] = {}
    chunks: list[tuple[bytes, bytes]] = []
    held: set[str] = set()
    xmp = metadata.get(XMP)
    for record, option, formats in (
        (ICC, "icc_profile", ("PNG", "WEBP", "TIFF")),
        (EXIF, "exif", ("PNG", "WEBP")),
        (XMP, "xmp", ("WEBP",)),
    ):
        if metadata.get(record) is not None and fmt in formats:
            options[option] = metadata.get(record)
            held.add(record)
    if fmt == "PNG":
        if xmp is not None:  # as XMP's specification puts it in a PNG: an uncompressed iTXt, no language
            chunks.append((b"iTXt", _XMP_KEYWORD + b"\0\0\0\0\0" + xmp))
            held.add(XMP)
        chunks += metadata.png_chunks()
        held |= {k for k, _ in metadata.records if k.startswith(PNG_CHUNK)}
        comment = metadata.get(COMMENT)
        if comment is not None and b"\0" not in comment:
            chunks.append((b"tEXt", b"Comment\0" + comment))
            held.add(COMMENT)
    dpi = _dpi(metadata)
    per_metre = [round(v / _METRES_PER_INCH) if math.isfinite(v) else 0 for v in dpi or ()]
    fits = dpi is not None and all(0 < v < 1 << 31 for v in per_metre)  # PNG's and BMP's 31-bit fields
    if fmt == "PNG" and fits and metadata.get(DPI) is not None:
        chunks.append((b"pHYs", struct.pack(">IIB", *per_metre, 1)))
        held.add(DPI)
    elif fmt in ("TIFF", "BMP") and fits:
        options["dpi"] = dpi
        held |= {DPI, PNG_CHUNK + "pHYs"}
    if fmt == "TIFF":
        tags, in_tags = _tiff_tags(metadata)
        if in_tags:
            options["tiffinfo"] = tags
            held |= in_tags
    unkept = []
    for key, _ in metadata.records:
        what = record_kind(key)
        if key not in held and what not in unkept:
            unkept.append(what)
    return OutputMetadata(options, chunks, unkept)


def _tiff_tags(metadata: Metadata) -> tuple[TiffImagePlugin.ImageFileDirectory_v2, set[str]]:
    """The TIFF tags that hold the records a TIFF can (EXIF's tags, XMP, IPTC and Photoshop resources), and
    those records' names (none if there is no tag to write). EXIF that Pillow cannot read, or whose tags its
    TIFF writer refuses, is not among them."""
    ifd, held = TiffImagePlugin.ImageFileDirectory_v2(), set()
    exif = metadata.get(EXIF)
    tags = _exif_tags(exif) if exif is not None else None
    if tags is not None:
        try:
            ifd.update(tags)
            ifd.tobytes()  # a tag of a type or value the writer refuses fails here, not in the save
            held.add(EXIF)
        except Exception:  # Pillow raises many kinds on such tags
            ifd = TiffImagePlugin.ImageFileDirectory_v2()
    for name, tag, kind in (
        (XMP, TiffImagePlugin.XMP, TiffImagePlugin.TiffTags.BYTE),
        (IPTC, TiffImagePlugin.IPTC_NAA_CHUNK, TiffImagePlugin.TiffTags.UNDEFINED),
        (PHOTOSHOP, TiffImagePlugin.PHOTOSHOP_CHUNK, TiffImagePlugin.TiffTags.BYTE),
    ):
        if metadata.get(name) is not None:
            ifd[tag] = metadata.get(name)
            ifd.tagtype[tag] = kind
            held.add(name)
    return ifd, held if len(ifd) else set()


def insert_png_chunks(png: bytes, chunks: list[tuple[bytes, bytes]]) -> bytes:
    """``png`` (as Pillow wrote it) with ``chunks`` added: those PNG places before PLTE right after IHDR, the
    others just before the first IDAT, each group in the given order."""
    if not chunks:
        return png
    early = b"".join(png_chunk(cid, data) for cid, data in chunks if cid in _PNG_BEFORE_PLTE)
    late = b"".join(png_chunk(cid, data) for cid, data in chunks if cid not in _PNG_BEFORE_PLTE)
    spans = _png_chunk_spans(png)
    after_header = spans[0][2]  # IHDR comes first
    first_idat = next(start for cid, start, _ in spans if cid == b"IDAT")
    return png[:after_header] + early + png[after_header:first_idat] + late + png[first_idat:]


def png_chunk(cid: bytes, data: bytes) -> bytes:
    """A PNG chunk of type ``cid``: its length, type, data and CRC."""
    return struct.pack(">I", len(data)) + cid + data + struct.pack(">I", zlib.crc32(cid + data))
