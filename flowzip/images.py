"""Finding and reading images: files with Pillow, folders, and ``.npy`` arrays, in the forms that the codec,
the command line, the benchmark and the trainer take. Every one of them lists and reads images here."""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from flowzip.errors import FlowzipError, file_errors, naming

# what "an image file" means when folders are searched: every suffix of a format Pillow opens, but the formats
# Pillow only identifies (BUFR, GRIB, HDF5 and MPEG stubs), those it opens through other programs (EPS through
# Ghostscript, WMF on Windows alone), IPTC records, and flowzip's own files (with the Pillow plugin, .fzi)
_NOT_IMAGES = {"BUFR", "GRIB", "HDF5", "MPEG", "EPS", "WMF", "IPTC", "FLOWZIP"}


def _image_suffixes() -> frozenset[str]:
    Image.init()  # registers every format Pillow has
    formats = Image.registered_extensions().items()
    return frozenset(suffix for suffix, fmt in formats if fmt in Image.OPEN and fmt not in _NOT_IMAGES)


IMAGE_SUFFIXES = _image_suffixes()


class FoundFile(NamedTuple):
    """A file that an input names: its path, and its path below the folder given as input (its name, for a
    file given itself), which an output folder mirrors."""

    path: str
    below: Path


ImageLike = np.ndarray | Image.Image  # what the codec takes and gives: a uint8 or uint16 array, or a PIL image
TIFF_BITS_PER_SAMPLE = 258
_TIFF_PLANAR_CONFIGURATION = 284  # 2: each channel's samples apart
# A raw mode and its bits a sample: "RGB;16B", "LA;16B", "L;16"... but not the packed 5-6-5 and 5-5-5 pixels
# "BGR;16" and "RGB;15" of BMP and TGA, which have no byte order and hold at most 8 bits a sample
_RAWMODE_BITS = re.compile(r"[A-Z]+;(\d+)[BLNS].*|[LIFP];(\d+).*")


def check_8_bit(image: Image.Image, name: str | None = None) -> None:
    """Refuse (``FlowzipError``, starting with ``name`` if given) an image whose file stores more than 8 bits a
    sample: Pillow hands over such files (16-bit RGB and RGBA PNG, TIFF and PPM) as 8-bit images, the low bits
    gone. What tells: the raw mode or a PPM's maximum value in the image's tile, which is there until the image
    is loaded, and a TIFF's BitsPerSample tag, which stays."""
    deep = _deeper_than_8_bits(image)
    if deep is not None:
        prefix = f"{name}: " if name else ""
        raise FlowzipError(f"{prefix}{deep}: flowzip codes 8-bit images only, and would lose the low bits")


def _deeper_than_8_bits(image: Image.Image) -> str | None:
    """How ``image``'s file stores more than 8 bits a sample ("16-bit samples (RGB;16B)"), or None."""
    bits = getattr(image, "tag_v2", {}).get(TIFF_BITS_PER_SAMPLE)
    bits = max(bits) if isinstance(bits, tuple) else bits
    if isinstance(bits, int) and bits > 8:
        return f"{bits}-bit samples (TIFF)"
    for tile in getattr(image, "tile", None) or []:  # (codec, extents, offset, args); a named tuple in Pillow 11
        args = tile[3] if isinstance(tile[3], tuple) else (tile[3],)
        rawmode = args[0] if args and isinstance(args[0], str) else ""
        match = _RAWMODE_BITS.fullmatch(rawmode)
        if match and int(match[1] or match[2]) > 8:
            return f"{match[1] or match[2]}-bit samples ({rawmode})"
        if tile[0] == "SGI16":
            return "16-bit samples (SGI)"
        if tile[0] == "ppm" and len(args) > 1 and isinstance(args[1], int) and args[1] > 255:
            return f"samples up to {args[1]} (PPM)"
    return None


def open_image(path: Path | BinaryIO, name: str | None = None) -> Image.Image:
    """Open and fully decode an image file (or file object, called ``name`` in errors) with a one-line error
    for anything that is not an image, or whose samples Pillow would cut to 8 bits (``check_8_bit``)."""
    return _open(path, name or str(path), refuse_deep=True)[0]


def open_samples(raw: bytes, name: str) -> tuple[Image.Image, ImageLike]:
    """A file's bytes opened by Pillow, and what to compress of them: the image, or where Pillow cuts the
    samples to 8 bits, its 16-bit samples (H, W, C) as ``flowzip.deep_files`` reads them."""
    image, deep = _open(io.BytesIO(raw), name, refuse_deep=False)
    if deep is None or image.mode.startswith("I") or image.mode == "F":  # Pillow keeps these samples whole
        return image, image
    if "transparency" in image.info:
        raise FlowzipError(f"{name}: the transparent colour of a 16-bit colour image is not supported")
    from flowzip.deep_files import read_deep

    pixels = read_deep(raw, image.format, name)
    if getattr(image, "tag_v2", {}).get(_TIFF_PLANAR_CONFIGURATION) == 2:  # imagecodecs gives (C, H, W)
        pixels = np.ascontiguousarray(np.moveaxis(pixels, 0, -1))
    if pixels.shape[:2] != (image.height, image.width) or not 1 <= pixels.shape[2] <= 4:
        raise FlowzipError(f"{name}: its 16-bit samples ({pixels.shape}) do not match the image Pillow reads")
    return image, pixels


def _open(path: Path | BinaryIO, name: str, refuse_deep: bool) -> tuple[Image.Image, str | None]:
    """The image, decoded, and how its file stores more than 8 bits a sample (``_deeper_than_8_bits``, which
    reads what is gone once the image is loaded), or None; with ``refuse_deep`` that is an error."""
    try:
        with file_errors(name), Image.open(path) as im:
            deep = _deeper_than_8_bits(im)
            if refuse_deep:
                check_8_bit(im, name)
            im.load()
            return im, deep
    except UnidentifiedImageError:
        raise FlowzipError(f"{name}: not a readable image (unknown format)") from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError) as e:
        # Pillow's readers raise SyntaxError (and struct.error, EOFError) on a damaged file of their format
        raise FlowzipError(f"{name}: not a readable image ({e})") from None


def read_image_rgb(path: Path) -> np.ndarray:
    """An image file as an RGB uint8 array (H, W, 3) (for training and measuring)."""
    return np.asarray(open_image(path).convert("RGB"))


def find_files(
    inputs: Sequence[str], suffixes: Collection[str], recursive: bool = True, left_out: list[str] | None = None
) -> list[FoundFile]:
    """The files that ``inputs`` name, in order: a folder stands for the files at any depth below it whose
    suffix (in lower case) is one of ``suffixes``, sorted, and the others go to ``left_out``; without
    ``recursive`` a folder is an error. Other names ("-" for standard input among them) are kept as they are."""
    files: list[FoundFile] = []
    for name in inputs:
        path = Path(name)
        if name != "-" and path.is_dir():
            if not recursive:
                raise FlowzipError(f"{path}: is a directory (use -r to code the files in it)")
            for p in sorted(q for q in path.rglob("*") if q.is_file()):
                if p.suffix.lower() in suffixes:
                    files.append(FoundFile(str(p), p.relative_to(path)))
                elif left_out is not None:
                    left_out.append(str(p))
        else:
            files.append(FoundFile(name, Path(path.name)))
    return files


def _npy_images(path: Path) -> np.ndarray:
    """A ``.npy`` file of RGB images (N, H, W, 3) uint8, memory-mapped."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise FlowzipError(f"{path}: not a readable .npy array ({e})") from None
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3:
        raise FlowzipError(f"{path}: expected a uint8 array (N, H, W, 3), got {array.dtype} {array.shape}")
    return array


def dataset_images(
    paths: Sequence[str], limit: int | None = None, native: bool = False, unreadable: list[str] | None = None
) -> tuple[int, Iterator[tuple[str, ImageLike]]]:
    """(count, iterator of (name, image)) over folders of images, image files and ``.npy`` arrays (N, H, W, 3).

    Folders are searched at any depth for image files (``IMAGE_SUFFIXES``), which are read as RGB arrays, or
    with ``native`` as PIL images in their own mode. Images are read one at a time as the iterator goes on;
    ``limit`` keeps the first ones in the order given. A file that cannot be read raises ``FlowzipError``, or,
    given ``unreadable``, is left out and its one-line error appended there.
    """
    read = open_image if native else read_image_rgb
    sources: list[tuple[str, Callable[[], ImageLike]]] = []
    for name in paths:
        path = Path(name)
        if path.suffix == ".npy":
            array = _npy_images(path)
            sources += [
                (f"{path.name}[{i}]", lambda a=array, i=i: np.ascontiguousarray(a[i])) for i in range(len(array))
            ]
        elif path.is_dir():
            sources += [(f, lambda f=f: read(Path(f))) for f, _ in find_files([name], IMAGE_SUFFIXES)]
        elif path.is_file():
            sources.append((str(path), lambda p=path: read(p)))
        else:
            raise FlowzipError(f"{path}: no such file or folder")
    sources = sources[:limit] if limit is not None else sources
    if not sources:
        raise FlowzipError(f"no images found in {', '.join(paths)}")

    def images() -> Iterator[tuple[str, ImageLike]]:
        for name, load in sources:
            try:
                image = load()
            except FlowzipError as e:
                if unreadable is None:
                    raise
                unreadable.append(naming(name, str(e)))
                continue
            yield name, image

    return len(sources), images()


def load_rgb_images(paths: Sequence[str]) -> list[np.ndarray]:
    """Every image of ``dataset_images(paths)`` as an RGB array (H, W, 3), all in memory (for training)."""
    return [np.asarray(image) for _, image in dataset_images(paths)[1]]
