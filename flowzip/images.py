"""Reading image files with Pillow into the forms the codec and the trainer take."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from flowzip.errors import FlowzipError


def open_image(path: Path) -> Image.Image:
    """Open and fully decode an image file, with a one-line error for anything that is not one."""
    try:
        with Image.open(path) as im:
            im.load()
            return im
    except FileNotFoundError:
        raise FlowzipError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FlowzipError(f"{path}: is a directory") from None
    except PermissionError:
        raise FlowzipError(f"{path}: permission denied") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise FlowzipError(f"{path}: not a readable image ({e})") from None


def read_image_rgb(path: Path) -> np.ndarray:
    """An image file as an RGB uint8 array (H, W, 3) (for training and measuring)."""
    return np.asarray(open_image(path).convert("RGB"))
