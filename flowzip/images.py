"""Reading image files with Pillow into the forms the codec and the trainer take."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from flowzip.errors import FlowzipError, file_errors

# what "an image file" means when folders are searched
IMAGE_SUFFIXES = {".png", ".webp", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".gif"}


def open_image(path: Path | BinaryIO, name: str | None = None) -> Image.Image:
    """Open and fully decode an image file (or file object, called ``name`` in errors) with a one-line error
    for anything that is not an image."""
    path_name = name or str(path)
    try:
        with file_errors(path_name), Image.open(path) as im:
            im.load()
            return im
    except UnidentifiedImageError:
        raise FlowzipError(f"{path_name}: not a readable image (unknown format)") from None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise FlowzipError(f"{path_name}: not a readable image ({e})") from None


def read_image_rgb(path: Path) -> np.ndarray:
    """An image file as an RGB uint8 array (H, W, 3) (for training and measuring)."""
    return np.asarray(open_image(path).convert("RGB"))
