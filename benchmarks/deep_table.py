"""16-bit images: flowzip against PNG, JPEG-LS and JPEG XL lossless at 16 bits, every decode verified.

    python -m benchmarks.deep_table [FILE_OR_FOLDER...] [--photos N]

Made images, from the first N colour photos of Set14 (``../shared/data/dev/set14``; seeded):
- "x257": the 8-bit photo as 16 bits (v x 257), as converters write 8-bit images;
- "noise 64": the photo x 257 plus Gaussian noise of 64 levels (16 bits of information, 6 of them noise);
- "raw-like 12 bits << 4" and "raw-like 14 bits": the photo in linear light (gamma 2.2) at 12 or 14 bits with a
  sensor's noise (shot noise of a 4-electron gain and a read noise of 2 levels), the 12-bit one shifted to the top
  of 16 bits as many cameras' TIFFs hold it;
- "gradient": a smooth 16-bit colour gradient over 640x480 with a dither of +-2 levels;
- "grey": the luma of the "noise 64" photo (one channel).
And the 16-bit files given (Pillow's test images: Tests/images/tiff_16bit_RGB.tiff, 16bit.cropped.tif,
12in16bit.tif, hopper_16bit.pgm, ...; read as ``flowzip compress`` reads them).

Sizes are whole files in bits per subpixel (16-bit samples), each decoded and compared with the input. PNG is
imagecodecs' zlib level 9 (the 16-bit PNG writers' strongest), JPEG-LS CharLS, JPEG XL libjxl lossless at effort
7; all through imagecodecs (``pip install -e '.[16bit]'``). "-" where a codec refuses the image.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import imagecodecs
import numpy as np

import flowzip
from benchmarks.paths import DEV
from flowzip.images import IMAGE_SUFFIXES, find_files, open_samples


def _flowzip(samples: np.ndarray) -> tuple[bytes, Callable[[bytes], np.ndarray]]:
    return flowzip.compress(samples, jobs=1), lambda data: flowzip.decompress(data, jobs=1)


CODECS: dict[str, Callable[[np.ndarray], tuple[bytes, Callable[[bytes], np.ndarray]]]] = {
    "flowzip": _flowzip,
    "PNG": lambda s: (imagecodecs.png_encode(s[:, :, 0] if s.shape[2] == 1 else s, level=9), imagecodecs.png_decode),
    "JPEG-LS": lambda s: (imagecodecs.jpegls_encode(s), imagecodecs.jpegls_decode),
    "JPEG XL e7": lambda s: (imagecodecs.jpegxl_encode(s, lossless=True, effort=7), imagecodecs.jpegxl_decode),
}


def made_images(photos: int) -> dict[str, np.ndarray]:
    """The made 16-bit images (H, W, C), by name."""
    rng = np.random.default_rng(16)
    out = {}
    paths = sorted((DEV / "set14").glob("*.png"))[:photos]
    for path in paths:
        rgb = flowzip.images.read_image_rgb(path).astype(np.float64)
        name = path.stem
        out[f"{name} x257"] = (rgb * 257).astype(np.uint16)
        noisy = np.clip(np.rint(rgb * 257 + rng.normal(0, 64, rgb.shape)), 0, 65535)
        out[f"{name} noise 64"] = noisy.astype(np.uint16)
        for bits in (12, 14):
            electrons = (rgb / 255) ** 2.2 * ((1 << bits) - 1) * 4
            signal = rng.poisson(electrons) / 4 + rng.normal(0, 2, rgb.shape)
            raw = np.clip(np.rint(signal), 0, (1 << bits) - 1).astype(np.uint16)
            shift = 4 if bits == 12 else 0
            out[f"{name} raw-like {bits} bits" + (" << 4" if shift else "")] = raw << shift
        out[f"{name} grey"] = (noisy @ np.array([0.299, 0.587, 0.114]))[:, :, None].astype(np.uint16)
    y, x = np.mgrid[0:480, 0:640] / np.array([479.0, 639.0])[:, None, None]
    dither = np.random.default_rng(17).integers(-2, 3, (480, 640, 3))
    ramp = np.stack([x * 60000, y * 50000 + 5000, (x + y) * 30000], axis=2) + dither
    out["gradient"] = np.clip(ramp, 0, 65535).astype(np.uint16)
    return out


def _given(paths: list[str]) -> dict[str, np.ndarray]:
    out = {}
    for found in find_files(paths, IMAGE_SUFFIXES):
        raw = Path(found.path).read_bytes()
        try:
            _, pixels = open_samples(raw, found.path)
        except flowzip.FlowzipError as e:
            print(f"left out: {e}")
            continue
        samples = np.asarray(pixels)
        samples = samples.astype(np.uint16) if getattr(pixels, "mode", "") == "I" else samples  # 0..65535 (PGM)
        if samples.dtype == np.uint16:
            out[str(found.below)] = samples if samples.ndim == 3 else samples[:, :, None]
    return out


def _measure(samples: np.ndarray, codec: str) -> tuple[int, float] | None:
    """(file bytes, encode + decode seconds) of ``codec`` on ``samples``, checked; None if it refuses them."""
    start = time.perf_counter()
    try:
        data, decode = CODECS[codec](samples)
    except Exception:  # imagecodecs raises one error class per codec for what it cannot code
        return None
    back = np.asarray(decode(data))
    if not np.array_equal(back.reshape(samples.shape), samples):
        raise SystemExit(f"{codec} did not decode its file to the input")
    return len(data), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", help="16-bit files or folders of them")
    parser.add_argument("--photos", type=int, default=3, help="Set14 photos to make images from")
    args = parser.parse_args()
    images = {**made_images(args.photos), **_given(args.paths)}
    print(f"| image | size | {' | '.join(CODECS)} |")
    print(f"|---|---|{'---|' * len(CODECS)}")
    totals = {codec: [0, 0, 0.0] for codec in CODECS}  # bytes, subpixels, seconds where every codec coded
    for name, samples in images.items():
        row = {codec: _measure(samples, codec) for codec in CODECS}
        cells = [f"{8 * r[0] / samples.size:.3f}" if r else "-" for r in row.values()]
        height, width, channels = samples.shape
        print(f"| {name} | {width}x{height}x{channels} | {' | '.join(cells)} |", flush=True)
        if all(row.values()):
            for codec, r in row.items():
                totals[codec][0] += r[0]
                totals[codec][1] += samples.size
                totals[codec][2] += r[1]
    cells = [f"**{8 * b / n:.3f}**" if n else "-" for b, n, _ in totals.values()]
    print(f"| all coded by every codec | | {' | '.join(cells)} |")
    reference = totals["flowzip"][0]
    print("\nflowzip against each, where every codec coded (bytes), and seconds to encode and decode (flowzip on one")
    print("core; the others as imagecodecs runs them):")
    for codec, (size, _, seconds) in totals.items():
        print(f"- {codec}: {size:,} bytes ({100 * (reference / size - 1):+.2f} % for flowzip), {seconds:.1f} s")


if __name__ == "__main__":
    main()
