"""flowzip against classical lossless codecs on a folder of images, whole files, every decode verified.

    python benchmarks/compare.py [FOLDER] [--model photo] [--limit N] [--jxl-effort 7]

Codes every image of FOLDER (default ../shared/data/dev/cbsd68) as RGB with flowzip (a complete .fzi file,
headers included), PNG (Pillow, optimize=True), WebP lossless (Pillow's default method) and, if imagecodecs
is installed, JPEG XL lossless at the given effort; decodes each and checks every pixel. Prints a markdown
table of total bits / total subpixels and total seconds.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

import flowzip
from flowzip.images import IMAGE_SUFFIXES, read_image_rgb
from flowzip.zoo import DEFAULT_MODEL

DEV = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dev" / "cbsd68"
Codec = tuple[Callable[[np.ndarray], bytes], Callable[[bytes], np.ndarray]]


def _pillow(fmt: str, **options: object) -> Codec:
    def encode(a: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, fmt, **options)
        return buf.getvalue()

    return encode, lambda data: np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def codecs(model: str, jxl_effort: int) -> dict[str, Codec]:
    out: dict[str, Codec] = {
        f"flowzip ({model})": (lambda a: flowzip.compress(a, model=model), flowzip.decompress),
        "PNG": _pillow("PNG", optimize=True),
        "WebP lossless": _pillow("WEBP", lossless=True),
    }
    try:
        import imagecodecs

        out[f"JPEG XL lossless e{jxl_effort}"] = (
            lambda a: imagecodecs.jpegxl_encode(a, lossless=True, effort=jxl_effort),
            imagecodecs.jpegxl_decode,
        )
    except ImportError:
        print("(imagecodecs is not installed: no JPEG XL column; pip install 'flowzip[jxl]')")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(DEV))
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--jxl-effort", type=int, default=7)
    args = parser.parse_args()
    paths = sorted(p for p in Path(args.folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[: args.limit]
    table = codecs(args.model, args.jxl_effort)
    bits = dict.fromkeys(table, 0)
    seconds = dict.fromkeys(table, 0.0)
    subpixels = 0
    for path in paths:
        img = read_image_rgb(path)
        subpixels += img.size
        for name, (encode, decode) in table.items():
            t = time.perf_counter()
            data = encode(img)
            if not np.array_equal(decode(data), img):
                raise SystemExit(f"{name} did not decode {path.name} exactly")
            seconds[name] += time.perf_counter() - t
            bits[name] += 8 * len(data)
    print(f"\n{len(paths)} images from {args.folder}, {subpixels} subpixels\n")
    print("| codec | bits per subpixel | seconds (encode + decode) |\n|---|---|---|")
    for name in table:
        print(f"| {name} | {bits[name] / subpixels:.3f} | {seconds[name]:.1f} |")


if __name__ == "__main__":
    main()
