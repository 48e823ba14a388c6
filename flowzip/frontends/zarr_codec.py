"""flowzip as a zarr v3 codec (array to bytes), registered with zarr as "flowzip" through its entry point; the
work is ``flowzip.frontends.numcodecs_codec.FlowzipCodec``'s, which zarr v2 arrays use directly.

    import zarr
    from flowzip.frontends.zarr_codec import FlowzipZarrCodec
    z = zarr.create_array(store, shape=(100, 480, 640, 3), chunks=(1, 480, 640, 3), dtype="uint8",
                          serializer=FlowzipZarrCodec(stacked=True))

The codec is flowzip's own, not one of the zarr v3 specification's: other zarr implementations read these
arrays only with flowzip installed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from zarr.abc.codec import ArrayBytesCodec
from zarr.core.array_spec import ArraySpec
from zarr.core.buffer import Buffer, NDBuffer
from zarr.core.common import parse_named_configuration

from flowzip.codec import DEFAULT_TILE_SIZE
from flowzip.frontends.numcodecs_codec import FlowzipCodec
from flowzip.settings import DEFAULT_EFFORT

NAME = "flowzip"


@dataclass(frozen=True)
class FlowzipZarrCodec(ArrayBytesCodec):
    """Chunks of uint8 or uint16 images to .fzi files and back, with ``FlowzipCodec``'s options."""

    is_fixed_size = False

    model: str | None = None
    tile_size: int = DEFAULT_TILE_SIZE
    effort: int = DEFAULT_EFFORT
    stacked: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowzipZarrCodec:
        """The codec that ``to_dict`` describes."""
        _, configuration = parse_named_configuration(data, NAME, require_configuration=False)
        return cls(**(configuration or {}))

    def to_dict(self) -> dict[str, Any]:
        """The codec's name and options, as zarr stores them in the array's metadata."""
        options = {"model": self.model, "tile_size": self.tile_size, "effort": self.effort, "stacked": self.stacked}
        return {"name": NAME, "configuration": options}

    def _codec(self) -> FlowzipCodec:
        return FlowzipCodec(self.model, self.tile_size, self.effort, self.stacked)

    async def _encode_single(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        data = await asyncio.to_thread(self._codec().encode, chunk_array.as_ndarray_like())
        return chunk_spec.prototype.buffer.from_bytes(data)

    async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        pixels = await asyncio.to_thread(self._codec().decode, chunk_bytes.to_bytes())
        return chunk_spec.prototype.nd_buffer.from_ndarray_like(pixels.reshape(chunk_spec.shape))

    def compute_encoded_size(self, input_byte_length: int, chunk_spec: ArraySpec) -> int:
        raise NotImplementedError("a .fzi file's size depends on the pixels")
