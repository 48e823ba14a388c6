"""flowzip as a numcodecs codec, so that zarr arrays of images store their chunks as .fzi files.

Installed with the ``zarr`` extra (``pip install flowzip[zarr]``), it is registered under the codec id
"flowzip" through numcodecs' entry point, so ``numcodecs.get_codec({"id": "flowzip"})`` and zarr find it:

    import zarr
    from flowzip.frontends.numcodecs_codec import FlowzipCodec
    z = zarr.create_array(store, shape=(100, 480, 640, 3), chunks=(1, 480, 640, 3), dtype="uint8",
                          compressors=FlowzipCodec(stacked=True), zarr_format=2)

A chunk is a uint8 or uint16 array (8 or 16 bits a sample): one image, (H, W) grey or (H, W, C) with C from 1
to 4 channels (grey, grey and alpha, RGB, RGBA), or with ``stacked`` a stack of them along a leading axis, each
image coded as a .fzi file of its own (so small images get the pixel model, as ``flowzip compress`` gives
them). Anything else is a ``FlowzipError`` naming what is wrong; decoding gives back the same bytes in the same
shape.

A stack's encoding: its image count (4 bytes, little-endian), then for each image its .fzi file's length (4
bytes, little-endian) and the file. A single image's encoding is its .fzi file.
"""

from __future__ import annotations

import struct

import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_bytes, ensure_ndarray_like, ndarray_copy

from flowzip.codec import DEFAULT_TILE_SIZE, compress, decompress
from flowzip.errors import FlowzipError
from flowzip.settings import DEFAULT_EFFORT, EFFORTS

_COUNT = struct.Struct("<I")  # a stack's image count, and each file's length


class FlowzipCodec(Codec):
    """Chunks of uint8 or uint16 images to .fzi files and back. ``model``: a shipped model's name or a model file (None:
    flowzip's default for each image's size); ``tile_size`` and ``effort`` as ``flowzip compress`` takes them;
    ``stacked``: the chunk's first axis is a stack of images."""

    codec_id = "flowzip"

    def __init__(
        self,
        model: str | None = None,
        tile_size: int = DEFAULT_TILE_SIZE,
        effort: int = DEFAULT_EFFORT,
        stacked: bool = False,
    ) -> None:
        if effort not in EFFORTS:
            raise FlowzipError(f"unknown effort {effort}: choose from {sorted(EFFORTS)}")
        self.model = model
        self.tile_size = tile_size
        self.effort = effort
        self.stacked = stacked

    def encode(self, buf: object) -> bytes:
        """The chunk ``buf`` as a .fzi file, or as a stack of them."""
        chunk = np.asarray(ensure_ndarray_like(buf))
        if chunk.dtype not in (np.uint8, np.uint16):
            raise FlowzipError(f"flowzip codes uint8 and uint16 chunks, not {chunk.dtype}")
        image_dims = chunk.ndim - self.stacked
        if image_dims not in (2, 3) or (image_dims == 3 and not 1 <= chunk.shape[-1] <= 4):
            layout = "(N, H, W) or (N, H, W, C)" if self.stacked else "(H, W) or (H, W, C)"
            raise FlowzipError(f"a chunk of shape {chunk.shape} is not an image: expected {layout} with C 1 to 4")
        if not self.stacked:
            return self._compress(chunk)
        files = [self._compress(image) for image in chunk]
        return _COUNT.pack(len(files)) + b"".join(_COUNT.pack(len(f)) + f for f in files)

    def decode(self, buf: object, out: object = None) -> np.ndarray:
        """The chunk that ``encode`` coded into ``buf``, into ``out`` if given."""
        data = ensure_bytes(buf)
        if not self.stacked:
            return ndarray_copy(self._decompress(data), out)
        cut_short = FlowzipError("corrupt chunk: a stack of .fzi files cut short or with bytes left over")
        if len(data) < _COUNT.size:
            raise cut_short
        (count,) = _COUNT.unpack_from(data)
        images, at = [], _COUNT.size
        while len(images) < count and at + _COUNT.size <= len(data):
            (length,) = _COUNT.unpack_from(data, at)
            images.append(self._decompress(data[at + _COUNT.size : at + _COUNT.size + length]))
            at += _COUNT.size + length
        if len(images) != count or at != len(data):
            raise cut_short
        if any(image.shape != images[0].shape for image in images):
            raise FlowzipError("corrupt chunk: a stack of images of different shapes")
        stack = np.stack(images) if images else np.empty((0,), np.uint8)
        return ndarray_copy(stack, out)

    def _compress(self, image: np.ndarray) -> bytes:
        return compress(
            np.ascontiguousarray(image), model=self.model, tile_size=self.tile_size, settings=EFFORTS[self.effort]
        )

    def _decompress(self, data: bytes) -> np.ndarray:
        image = decompress(data, model=self.model)
        if not isinstance(image, np.ndarray):
            raise FlowzipError("corrupt chunk: a .fzi file of an image, not of an array")
        return image
