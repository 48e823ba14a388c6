"""compress / decompress: an image to a .fzi file and back, pixel for pixel.

RGB (and the RGB of RGBA) is coded tile by tile on a fixed grid, each tile by the tool that codes it shortest: a
learned model, the classical coder or raw bytes (``flowzip.tiles``); grey, alpha, palette-index and bilevel
planes go through the classical coder (``flowzip.classical``); ``flowzip.container`` writes and reads the file.
Each is imported only for an image that needs it, and a model only for a tile that tries or uses it (PyTorch
and numba take a second or two to load: a grey image needs no model, a header no coder). A CRC-32 of the pixels
is checked after decoding, so a decode that is not exact fails loudly instead of returning wrong pixels. A PIL
image's metadata (ICC profile, EXIF, XMP, a PNG's chunks: ``flowzip.metadata``) is kept with it; what the format
does not keep and that changes how the image looks (animation frames, transparency of other modes) is named in a
``FlowzipWarning``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from PIL import Image

from flowzip.container import (
    ARRAY_ONLY_MODES,
    COLOUR_KEY_CHANNELS,
    COLOUR_KEY_MAX,
    DEFAULT_MAX_PIXELS,
    MAX_SIDE,
    MAX_TILE_LOG2,
    MIN_TILE_LOG2,
    MODES,
    Header,
    Palette,
    covering_tile_log2,
    deep_sections,
    pixel_checksum,
    read_container,
    tile_grid,
    tile_tool,
    write_container,
)
from flowzip.errors import FlowzipError, warn
from flowzip.images import ImageLike, check_8_bit
from flowzip.learned.zoo import Model, ModelOnUse, default_model, find_model, load_model, model_id
from flowzip.metadata import NO_METADATA, Metadata, of_image, to_info, unkept_of_image
from flowzip.settings import DEFAULT_SETTINGS, EncoderSettings

if TYPE_CHECKING:
    from flowzip.tiles import Progress

DEFAULT_TILE_SIZE = 256
_Part = TypeVar("_Part")
_Out = TypeVar("_Out")
# numpy input: dtype -> channels -> mode
_ARRAY_MODES = {
    np.dtype(np.uint8): {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"},
    np.dtype(np.uint16): {1: "I;16", 2: "LA;16", 3: "RGB;16", 4: "RGBA;16"},
}
_GREY_16 = ("I;16", "I;16L", "I;16B", "I;16N")  # Pillow's 16-bit grey modes, coded as I;16 (the same values)


@dataclass(frozen=True)
class _Pixels:
    """An image reduced to what the format stores: uint8 pixels (H, W, C) and the metadata around them."""

    pixels: np.ndarray
    mode: str
    kind: str
    palette: Palette | None = None
    metadata: Metadata = NO_METADATA
    colour_key: tuple[int, ...] | None = None

    def same_as(self, other: _Pixels) -> bool:
        """The same pixels, mode, kind and metadata."""
        fields = ("mode", "kind", "palette", "metadata", "colour_key")
        return np.array_equal(self.pixels, other.pixels) and all(getattr(self, f) == getattr(other, f) for f in fields)


def _colour_key(image: Image.Image, mode: str) -> tuple[int, ...] | None:
    """The colour shown transparent (PNG's tRNS) of an RGB, L, 1 or I;16 image (stored as ``mode``), or None."""
    t = image.info.get("transparency")
    if t is None or mode not in COLOUR_KEY_CHANNELS:
        return None
    key = tuple(t) if isinstance(t, tuple) else (t,)
    if len(key) != COLOUR_KEY_CHANNELS[mode] or not all(isinstance(v, int) and 0 <= v <= COLOUR_KEY_MAX for v in key):
        raise FlowzipError(f"unsupported transparency {t!r} for a {image.mode} image")
    return key


def _fits_16_bits(image: Image.Image) -> bool:
    """Whether every sample of a mode I image (32-bit integers) is in 0..65535."""
    low, high = image.getextrema()
    return low >= 0 and high <= 65535


def _unkept_metadata(image: Image.Image) -> list[str]:
    """What of ``image`` changes how it looks but is not stored (for a warning)."""
    lost = []
    if getattr(image, "n_frames", 1) > 1:
        lost.append(f"{image.n_frames} frames, only the first is compressed")
    if "transparency" in image.info and image.mode not in (*COLOUR_KEY_CHANNELS, *_GREY_16, "P"):
        lost.append(f"the transparency of a {image.mode} image is not kept")
    return lost


def _from_input(image: ImageLike, metadata: Metadata | None) -> _Pixels:
    """The pixels of ``image`` and the metadata to store: ``metadata``, or (None) a PIL image's own."""
    if isinstance(image, np.ndarray):
        if image.dtype.kind == "u" and not image.dtype.isnative:
            image = image.astype(image.dtype.newbyteorder("="))
        if image.dtype not in _ARRAY_MODES:
            raise FlowzipError(
                f"unsupported array dtype {image.dtype}: flowzip codes 8- and 16-bit images (uint8, uint16)"
            )
        modes = _ARRAY_MODES[image.dtype]
        if image.ndim == 2:
            return _Pixels(image[:, :, None], modes[1], "array2d", metadata=metadata or NO_METADATA)
        if image.ndim != 3 or image.shape[2] not in modes:
            raise FlowzipError(f"unsupported array shape {image.shape}: expected (H, W) or (H, W, 1|2|3|4)")
        return _Pixels(image, modes[image.shape[2]], "array", metadata=metadata or NO_METADATA)
    if not isinstance(image, Image.Image):
        raise FlowzipError(f"cannot compress a {type(image).__name__}: pass a numpy uint8 array or a PIL image")
    if image.mode == "I" and _fits_16_bits(image):  # Pillow reads 16-bit PGM and signed TIFF so
        image = image.convert("I;16")
    if image.mode not in MODES and image.mode not in _GREY_16:
        if image.mode in ("I", "F"):
            raise FlowzipError(
                f"unsupported image mode {image.mode}: samples outside 0..65535 and float samples are not supported"
            )
        raise FlowzipError(f"unsupported image mode {image.mode}: supported modes are {', '.join(MODES)}")
    if image.mode not in _GREY_16:
        check_8_bit(image)
    for lost in _unkept_metadata(image):
        warn(lost)
    pixels = np.asarray(image)
    pixels = pixels.astype(np.uint8) if image.mode == "1" else pixels
    pixels = pixels.astype(np.uint16) if image.mode in _GREY_16 else pixels  # native byte order
    mode = "I;16" if image.mode in _GREY_16 else image.mode
    palette = None
    if image.mode == "P":
        pal = image.palette
        pal_mode = pal.mode if pal is not None and pal.mode in ("RGB", "RGBA") else "RGB"
        palette = Palette(pal_mode, bytes(image.getpalette(pal_mode) or []), image.info.get("transparency"))
    pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
    return _Pixels(
        np.ascontiguousarray(pixels),
        mode,
        "image",
        palette,
        of_image(image) if metadata is None else metadata,
        _colour_key(image, mode),
    )


def _to_image(p: _Pixels) -> Image.Image:
    if p.mode in ARRAY_ONLY_MODES:
        raise FlowzipError(f"a 16-bit {p.mode[:-3]} image has no PIL form: decompress it to a uint16 array")
    if p.mode == "1":
        img = Image.fromarray(p.pixels[:, :, 0].astype(bool))
    else:
        plane = p.pixels[:, :, 0] if p.pixels.shape[2] == 1 else p.pixels
        img = Image.fromarray(plane) if p.mode == "I;16" else Image.fromarray(plane, p.mode)  # I;16 from the dtype
    if p.palette is not None:
        img.putpalette(p.palette.data, rawmode=p.palette.mode)
        if p.palette.transparency is not None:
            img.info["transparency"] = p.palette.transparency
    if p.colour_key is not None:
        img.info["transparency"] = p.colour_key if len(p.colour_key) > 1 else p.colour_key[0]
    img.info.update(to_info(p.metadata))
    return img


def _palette_colours(palette: Palette) -> np.ndarray:
    """The RGB colours of a palette's entries (N, 3), in index order."""
    step = len(palette.mode)
    data = np.frombuffer(palette.data[: len(palette.data) // step * step], dtype=np.uint8).reshape(-1, step)
    return data[:, :3]


def available_cores() -> int:
    """The CPU cores this process may run on (the default number of jobs)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _model_for(model: str | Model | None, width: int, height: int) -> str | Model:
    """The model to code an image of this size with: the one given (a name, a path or a loaded model), or
    ``zoo.default_model`` of the size."""
    return default_model(width, height) if model is None else model


def _loaded(model: str | Model) -> Model:
    return model if isinstance(model, Model) else load_model(model)


def compress(
    image: ImageLike,
    model: str | Model | None = None,
    tile_size: int = DEFAULT_TILE_SIZE,
    progress: Progress | None = None,
    jobs: int | None = None,
    tools: Collection[str] | None = None,
    verify: bool = False,
    settings: EncoderSettings = DEFAULT_SETTINGS,
    strip: bool = False,
    metadata: Metadata | None = None,
) -> bytes:
    """Compress an image losslessly; return the bytes of a .fzi file.

    ``image`` is a uint8 or uint16 numpy array (H, W), (H, W, C) with C in 1..4, or a PIL image in mode RGB,
    RGBA, L, LA, P, 1 or 16-bit grey (I;16, I;16B, or I with samples in 0..65535). ``model`` is a shipped
    model's name or a model file's path (None: ``zoo.default_model`` of the image's size); ``tile_size`` a power
    of two from 32 to 4096 (the file keeps one tile for the whole image instead where the classical coder codes
    it shorter so, tried as ``flowzip.tiles.encode_tiles`` says); ``progress(done, total)`` is called after each
    RGB tile (or strip of a 16-bit image); ``jobs`` tiles (or strips) are coded at once (None: one per core).
    The bytes do not depend on ``jobs``. ``tools`` are what each RGB tile may be coded with, the shortest
    winning: "flow", "classical" (and always "raw"), on an image of any size; name one to measure it alone (None:
    those of ``settings``, an ``EncoderSettings`` with the searches' other limits, which tries the flow only on
    images of at most ``flow_max_pixels``).

    The file keeps ``metadata``, or (None) a PIL image's own as Pillow read it (``flowzip.metadata.of_image``;
    pass ``of_image(image, file_bytes)`` to keep a PNG file's every chunk); ``strip`` keeps only the ICC profile.

    The file is always read back through the decoder's checks of its header and section sizes; with ``verify``
    it is also decoded whole and compared with the input (as long again as the encoding where the flow codes
    tiles). Either failing is a ``FlowzipError``, never a file that does not decode.
    """
    if tools is not None:  # exactly these, on any image
        settings = dataclasses.replace(settings, tools=tuple(tools), flow_max_pixels=math.inf)
    p = _from_input(image, metadata)
    if strip:
        p = dataclasses.replace(p, metadata=p.metadata.stripped())
    elif isinstance(image, Image.Image):
        for lost in unkept_of_image(image):
            warn(lost)
    height, width, _ = p.pixels.shape
    if height * width > settings.flow_max_pixels:
        settings = dataclasses.replace(settings, tools=tuple(t for t in settings.tools if t != "flow"))
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise FlowzipError(f"unsupported image size {width}x{height}: sides must be 1 to {MAX_SIDE}")
    tile_log2 = tile_size.bit_length() - 1
    if tile_size != 1 << tile_log2 or not MIN_TILE_LOG2 <= tile_log2 <= MAX_TILE_LOG2:
        raise FlowzipError(f"invalid tile size {tile_size}: use a power of two from 32 to 4096")
    tile_log2 = min(tile_log2, covering_tile_log2(width, height))  # the same one tile; the header omits its size
    layout = MODES[p.mode]
    sections, stored_id, chosen = [], b"", None
    cores = available_cores() if jobs is None else jobs
    if layout.rgb_planes:
        from flowzip.tiles import encode_tiles

        chosen = _model_for(model, width, height)
        stored_id = model_id(chosen)
        source = ModelOnUse(lambda: _matching(_loaded(chosen), stored_id))  # loaded if a tile tries it
        tile_log2, sections = encode_tiles(source, p.pixels[:, :, :3], tile_log2, cores, progress, settings)
    if p.mode == "P":
        from flowzip.classical import encode_indices

        sections.append(encode_indices(p.pixels[:, :, 0], _palette_colours(p.palette)))
    elif layout.extra_planes:
        from flowzip.classical import encode_plane

        sections += [encode_plane(p.pixels[:, :, c]) for c in range(layout.rgb_planes, layout.planes)]
    if layout.deep_groups:
        from flowzip.classical import encode_deep

        parts = [p.pixels[rows, :, group] for rows, group in deep_sections(p.mode, height, width)]
        sections += _map_strips(encode_deep, parts, cores, progress)
    header = Header(
        width,
        height,
        p.mode,
        p.kind,
        tile_log2,
        pixel_checksum(p.pixels),
        stored_id,
        p.metadata,
        p.palette,
        p.colour_key,
    )
    data = write_container(header, sections)
    _check_written(data, p if verify else None, chosen, cores)
    return data


def _map_strips(work: Callable[[_Part], _Out], parts: list[_Part], jobs: int, progress: Progress | None) -> list[_Out]:
    """``work`` on each strip of a 16-bit image, ``jobs`` at once (the deep coder releases the GIL), in order;
    ``progress(done, total)`` after each."""
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(parts)))) as pool:
        futures = [pool.submit(work, part) for part in parts]
        for done, _ in enumerate(as_completed(futures), 1):
            if progress:
                progress(done, len(futures))
        return [future.result() for future in futures]


def _matching(model: Model, stored_id: bytes) -> Model:
    """``model``, checked to be the one whose id the file stores (the index of the shipped models gave it)."""
    if model.weights_hash[: len(stored_id)] != stored_id:
        raise FlowzipError(f"the installed model {model.name!r} does not match its id; reinstall flowzip")
    return model


def _check_written(data: bytes, original: _Pixels | None, model: str | Model | None, jobs: int) -> None:
    """Read ``data`` back through every check of the decoder's (cheap); with ``original``, decode it whole and
    compare. A file that fails is a bug of flowzip's, reported so that nothing that would not decode is kept."""
    try:
        if original is None:
            read_container(data, max_pixels=None)
        elif not _decode(data, model, None, None, jobs).same_as(original):
            raise FlowzipError("the decoded image differs from the input")
    except FlowzipError as e:
        raise FlowzipError(f"internal error: the file flowzip wrote does not decode ({e}); please report it") from None


def _decode(
    data: bytes, model: str | Model | None, max_pixels: int | None, progress: Progress | None, jobs: int | None
) -> _Pixels:
    header, sections = read_container(data, max_pixels)
    layout = MODES[header.mode]
    pixels = np.empty((header.height, header.width, layout.planes), dtype=f"u{layout.sample_bits // 8}")
    tiles = header.rgb_tiles()
    if tiles:
        from flowzip.tiles import decode_tiles

        source = ModelOnUse(lambda: find_model(header.model_id, model))  # loaded if a tile needs it
        cores = available_cores() if jobs is None else jobs
        decoded = decode_tiles(source, sections[: len(tiles)], tiles, header.version, cores, progress)
        for (rows, cols), rgb in zip(tiles, decoded, strict=True):
            pixels[rows, cols, :3] = rgb
    if header.mode == "P" and header.version > 1:
        from flowzip.classical import decode_indices

        pixels[:, :, 0] = decode_indices(sections[0], header.height, header.width, _palette_colours(header.palette))
    elif layout.extra_planes:
        from flowzip.classical import decode_plane

        for c, section in zip(range(layout.rgb_planes, layout.planes), sections[len(tiles) :], strict=True):
            pixels[:, :, c] = decode_plane(section, header.height, header.width)
    if layout.deep_groups:
        from flowzip.classical import decode_deep

        def decode(part: tuple[tuple[slice, slice], bytes]) -> None:
            (rows, group), section = part
            pixels[rows, :, group] = decode_deep(
                section, rows.stop - rows.start, header.width, group.stop - group.start
            )

        cores = available_cores() if jobs is None else jobs
        _map_strips(decode, list(zip(header.deep_sections(), sections, strict=True)), cores, progress)
    if pixel_checksum(pixels) != header.checksum:
        raise FlowzipError(
            "checksum mismatch: the decoded pixels are not the original ones (corrupt file, or "
            "this machine computes the model differently)"
        )
    return _Pixels(pixels, header.mode, header.kind, header.palette, header.metadata, header.colour_key)


def decompress(
    data: bytes,
    model: str | Model | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> ImageLike:
    """Decompress a .fzi file's bytes to exactly the pixels that were compressed.

    Returns the same kind that was compressed: a PIL image (same mode, palette and transparency; its ``info``
    has the metadata as ``flowzip.metadata.to_info`` names them, and ``read_header(data).metadata`` all of it)
    or a numpy array of the same shape and dtype. ``model`` overrides the search for the file's model among
    the shipped ones (a name or a path); it must be the model the file was written with. Images of more than
    ``max_pixels`` pixels (default 2**28) are refused before anything is allocated; None lifts the limit.
    ``progress(done, total)`` is called after each RGB tile (or 16-bit strip); ``jobs`` tiles (or strips) are
    decoded at once (None: one per core).
    """
    p = _decode(data, model, max_pixels, progress, jobs)
    if p.kind == "array":
        return p.pixels
    if p.kind == "array2d":
        return p.pixels[:, :, 0]
    return _to_image(p)


def decompress_image(
    data: bytes,
    model: str | Model | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> Image.Image:
    """Like ``decompress``, but always a PIL image, also for files compressed from numpy arrays; a
    ``FlowzipError`` for 16-bit colour (LA;16, RGB;16, RGBA;16), which PIL has no mode for."""
    return _to_image(_decode(data, model, max_pixels, progress, jobs))


def model_code_length(image: ImageLike, model: str | Model | None = None, tile_size: int = DEFAULT_TILE_SIZE) -> float:
    """The model's code length of an image's RGB pixels in bits: -log2 of their probability under the flow,
    tile by tile as ``compress`` codes them (padding included), with ``model`` or, if None, ``zoo.default_model``
    of the image's size. A tile coded by the flow costs this plus the coder's small overhead; divide by
    ``H * W * 3`` for bits per subpixel."""
    p = _from_input(image, NO_METADATA)
    if not MODES[p.mode].rgb_planes:
        raise FlowzipError(f"a {p.mode} image is not coded by the flow; only RGB and RGBA are")
    from flowzip.tiles.flow import flow_code_length

    height, width = p.pixels.shape[:2]
    m = _loaded(_model_for(model, width, height))
    return sum(flow_code_length(m, p.pixels[rows, cols, :3]) for rows, cols in tile_grid(height, width, tile_size))


@dataclass(frozen=True)
class CodedSection:
    """How one section of a file is coded, and what it holds."""

    path: str  # "raw", "flow", "classical: palette, context method 7", "plane: med + LZMA2", "deep: stored"...
    size: int  # bytes
    subpixels: int

    @property
    def tool(self) -> str:
        """The tile tool ("raw", "flow", "classical"), or "plane", or "deep" (16-bit samples)."""
        return self.path.split(":")[0]


def coded_sections(data: bytes) -> list[CodedSection]:
    """Every section of a .fzi file, in order, read without decoding (and without loading a coder)."""
    from flowzip.classical.methods import describe_deep, describe_predicted, describe_rgb

    header, sections = read_container(data, max_pixels=None)
    out = []
    for (rows, cols), section in zip(header.rgb_tiles(), sections, strict=False):
        subpixels = 3 * (rows.stop - rows.start) * (cols.stop - cols.start)
        tool, body = tile_tool(section, subpixels, header.version)
        out.append(
            CodedSection(f"classical: {describe_rgb(body)}" if tool == "classical" else tool, len(section), subpixels)
        )
    plane = header.width * header.height
    rest = sections[len(header.rgb_tiles()) :]
    if MODES[header.mode].deep_groups:
        for s, (rows, group) in zip(rest, header.deep_sections(), strict=True):
            channels = group.stop - group.start
            subpixels = (rows.stop - rows.start) * header.width * channels
            out.append(CodedSection(f"deep: {describe_deep(s, channels)}", len(s), subpixels))
        return out
    return out + [CodedSection(f"plane: {describe_predicted(s)}", len(s), plane) for s in rest]


def coding_paths(data: bytes) -> list[str]:
    """How each section of a .fzi file is coded, in order: an RGB tile by "raw", "flow" or "classical: " and its
    transform and coder ("classical: palette, context method 7"), a plane by its coder ("plane: med + LZMA2")."""
    return [section.path for section in coded_sections(data)]


def read_header(data: bytes, max_pixels: int | None = None) -> Header:
    """The header of a .fzi file (validated), without decoding any pixels."""
    return read_container(data, max_pixels)[0]
