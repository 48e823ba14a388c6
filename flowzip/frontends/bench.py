"""Measuring flowzip on a dataset: model bits per dimension, real file sizes, speed, and classical codecs.

Every image is coded as a complete file and decoded again, and every pixel is compared (as RGBA, so that a
codec that stores a grey or palette image as RGB still counts as exact); a codec that does not give the image
back exactly stops the run. Images are converted to RGB, or with ``native`` kept in their own mode (L, P, 1,
RGBA...), as a user would store them. Totals are total bits over total subpixels, so large images weigh more
than small ones, as they do on a disk. flowzip and JPEG XL may use every core; PNG, WebP and JPEG-LS run on
one.
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from flowzip.codec import available_cores, compress, decompress, model_code_length
from flowzip.errors import FlowzipError, FlowzipWarning
from flowzip.images import ImageLike
from flowzip.learned.zoo import Model


@dataclass(frozen=True)
class Codec:
    """A lossless codec for images (uint8 RGB arrays, or PIL images of any mode): encode to bytes, decode back."""

    name: str
    encode: Callable[[ImageLike], bytes]
    decode: Callable[[bytes], ImageLike]


def _as_image(image: ImageLike) -> Image.Image:
    return image if isinstance(image, Image.Image) else Image.fromarray(image)


def _rgba(image: ImageLike) -> np.ndarray:
    """What an image looks like, as RGBA pixels: the same for a grey image and its RGB copy."""
    return np.asarray(_as_image(image).convert("RGBA"))


def _subpixels(image: ImageLike) -> int:
    return image.size if isinstance(image, np.ndarray) else image.width * image.height * len(image.getbands())


def _has_rgb(image: ImageLike) -> bool:
    return isinstance(image, np.ndarray) or image.mode in ("RGB", "RGBA")


def _pillow(name: str, fmt: str, **options: object) -> Codec:
    def encode(image: ImageLike) -> bytes:
        buf = io.BytesIO()
        _as_image(image).save(buf, fmt, **options)
        return buf.getvalue()

    def decode(data: bytes) -> Image.Image:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im

    return Codec(name, encode, decode)


def _array(image: ImageLike) -> np.ndarray:
    """An image as the array imagecodecs codes: grey (H, W), RGB, or RGBA where it has transparency."""
    if isinstance(image, np.ndarray):
        return image
    if image.mode in ("L", "1"):
        return np.asarray(image.convert("L"))
    alpha = "A" in image.mode or "transparency" in image.info
    return np.asarray(image.convert("RGBA" if alpha else "RGB"))


def _imagecodecs(kind: str, effort: int = 7) -> Codec:
    try:
        import imagecodecs
    except ImportError:
        raise FlowzipError(
            f"--compare {kind} needs the optional package imagecodecs: pip install imagecodecs"
        ) from None
    if kind == "jpegls":
        return Codec("JPEG-LS (CharLS)", lambda i: imagecodecs.jpegls_encode(_array(i)), imagecodecs.jpegls_decode)
    threads = available_cores()
    return Codec(
        f"JPEG XL lossless e{effort}",
        lambda i: imagecodecs.jpegxl_encode(_array(i), lossless=True, effort=effort, numthreads=threads),
        lambda data: imagecodecs.jpegxl_decode(data, numthreads=threads),
    )


def reference_codec(name: str) -> Codec:
    """A reference codec by name: png, webp, jpegls, jxl (effort 7) or jxl-eN (effort N, 1..10)."""
    if name == "png":
        return _pillow("PNG (Pillow, optimize)", "PNG", optimize=True)
    if name == "webp":
        return _pillow("WebP lossless (Pillow default)", "WEBP", lossless=True)
    if name == "jpegls":
        return _imagecodecs("jpegls")
    if name == "jxl":
        return _imagecodecs("jxl", 7)
    if name.startswith("jxl-e") and name[5:].isdigit() and 1 <= int(name[5:]) <= 10:
        return _imagecodecs("jxl", int(name[5:]))
    raise FlowzipError(f"unknown codec {name!r} for --compare: choose from png, webp, jpegls, jxl, jxl-e1..jxl-e10")


def flowzip_codec(model: Model | None) -> Codec:
    """flowzip itself, as the command line runs it (tiles on all cores; None: the default models by size)."""
    return Codec(
        f"flowzip ({_model_label(model)})",
        lambda a: compress(a, model=model),
        lambda data: decompress(data, model=model),
    )


def _model_label(model: Model | None) -> str:
    return "default models" if model is None else f"{model.name}, {model.short_id}"


@dataclass
class CodecTotals:
    """What one codec did over the whole dataset."""

    bits: int = 0
    encode_s: float = 0.0
    decode_s: float = 0.0


@dataclass
class BenchResult:
    """Totals per codec, the flow's own code length, and one row per image."""

    model: str
    images: int = 0
    subpixels: int = 0
    model_bits: float = 0.0
    model_subpixels: int = 0  # of the images with RGB, the only ones the flow models
    codecs: dict[str, CodecTotals] = field(default_factory=dict)
    per_image: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        """Plain data for ``json.dump``: totals in bits per subpixel and seconds, and every image's numbers."""
        return {
            "model": self.model,
            "images": self.images,
            "subpixels": self.subpixels,
            "model_bpd": self.model_bits / self.model_subpixels if self.model_subpixels else None,
            "codecs": {
                name: {
                    "bits_per_subpixel": t.bits / self.subpixels,
                    "bits": t.bits,
                    "encode_seconds": t.encode_s,
                    "decode_seconds": t.decode_s,
                }
                for name, t in self.codecs.items()
            },
            "per_image": self.per_image,
        }

    def markdown(self) -> str:
        """The totals as a markdown table (flowzip first, with the model's bits per dimension)."""
        lines = [
            f"{self.images} images, {self.subpixels:,} subpixels; every file decoded and checked pixel for pixel",
            "",
            "| codec | bits per subpixel (files) | model bpd | encode s | decode s |",
            "|---|---|---|---|---|",
        ]
        for k, (name, t) in enumerate(self.codecs.items()):
            model_bpd = f"{self.model_bits / self.model_subpixels:.3f}" if k == 0 and self.model_subpixels else ""
            lines.append(
                f"| {name} | {t.bits / self.subpixels:.3f} | {model_bpd} | {t.encode_s:.1f} | {t.decode_s:.1f} |"
            )
        png = next((name for name in self.codecs if name.startswith("PNG")), None)
        if png is not None:
            ours = next(iter(self.codecs))
            worst = max(self.per_image, key=lambda row: row[ours] / row[png])
            over = [row["name"] for row in self.per_image if row[ours] > 1.1 * row[png] + 800]
            lines += [
                "",
                f"flowzip against PNG, image by image: at most {worst[ours] / worst[png]:.2f}x ({worst['name']}); "
                f"{len(over)} more than 10 % + 100 bytes larger" + (f": {', '.join(over)}" if over else ""),
            ]
        return "\n".join(lines)


def bench(
    images: Iterator[tuple[str, ImageLike]],
    model: Model | None,
    compare: list[Codec],
    progress: Callable[[BenchResult], None] | None = None,
) -> BenchResult:
    """Code every image with flowzip (``model``, or None: as ``compress`` without one) and the ``compare``
    codecs, verify every decode, and total the results.

    Raises FlowzipError if any codec does not give an image back exactly.
    """
    warnings.simplefilter("ignore", FlowzipWarning)  # a benchmark measures sizes; what it drops is no news here
    codecs = [flowzip_codec(model), *compare]
    result = BenchResult(model=_model_label(model))
    result.codecs = {c.name: CodecTotals() for c in codecs}
    for name, image in images:
        model_bits = model_code_length(image, model) if _has_rgb(image) else None
        row: dict = {
            "name": name,
            "mode": _as_image(image).mode,
            "subpixels": _subpixels(image),
            "model_bits": model_bits,
        }
        for codec in codecs:
            start = time.perf_counter()
            data = codec.encode(image)
            middle = time.perf_counter()
            decoded = codec.decode(data)
            end = time.perf_counter()
            if not np.array_equal(_rgba(decoded), _rgba(image)):
                raise FlowzipError(f"{codec.name} did not decode {name} exactly")
            totals = result.codecs[codec.name]
            totals.bits += 8 * len(data)
            totals.encode_s += middle - start
            totals.decode_s += end - middle
            row[codec.name] = 8 * len(data)
        result.images += 1
        result.subpixels += row["subpixels"]
        if model_bits is not None:
            result.model_bits += model_bits
            result.model_subpixels += row["subpixels"]
        result.per_image.append(row)
        if progress:
            progress(result)
    return result
