"""Pillow integration: ``Image.open("x.fzi")`` decodes and ``img.save("x.fzi")`` encodes.

Registered when ``flowzip`` is imported; ``register(model=...)`` (``flowzip.register_pillow_plugin``) sets the
model used to decode files that were not written with a shipped model. Saving takes the options of
``flowzip.compress``: ``img.save("x.fzi", model="photo", tile_size=256)``; the format is "FLOWZIP" or "fzi".
"""

from __future__ import annotations

from typing import IO

from PIL import Image, ImageFile

from flowzip.codec import DEFAULT_TILE_SIZE, compress, decompress_image, read_header
from flowzip.container import ARRAY_ONLY_MODES, FILE_SUFFIX, MAGIC, READABLE_VERSIONS
from flowzip.errors import FlowzipError
from flowzip.metadata import to_info

FORMAT = "FLOWZIP"
_decode_model: str | None = None  # None: the shipped model the file names


def _accept(prefix: bytes) -> bool:
    return prefix[: len(MAGIC)] == MAGIC and prefix[len(MAGIC) : len(MAGIC) + 1] in [
        bytes([v]) for v in READABLE_VERSIONS
    ]


class FlowzipImageFile(ImageFile.ImageFile):
    """A .fzi file opened by Pillow: the header is read on open, the pixels decoded on ``load()``."""

    format = FORMAT
    format_description = "flowzip lossless image"

    def _open(self) -> None:
        self._data = self.fp.read()
        header = read_header(self._data)  # validates the whole container, raises FlowzipError if broken
        if header.mode in ARRAY_ONLY_MODES:
            raise FlowzipError(f"a 16-bit {header.mode[:-3]} image has no PIL mode: read it with flowzip.decompress")
        self._size = (header.width, header.height)
        self._mode = header.mode
        self.info.update(to_info(header.metadata))  # as Pillow's readers do: the metadata before the pixels
        self.tile = []

    def load(self):  # Pillow's signature: returns its pixel access object
        if self._data is not None:
            decoded = decompress_image(self._data, model=_decode_model)
            self.im = decoded.im
            self.info.update(decoded.info)
            if decoded.palette is not None:
                self.palette = decoded.palette
            self._data = None
        return Image.Image.load(self)


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:  # Pillow's save-handler signature
    options = im.encoderinfo
    fp.write(compress(im, model=options.get("model"), tile_size=options.get("tile_size", DEFAULT_TILE_SIZE)))


def register(model: str | None = None) -> None:
    """Make Pillow open and save .fzi files; ``model`` (a name or path) decodes files of a non-shipped model."""
    global _decode_model
    _decode_model = model
    Image.register_open(FORMAT, FlowzipImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_save(FILE_SUFFIX[1:].upper(), _save)  # img.save(f, format="fzi"), as format="png" works
    Image.register_extension(FORMAT, FILE_SUFFIX)
    Image.register_mime(FORMAT, "image/x-flowzip")
