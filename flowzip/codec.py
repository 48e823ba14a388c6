"""compress / decompress: image -> tiles -> integer flow -> latents -> ANS -> container, and back.

RGB (and the RGB of RGBA) goes through the flow, tile by tile on a fixed grid; each tile is padded at its
bottom and right edges (by repeating edge pixels) to a multiple of the model's stride, and cropped back after
decoding. Grey, alpha, palette-index and bilevel planes go through ``flowzip.planes``. A CRC-32 of the pixels
is checked after decoding, so a decode that is not exact fails loudly instead of returning wrong pixels.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

from flowzip.container import (
    DEFAULT_MAX_PIXELS,
    MAX_SIDE,
    MAX_TILE_LOG2,
    MIN_TILE_LOG2,
    MODEL_ID_BYTES,
    MODES,
    Header,
    Palette,
    pixel_checksum,
    read_container,
    tile_grid,
    write_container,
)
from flowzip.entropy import LatentDecoder, encode_latents
from flowzip.errors import FlowzipError
from flowzip.planes import decode_plane, encode_plane
from flowzip.zoo import DEFAULT_MODEL, Model, find_model, load_model

DEFAULT_TILE_SIZE = 256
ImageLike = np.ndarray | Image.Image
_ARRAY_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}  # channels -> mode, for numpy input


@dataclass(frozen=True)
class _Pixels:
    """An image reduced to what the format stores: uint8 pixels (H, W, C) and the metadata around them."""

    pixels: np.ndarray
    mode: str
    kind: str
    palette: Palette | None = None
    icc_profile: bytes | None = None


def _from_input(image: ImageLike) -> _Pixels:
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise FlowzipError(f"unsupported array dtype {image.dtype}: flowzip codes 8-bit (uint8) images")
        if image.ndim == 2:
            return _Pixels(image[:, :, None], "L", "array2d")
        if image.ndim != 3 or image.shape[2] not in _ARRAY_MODES:
            raise FlowzipError(f"unsupported array shape {image.shape}: expected (H, W) or (H, W, 1|2|3|4)")
        return _Pixels(image, _ARRAY_MODES[image.shape[2]], "array")
    if not isinstance(image, Image.Image):
        raise FlowzipError(f"cannot compress a {type(image).__name__}: pass a numpy uint8 array or a PIL image")
    if image.mode not in MODES:
        if image.mode.startswith("I;16") or image.mode in ("I", "F"):
            raise FlowzipError(f"unsupported image mode {image.mode}: 16-bit and float images are not supported")
        raise FlowzipError(f"unsupported image mode {image.mode}: supported modes are {', '.join(MODES)}")
    pixels = np.asarray(image)
    pixels = pixels.astype(np.uint8) if image.mode == "1" else pixels
    palette = None
    if image.mode == "P":
        pal = image.palette
        pal_mode = pal.mode if pal is not None and pal.mode in ("RGB", "RGBA") else "RGB"
        palette = Palette(pal_mode, bytes(image.getpalette(pal_mode) or []), image.info.get("transparency"))
    pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
    return _Pixels(np.ascontiguousarray(pixels), image.mode, "image", palette, image.info.get("icc_profile"))


def _to_image(p: _Pixels) -> Image.Image:
    if p.mode == "1":
        return Image.fromarray(p.pixels[:, :, 0].astype(bool))
    img = Image.fromarray(p.pixels[:, :, 0] if p.pixels.shape[2] == 1 else p.pixels, p.mode)
    if p.palette is not None:
        img.putpalette(p.palette.data, rawmode=p.palette.mode)
        if p.palette.transparency is not None:
            img.info["transparency"] = p.palette.transparency
    if p.icc_profile:
        img.info["icc_profile"] = p.icc_profile
    return img


def _padded(size: int, stride: int) -> int:
    return -(-size // stride) * stride


def _pad(tile: np.ndarray, stride: int) -> np.ndarray:
    """Repeat the last row and column of a tile (h, w, 3) up to multiples of ``stride``."""
    h, w, _ = tile.shape
    return np.pad(tile, ((0, _padded(h, stride) - h), (0, _padded(w, stride) - w), (0, 0)), mode="edge")


def encode_tile(model: Model, tile: np.ndarray) -> bytes:
    """Code one RGB tile (h, w, 3) with the flow, or store it raw if the flow would not make it smaller.

    A section of exactly ``3 * h * w`` bytes is the raw tile; the flow's stream is never stored at that length.
    """
    x = torch.from_numpy(_pad(tile, model.flow.config.stride)).permute(2, 0, 1)[None].to(torch.float64)
    with torch.no_grad():
        groups = model.flow.latent_groups(x)
    data = encode_latents(groups, model.flow.config.family)
    return data if len(data) < tile.size else np.ascontiguousarray(tile).tobytes()


def decode_tile(model: Model, data: bytes, height: int, width: int) -> np.ndarray:
    """Decode one RGB tile coded by ``encode_tile``."""
    if len(data) == 3 * height * width:
        return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
    stride = model.flow.config.stride
    decoder = LatentDecoder(data, model.flow.config.family)
    shape = (1, 3, _padded(height, stride), _padded(width, stride))
    with torch.no_grad():
        x = model.flow.decode(shape, decoder, torch.float64)
    decoder.finish()
    if x.min() < 0 or x.max() > 255:
        raise FlowzipError("corrupt compressed data (decoded values outside 0..255)")
    return x[0, :, :height, :width].permute(1, 2, 0).numpy().astype(np.uint8)


Progress = Callable[[int, int], None]  # called with (tiles done, tiles in all) after each flow tile
_Item = TypeVar("_Item")
_Out = TypeVar("_Out")


def available_cores() -> int:
    """The CPU cores this process may run on (the default number of jobs)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _map_tiles(
    work: Callable[[_Item], _Out], items: Sequence[_Item], jobs: int | None, progress: Progress | None
) -> Iterator[_Out]:
    """``work(item)`` for each tile, yielded in order, computed on up to ``jobs`` threads (None: all cores).

    Tiles are independent, so the results do not depend on ``jobs``. PyTorch and numba release the GIL in
    the convolutions and the autoregressive solve, where the time goes; each thread runs its tile on one
    intra-op thread so that the jobs do not oversubscribe the cores. At most ``2 * jobs`` tiles are in flight,
    so memory stays bounded however large the image.
    """
    jobs = available_cores() if jobs is None else max(1, jobs)
    if jobs == 1 or len(items) <= 1:
        for k, item in enumerate(items, 1):
            yield work(item)
            if progress:
                progress(k, len(items))
        return
    intra_op_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pool = ThreadPoolExecutor(jobs, thread_name_prefix="flowzip-tile")
    try:
        queue: deque[Future[_Out]] = deque()
        todo = iter(items)
        for k in range(1, len(items) + 1):
            while len(queue) < 2 * jobs and (item := next(todo, None)) is not None:
                queue.append(pool.submit(work, item))
            yield queue.popleft().result()
            if progress:
                progress(k, len(items))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(intra_op_threads)


def compress(
    image: ImageLike,
    model: str | Model = DEFAULT_MODEL,
    tile_size: int = DEFAULT_TILE_SIZE,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> bytes:
    """Compress an image losslessly; return the bytes of a .fzi file.

    ``image`` is a uint8 numpy array (H, W), (H, W, C) with C in 1..4, or a PIL image in mode RGB, RGBA, L,
    LA, P or 1. ``model`` is a shipped model's name or a model file's path; ``tile_size`` a power of two
    from 32 to 4096; ``progress(done, total)`` is called after each flow tile; ``jobs`` tiles are coded at
    once (None: one per core). The bytes do not depend on ``jobs``.
    """
    p = _from_input(image)
    height, width, _ = p.pixels.shape
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise FlowzipError(f"unsupported image size {width}x{height}: sides must be 1 to {MAX_SIDE}")
    tile_log2 = tile_size.bit_length() - 1
    if tile_size != 1 << tile_log2 or not MIN_TILE_LOG2 <= tile_log2 <= MAX_TILE_LOG2:
        raise FlowzipError(f"invalid tile size {tile_size}: use a power of two from 32 to 4096")
    _, flow_planes, _ = MODES[p.mode]
    sections, model_id = [], b""
    if flow_planes:
        m = model if isinstance(model, Model) else load_model(model)
        model_id = m.weights_hash[:MODEL_ID_BYTES]
        rgb = p.pixels[:, :, :3]
        tiles = [rgb[rows, cols] for rows, cols in tile_grid(height, width, tile_size)]
        sections += _map_tiles(lambda tile: encode_tile(m, tile), tiles, jobs, progress)
    sections += [encode_plane(p.pixels[:, :, c]) for c in range(flow_planes, p.pixels.shape[2])]
    header = Header(
        width, height, p.mode, p.kind, tile_log2, pixel_checksum(p.pixels.tobytes()), model_id, p.icc_profile, p.palette
    )
    return write_container(header, sections)


def _decode(
    data: bytes, model: str | Model | None, max_pixels: int | None, progress: Progress | None, jobs: int | None
) -> _Pixels:
    header, sections = read_container(data, max_pixels)
    _, flow_planes, extra_planes = MODES[header.mode]
    channels = flow_planes + extra_planes
    pixels = np.empty((header.height, header.width, channels), dtype=np.uint8)
    tiles = header.flow_tiles()
    if tiles:
        if isinstance(model, Model):
            m = model
            if m.weights_hash[:MODEL_ID_BYTES] != header.model_id:
                raise FlowzipError(f"this file needs model {header.model_id.hex()}, not {m.short_id}")
        else:
            m = find_model(header.model_id, model)

        def work(tile: tuple[tuple[slice, slice], bytes]) -> np.ndarray:
            (rows, cols), section = tile
            return decode_tile(m, section, rows.stop - rows.start, cols.stop - cols.start)

        work_items = list(zip(tiles, sections[: len(tiles)], strict=True))
        for ((rows, cols), _), rgb in zip(work_items, _map_tiles(work, work_items, jobs, progress), strict=True):
            pixels[rows, cols, :3] = rgb
    for c, section in zip(range(flow_planes, channels), sections[len(tiles) :], strict=True):
        pixels[:, :, c] = decode_plane(section, header.height, header.width)
    if pixel_checksum(pixels.tobytes()) != header.checksum:
        raise FlowzipError(
            "checksum mismatch: the decoded pixels are not the original ones (corrupt file, or "
            "this machine computes the model differently)"
        )
    return _Pixels(pixels, header.mode, header.kind, header.palette, header.icc_profile)


def decompress(
    data: bytes,
    model: str | Model | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> ImageLike:
    """Decompress a .fzi file's bytes to exactly the pixels that were compressed.

    Returns the same kind that was compressed: a PIL image (same mode, palette, transparency and ICC
    profile) or a numpy array of the same shape. ``model`` overrides the search for the file's model among
    the shipped ones (a name or a path); it must be the model the file was written with. Images of more than
    ``max_pixels`` pixels (default 2**28) are refused before anything is allocated; None lifts the limit.
    ``progress(done, total)`` is called after each flow tile; ``jobs`` tiles are decoded at once (None: one
    per core).
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
    """Like ``decompress``, but always a PIL image, also for files compressed from numpy arrays."""
    return _to_image(_decode(data, model, max_pixels, progress, jobs))


def model_code_length(
    image: ImageLike, model: str | Model = DEFAULT_MODEL, tile_size: int = DEFAULT_TILE_SIZE
) -> float:
    """The model's code length of an image's RGB pixels in bits: -log2 of their probability under the flow,
    tile by tile as ``compress`` codes them (padding included). A file's flow sections are this plus the
    coder's small overhead; divide by ``H * W * 3`` for bits per subpixel."""
    p = _from_input(image)
    if not MODES[p.mode][1]:
        raise FlowzipError(f"a {p.mode} image is not coded by the flow; only RGB and RGBA are")
    m = model if isinstance(model, Model) else load_model(model)
    stride = m.flow.config.stride
    bits = 0.0
    for rows, cols in tile_grid(*p.pixels.shape[:2], tile_size):
        x = torch.from_numpy(_pad(p.pixels[rows, cols, :3], stride)).permute(2, 0, 1)[None].to(torch.float64)
        with torch.no_grad():
            bits += m.flow.code_length_bits(x).item()
    return bits


def read_header(data: bytes, max_pixels: int | None = None) -> Header:
    """The header of a .fzi file (validated), without decoding any pixels."""
    return read_container(data, max_pixels)[0]
