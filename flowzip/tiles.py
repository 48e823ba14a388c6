"""RGB tiles, each coded by the tool that makes it smallest: the integer flow, the classical coder, or raw.

The flow is for photographs; the classical coder (``flowzip.planes.encode_rgb``: prediction or a palette, then
LZMA2 or a context coder) for drawings, text and few colours, where the flow's confident predictions fail at
every sharp edge; raw bytes for noise. Every tool is tried on every tile and the shortest section kept, so no
tile costs more than the best of them, but the flow is skipped where the classical coder already needs almost
nothing. When the flow loses tiles, the classical coder is also tried on the whole image at once (up to 4 MP),
where LZMA2 finds repeats across tiles. Each flow tile is padded at its bottom and right edges (by repeating
edge pixels) to a multiple of the model's stride and cropped back after decoding. Tiles are independent, so they
are coded on several threads at once, and the bytes do not depend on how many. PyTorch is needed only here;
``flowzip.codec`` imports this module only for images with RGB.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch

from flowzip.container import MAX_TILE_LOG2, TILE_TOOLS, covering_tile_log2, tile_grid
from flowzip.entropy import LatentDecoder, encode_latents
from flowzip.errors import FlowzipError
from flowzip.planes import decode_rgb, encode_rgb
from flowzip.zoo import Model

Progress = Callable[[int, int], None]  # called with (tiles done, tiles in all) after each flow tile
RAW, FLOW, CLASSICAL = (bytes([TILE_TOOLS.index(tool)]) for tool in ("raw", "flow", "classical"))
FLOW_SKIP_BITS = 0.25  # the flow is not tried on a tile the classical coder codes in this many bits/subpixel
# The classical coder's try on the whole image, for images up to this size: on 1.6 and 6.3 MP mosaics of photos
# it saved no byte and took 35-42 % of the encode time (benchmarks/whole_image_try.py); on small photos it pays.
WHOLE_IMAGE_MAX_PIXELS = 1 << 22
_Item = TypeVar("_Item")
_Out = TypeVar("_Out")


def _padded(size: int, stride: int) -> int:
    return -(-size // stride) * stride


def _to_flow_input(tile: np.ndarray, stride: int) -> torch.Tensor:
    """A tile (h, w, 3), its last row and column repeated up to multiples of ``stride``, as (1, 3, H, W) float64."""
    h, w, _ = tile.shape
    padded = np.pad(tile, ((0, _padded(h, stride) - h), (0, _padded(w, stride) - w), (0, 0)), mode="edge")
    return torch.from_numpy(padded).permute(2, 0, 1)[None].to(torch.float64)


def flow_stream(model: Model, tile: np.ndarray) -> bytes:
    """The flow's ANS stream of an RGB tile (h, w, 3): the section of the flow tool, without its tool byte."""
    with torch.no_grad():
        groups = model.flow(_to_flow_input(tile, model.flow.config.stride))
    return encode_latents(groups, model.flow.config.family)


def _flow_tile(model: Model, data: bytes, height: int, width: int) -> np.ndarray:
    stride = model.flow.config.stride
    decoder = LatentDecoder(data, model.flow.config.family)
    shape = (1, 3, _padded(height, stride), _padded(width, stride))
    with torch.no_grad():
        x = model.flow.inverse(shape, decoder, torch.float64)
    decoder.finish()
    if x.min() < 0 or x.max() > 255:
        raise FlowzipError("corrupt compressed data (decoded values outside 0..255)")
    return x[0, :, :height, :width].permute(1, 2, 0).numpy().astype(np.uint8)


def encode_tile(model: Model, tile: np.ndarray, tools: Collection[str] = TILE_TOOLS) -> bytes:
    """Code one RGB tile (h, w, 3) with each of ``tools`` (raw always); return the shortest section (tool
    byte, then its data)."""
    candidates = [RAW + np.ascontiguousarray(tile).tobytes()]
    if "classical" in tools:
        candidates.append(CLASSICAL + encode_rgb(tile))
    if "flow" in tools and 8 * (len(candidates[-1]) - 1) > FLOW_SKIP_BITS * tile.size:
        candidates.append(FLOW + flow_stream(model, tile))
    return min(candidates, key=len)


def decode_tile(model: Model, data: bytes, height: int, width: int, version: int) -> np.ndarray:
    """Decode one RGB tile coded by ``encode_tile`` (format 1: raw if it has 3 h w bytes, else the flow's)."""
    if version == 1:
        tool, data = (RAW if len(data) == 3 * height * width else FLOW), data
    else:
        tool, data = data[:1], data[1:]
    if tool == RAW:
        if len(data) != 3 * height * width:
            raise FlowzipError("corrupt file: a raw tile of the wrong length")
        return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
    if tool == FLOW:
        return _flow_tile(model, data, height, width)
    if tool == CLASSICAL:
        return decode_rgb(data, height, width)
    raise FlowzipError("corrupt file: unknown tile tool")


def tile_code_length(model: Model, tile: np.ndarray) -> float:
    """-log2 of the probability of an RGB tile (h, w, 3) under the flow, padding included, in bits."""
    with torch.no_grad():
        return model.flow.code_length_bits(_to_flow_input(tile, model.flow.config.stride)).item()


def encode_tiles(
    model: Model,
    rgb: np.ndarray,
    tile_log2: int,
    jobs: int,
    progress: Progress | None,
    tools: Collection[str] = TILE_TOOLS,
) -> tuple[int, list[bytes]]:
    """(tile_log2, sections) of an RGB image (H, W, 3): every tile's ``encode_tile``, ``jobs`` tiles at once;
    or, where the flow lost a tile, one tile covering the image, coded by the classical coder, if that is
    shorter in all.

    That try is one core's work from start to end, so with several jobs it starts at once, beside the tiles
    (it is wasted where the flow wins every tile, which is rare), instead of after them.
    """
    grid = tile_grid(*rgb.shape[:2], 1 << tile_log2)
    tiles = [rgb[rows, cols] for rows, cols in grid]
    whole_log2 = covering_tile_log2(rgb.shape[1], rgb.shape[0])
    may_try_whole = (
        "classical" in tools
        and len(tiles) > 1
        and whole_log2 <= MAX_TILE_LOG2
        and rgb.shape[0] * rgb.shape[1] <= WHOLE_IMAGE_MAX_PIXELS
    )
    beside = ThreadPoolExecutor(1, thread_name_prefix="flowzip-whole") if may_try_whole and jobs > 1 else None
    try:
        whole = beside.submit(encode_rgb, rgb) if beside else None
        sections = list(_map_tiles(lambda tile: encode_tile(model, tile, tools), tiles, jobs, progress))
        if may_try_whole and any(s[:1] != FLOW for s in sections):
            section = CLASSICAL + (whole.result() if whole else encode_rgb(rgb))
            if len(section) < sum(len(s) + 2 for s in sections):  # each section's length takes a byte or more
                return whole_log2, [section]
        return tile_log2, sections
    finally:
        if beside:
            beside.shutdown(wait=False, cancel_futures=True)


def decode_tiles(
    model: Model,
    sections: Sequence[bytes],
    grid: Sequence[tuple[slice, slice]],
    version: int,
    jobs: int,
    progress: Progress | None,
) -> Iterator[np.ndarray]:
    """The tiles of ``sections`` at the places of ``grid``, in order; the inverse of ``encode_tiles``."""
    work = [
        (section, rows.stop - rows.start, cols.stop - cols.start)
        for section, (rows, cols) in zip(sections, grid, strict=True)
    ]
    return _map_tiles(lambda item: decode_tile(model, *item, version), work, jobs, progress)


def _map_tiles(
    work: Callable[[_Item], _Out], items: Sequence[_Item], jobs: int, progress: Progress | None
) -> Iterator[_Out]:
    """``work(item)`` for each tile, yielded in order, using ``jobs`` threads in all.

    PyTorch and numba release the GIL in the convolutions and the autoregressive solve, where the time goes, so
    tiles run in parallel on ``jobs`` threads, each tile on one thread: PyTorch's own (intra-op) threads are
    set to one whatever its default, because on a busy machine their spin-waits cost ten times what they give
    on a tile (measured: a one-tile encode took 10-18 s with two intra-op threads on a loaded 2-core machine,
    0.8 s with one). At most ``2 * jobs`` tiles are in flight, so memory stays bounded.
    """
    jobs = max(1, jobs)
    parallel = jobs > 1 and len(items) > 1
    intra_op_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pool = ThreadPoolExecutor(jobs, thread_name_prefix="flowzip-tile") if parallel else None
    try:
        queue: deque[Future[_Out]] = deque()
        todo = iter(items)
        for k in range(1, len(items) + 1):
            if pool is None:
                yield work(next(todo))
            else:
                while len(queue) < 2 * jobs and (item := next(todo, None)) is not None:
                    queue.append(pool.submit(work, item))
                yield queue.popleft().result()
            if progress:
                progress(k, len(items))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(intra_op_threads)
