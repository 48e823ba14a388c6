"""RGB tiles, each coded by the tool that makes it smallest: a learned model, the classical coder, or raw.

The learned model (``flowzip.tiles.flow``) is for photographs; the classical coder (``flowzip.classical.encode_rgb``:
prediction or a palette, then LZMA2 or a context coder) for drawings, text and few colours, where the model's
confident predictions fail at every sharp edge; raw bytes for noise. Every tool is tried on every tile and the
shortest section kept, so no tile costs more than the best of them, but the model is skipped where the classical
coder already needs almost nothing. Where a tile went raw, to LZMA2 or to a palette, the classical coder is also
tried on the whole image at once (up to 4 MP), where LZMA2 finds repeats across tiles; not on photos, whose
tiles the context coder takes: one tile would save about half a percent and cost the decoder its parallelism.
Tiles are independent, so they are coded and decoded on several threads at once, and the bytes do not depend
on how many.

The model comes from a ``ModelSource``, called only for a tile that tries or uses it: a file whose tiles are all
classical or raw decodes without PyTorch or the model, and a graphics image encodes without them.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from flowzip.classical import context_coded_rgb, decode_rgb, encode_rgb
from flowzip.container import MAX_TILE_LOG2, TILE_TOOLS, covering_tile_log2, tile_grid, tile_tool
from flowzip.errors import FlowzipError
from flowzip.learned.zoo import ModelSource
from flowzip.settings import DEFAULT_SETTINGS, EncoderSettings

Progress = Callable[[int, int], None]  # called with (tiles done, tiles in all) after each RGB tile
RAW, FLOW, CLASSICAL = (bytes([TILE_TOOLS.index(tool)]) for tool in ("raw", "flow", "classical"))
_Item = TypeVar("_Item")
_Out = TypeVar("_Out")


def encode_tile(model: ModelSource, tile: np.ndarray, settings: EncoderSettings = DEFAULT_SETTINGS) -> bytes:
    """Code one RGB tile (h, w, 3) with each of the settings' tools (raw always); return the shortest section
    (tool byte, then its data)."""
    candidates = [RAW + np.ascontiguousarray(tile).tobytes()]
    if "classical" in settings.tools:
        candidates.append(CLASSICAL + encode_rgb(tile, settings.lzma_skip_ratio))
    if "flow" in settings.tools and 8 * (len(candidates[-1]) - 1) > settings.flow_skip_bits * tile.size:
        from flowzip.tiles.flow import encode_flow_tile

        candidates.append(FLOW + encode_flow_tile(model(), tile))
    return min(candidates, key=len)


def decode_tile(model: ModelSource, section: bytes, height: int, width: int, version: int) -> np.ndarray:
    """Decode one RGB tile coded by ``encode_tile`` (in a file of format ``version``)."""
    tool, data = tile_tool(section, 3 * height * width, version)
    if tool == "raw":
        if len(data) != 3 * height * width:
            raise FlowzipError("corrupt file: a raw tile of the wrong length")
        return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
    if tool == "flow":
        from flowzip.tiles.flow import decode_flow_tile

        return decode_flow_tile(model(), data, height, width)
    if tool == "classical":
        return decode_rgb(data, height, width)
    raise FlowzipError("corrupt file: unknown tile tool")


def encode_tiles(
    model: ModelSource,
    rgb: np.ndarray,
    tile_log2: int,
    jobs: int,
    progress: Progress | None,
    settings: EncoderSettings = DEFAULT_SETTINGS,
) -> tuple[int, list[bytes]]:
    """(tile_log2, sections) of an RGB image (H, W, 3): every tile's ``encode_tile``, ``jobs`` tiles at once;
    or one tile covering the image, coded by the classical coder, if that is shorter in all, tried where a
    tile went raw or to LZMA2 or a palette (``_whole_image_may_pay``)."""
    grid = tile_grid(*rgb.shape[:2], 1 << tile_log2)
    tiles = [rgb[rows, cols] for rows, cols in grid]
    sections = list(_map_tiles(lambda tile, m: encode_tile(m, tile, settings), tiles, model, jobs, progress))
    whole_log2 = covering_tile_log2(rgb.shape[1], rgb.shape[0])
    if (
        len(tiles) > 1
        and whole_log2 <= MAX_TILE_LOG2
        and rgb.shape[0] * rgb.shape[1] <= settings.whole_image_max_pixels
        and _whole_image_may_pay(sections, settings)
    ):
        section = CLASSICAL + encode_rgb(rgb, settings.lzma_skip_ratio)
        if len(section) < sum(len(s) + 2 for s in sections):  # each section's length takes a byte or more
            return whole_log2, [section]
    return tile_log2, sections


def _whole_image_may_pay(sections: Sequence[bytes], settings: EncoderSettings) -> bool:
    """Whether the classical coder on the whole image may beat ``sections``: where a tile went raw or to LZMA2
    or a palette, whose repeats may continue across tiles; not where the flow or the context coder took every
    tile (unless ``settings.whole_image_for_photos``)."""
    if "classical" not in settings.tools:
        return False
    if settings.whole_image_for_photos:
        return any(s[:1] != FLOW for s in sections)
    return any(s[:1] == RAW or (s[:1] == CLASSICAL and not context_coded_rgb(s[1:])) for s in sections)


def decode_tiles(
    model: ModelSource,
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
    return _map_tiles(lambda item, m: decode_tile(m, *item, version), work, model, jobs, progress)


def _map_tiles(
    work: Callable[[_Item, ModelSource], _Out],
    items: Sequence[_Item],
    model: ModelSource,
    jobs: int,
    progress: Progress | None,
) -> Iterator[_Out]:
    """``work(item, model)`` for each tile, yielded in order, using ``jobs`` threads in all.

    PyTorch and numba release the GIL in the convolutions and the autoregressive solve, where the time goes, so
    tiles run in parallel on ``jobs`` threads, each tile on one thread: PyTorch's own (intra-op) threads are
    set to one whatever its default, because on a busy machine their spin-waits cost ten times what they give
    on a tile (measured: a one-tile encode took 10-18 s with two intra-op threads on a loaded 2-core machine,
    0.8 s with one). At most ``2 * jobs`` tiles are in flight, so memory stays bounded.
    """
    jobs = max(1, jobs)
    parallel = jobs > 1 and len(items) > 1
    threads = _OneTorchThread()

    def with_one_thread() -> object:
        loaded = model()
        threads.limit()
        return loaded

    pool = ThreadPoolExecutor(jobs, thread_name_prefix="flowzip-tile") if parallel else None
    try:
        queue: deque[Future[_Out]] = deque()
        todo = iter(items)
        for k in range(1, len(items) + 1):
            if pool is None:
                yield work(next(todo), with_one_thread)
            else:
                while len(queue) < 2 * jobs and (item := next(todo, None)) is not None:
                    queue.append(pool.submit(work, item, with_one_thread))
                yield queue.popleft().result()
            if progress:
                progress(k, len(items))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        threads.restore()


class _OneTorchThread:
    """PyTorch's intra-op threads at one while tiles are coded, from the start if PyTorch is loaded, else from
    when a tile first loads a model; the caller's setting comes back at the end."""

    def __init__(self) -> None:
        self._saved: int | None = None
        self._lock = threading.Lock()
        if "torch" in sys.modules:
            self.limit()

    def limit(self) -> None:
        with self._lock:
            if self._saved is None:
                import torch

                self._saved = torch.get_num_threads()
                torch.set_num_threads(1)

    def restore(self) -> None:
        if self._saved is not None:
            import torch

            torch.set_num_threads(self._saved)
