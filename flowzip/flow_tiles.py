"""RGB tiles through the integer flow: ``encode_tiles`` / ``decode_tiles``, and the model's code length.

This is the only part of coding that needs PyTorch; ``flowzip.codec`` imports it only for images with RGB, so
grey, palette and bilevel images (and ``flowzip --help``) never load the flow. Each tile is padded at its bottom
and right edges (by repeating edge pixels) to a multiple of the model's stride, and cropped back after
decoding. Tiles are independent, so they are coded on several threads at once and the bytes do not depend on
how many.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch

from flowzip.entropy import LatentDecoder, encode_latents
from flowzip.errors import FlowzipError
from flowzip.zoo import Model

Progress = Callable[[int, int], None]  # called with (tiles done, tiles in all) after each flow tile
_Item = TypeVar("_Item")
_Out = TypeVar("_Out")


def _padded(size: int, stride: int) -> int:
    return -(-size // stride) * stride


def _to_flow_input(tile: np.ndarray, stride: int) -> torch.Tensor:
    """A tile (h, w, 3), its last row and column repeated up to multiples of ``stride``, as (1, 3, H, W) float64."""
    h, w, _ = tile.shape
    padded = np.pad(tile, ((0, _padded(h, stride) - h), (0, _padded(w, stride) - w), (0, 0)), mode="edge")
    return torch.from_numpy(padded).permute(2, 0, 1)[None].to(torch.float64)


def encode_tile(model: Model, tile: np.ndarray) -> bytes:
    """Code one RGB tile (h, w, 3) with the flow, or store it raw if the flow would not make it smaller.

    A section of exactly ``3 * h * w`` bytes is the raw tile; the flow's stream is never stored at that length.
    """
    with torch.no_grad():
        groups = model.flow.latent_groups(_to_flow_input(tile, model.flow.config.stride))
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


def tile_code_length(model: Model, tile: np.ndarray) -> float:
    """-log2 of the probability of an RGB tile (h, w, 3) under the flow, padding included, in bits."""
    with torch.no_grad():
        return model.flow.code_length_bits(_to_flow_input(tile, model.flow.config.stride)).item()


def encode_tiles(model: Model, tiles: Sequence[np.ndarray], jobs: int, progress: Progress | None) -> list[bytes]:
    """Every tile's section (``encode_tile``), ``jobs`` tiles at once."""
    return list(_map_tiles(lambda tile: encode_tile(model, tile), tiles, jobs, progress))


def decode_tiles(
    model: Model, sections: Sequence[bytes], shapes: Sequence[tuple[int, int]], jobs: int, progress: Progress | None
) -> Iterator[np.ndarray]:
    """The tiles of ``sections``, each of its (height, width), in order; the inverse of ``encode_tiles``."""
    work = [(section, h, w) for section, (h, w) in zip(sections, shapes, strict=True)]
    return _map_tiles(lambda item: decode_tile(model, *item), work, jobs, progress)


def _map_tiles(
    work: Callable[[_Item], _Out], items: Sequence[_Item], jobs: int, progress: Progress | None
) -> Iterator[_Out]:
    """``work(item)`` for each tile, yielded in order, using ``jobs`` threads in all.

    PyTorch and numba release the GIL in the convolutions and the autoregressive solve, where the time goes.
    Several tiles run on one thread each; a lone tile (or ``jobs == 1``) runs on ``jobs`` intra-op threads.
    Never more threads than ``jobs``, whatever PyTorch's default: on a busy machine more threads than cores
    cost far more than they give. At most ``2 * jobs`` tiles are in flight, so memory stays bounded.
    """
    jobs = max(1, jobs)
    parallel = jobs > 1 and len(items) > 1
    intra_op_threads = torch.get_num_threads()
    torch.set_num_threads(1 if parallel else jobs)
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
