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
from functools import partial

import numpy as np
from PIL import Image

from flowzip.codec import available_cores, compress, decompress, model_code_length
from flowzip.errors import FlowzipError, FlowzipWarning
from flowzip.images import ImageLike
from flowzip.learned.zoo import LARGE_IMAGE_MODEL, SMALL_IMAGE_MODEL, SMALL_IMAGE_SIDE, Model, model_id
from flowzip.settings import DEFAULT_EFFORT, EFFORTS


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


def flowzip_codec(model: Model | None, effort: int = DEFAULT_EFFORT) -> Codec:
    """flowzip itself, as the command line runs it (tiles on all cores; None: the default models by size) at an
    effort of ``flowzip.settings.EFFORTS``, keeping of the metadata only the ICC profile, as the other codecs
    are given the pixels alone (Pillow's PNG writer keeps the ICC profile too)."""
    return Codec(
        f"flowzip (effort {effort}: {_model_label(model)})",
        lambda a: compress(a, model=model, settings=EFFORTS[effort], strip=True),
        lambda data: decompress(data, model=model),
    )


def _model_label(model: Model | None) -> str:
    """The model(s) flowzip codes with: one named, or the defaults by image size, each with its id."""
    if model is not None:
        return f"{model.name} {model.short_id}"
    large, small = (f"{name} {model_id(name).hex()}" for name in (LARGE_IMAGE_MODEL, SMALL_IMAGE_MODEL))
    return f"{large}; {small} up to {SMALL_IMAGE_SIDE}x{SMALL_IMAGE_SIDE}"


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
    per_image: list[dict] = field(default_factory=list)  # name, mode, subpixels, model bits, and per codec its
    # bits (under its name) and encode and decode seconds (under "NAME seconds")
    unreadable: list[str] = field(default_factory=list)  # one line for each file that could not be read

    def add(self, row: dict) -> None:
        """Count one image's row in the totals."""
        self.images += 1
        self.subpixels += row["subpixels"]
        if row["model_bits"] is not None:
            self.model_bits += row["model_bits"]
            self.model_subpixels += row["subpixels"]
        for name, totals in self.codecs.items():
            totals.bits += row[name]
            totals.encode_s += row[f"{name} seconds"][0]
            totals.decode_s += row[f"{name} seconds"][1]
        self.per_image.append(row)

    @classmethod
    def from_json(cls, data: dict) -> BenchResult:
        """The result that ``to_json`` wrote, to resume its run."""
        codecs = list(data["codecs"])
        if any(f"{name} seconds" not in row for row in data["per_image"] for name in codecs):
            raise FlowzipError("it has no times per image (written by an older flowzip): it cannot be resumed")
        result = cls(model=data["model"], codecs={name: CodecTotals() for name in codecs})
        for row in data["per_image"]:
            result.add(row)
        result.unreadable = list(data.get("unreadable", []))
        return result

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
            "unreadable": self.unreadable,
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
        if self.unreadable:
            lines += ["", f"{len(self.unreadable)} files could not be read and were left out:"]
            lines += [f"- {line}" for line in self.unreadable]
        return "\n".join(lines)


def bench(
    images: Iterator[tuple[str, ImageLike]],
    model: Model | None,
    compare: list[Codec],
    progress: Callable[[BenchResult], None] | None = None,
    effort: int = DEFAULT_EFFORT,
    done: BenchResult | None = None,
    scheduler: str | None = None,
) -> BenchResult:
    """Code every image with flowzip (``model``, or None: as ``compress`` without one, at ``effort``) and the
    ``compare`` codecs, verify every decode, and total the results; ``progress`` is called after each image.
    Images already in ``done`` (a run of the same codecs, by name) are not coded again: their rows count as they
    are. With a ``scheduler`` address, each image is measured on that Dask cluster's workers; the rows are
    counted in the images' order all the same.

    Raises FlowzipError if any codec does not give an image back exactly.
    """
    codecs = [flowzip_codec(model, effort), *compare]
    result = BenchResult(model=_model_label(model), codecs={c.name: CodecTotals() for c in codecs})
    if done is not None:
        if list(done.codecs) != list(result.codecs):
            raise FlowzipError(f"cannot resume a run of {', '.join(done.codecs)} with this one")
        result = done
    finished = {row["name"] for row in result.per_image}
    todo = ((name, image) for name, image in images if name not in finished)
    measure = partial(measure_image, model=model, codecs=codecs)
    if scheduler is None:
        rows = map(measure, todo)
    else:
        from flowzip.frontends.cluster import map_on_cluster

        done_rows = map_on_cluster(measure, todo, scheduler, _not_measured, _image_subpixels, ordered=True)
        rows = (row for _, row in done_rows)
    for row in rows:
        result.add(row)
        if progress:
            progress(result)
    return result


def measure_image(name_and_image: tuple[str, ImageLike], model: Model | None, codecs: list[Codec]) -> dict:
    """One image's row: its code length under ``model`` (None: the default by size), and each codec's bits and
    seconds to encode and decode, every decode checked pixel for pixel (else a FlowzipError)."""
    warnings.simplefilter("ignore", FlowzipWarning)  # a benchmark measures sizes; what it drops is no news here
    name, image = name_and_image
    model_bits = model_code_length(image, model) if _has_rgb(image) else None
    row: dict = {"name": name, "mode": _as_image(image).mode, "subpixels": _subpixels(image), "model_bits": model_bits}
    for codec in codecs:
        start = time.perf_counter()
        data = codec.encode(image)
        middle = time.perf_counter()
        decoded = codec.decode(data)
        end = time.perf_counter()
        if not np.array_equal(_rgba(decoded), _rgba(image)):
            raise FlowzipError(f"{codec.name} did not decode {name} exactly")
        row[codec.name] = 8 * len(data)
        row[f"{codec.name} seconds"] = [middle - start, end - middle]
    return row


def _image_subpixels(name_and_image: tuple[str, ImageLike]) -> int:
    return _subpixels(name_and_image[1])


def _not_measured(name_and_image: tuple[str, ImageLike], why: str) -> dict:
    raise FlowzipError(f"{name_and_image[0]}: {why}")
