"""Encode and decode speed and peak memory at 0.4 to 24 megapixels, against JPEG XL lossless in the same run.

    python -m benchmarks.speed [--sizes 0.4,1.5,6,24] [--model photo] [--jobs N] [--no-jxl]

Test images are mosaics of 768x512 crops of the training photos (``../shared/data/photos/train``): one crop
(0.39 MP), 2x2 (1.57 MP), 4x4 (6.3 MP) and 8x8 (25.2 MP), so every size is real photo content. Each size is
coded in a fresh process, which reports flowzip's encode and decode seconds (library calls, model already
loaded), the coded size, a bit-exact check, and the process's peak resident memory. JPEG XL lossless
(imagecodecs, on all cores like flowzip) at efforts 7 and 9 codes the same image in this process; the table
gives flowzip's times as ratios to JPEG XL effort 7's encode time (the photo issue's yardstick), and each
size's seconds per megapixel against those at 1.5 MP.

Where the time goes: ``python -m benchmarks.profile_codec``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from benchmarks.paths import ROOT, TRAIN_PHOTOS

CROP_H, CROP_W = 512, 768
GRIDS = {"0.4": 1, "1.5": 2, "6": 4, "24": 8}


def mosaic(grid: int) -> np.ndarray:
    """A (grid*512, grid*768, 3) image of distinct 768x512 crops of the training photos."""
    from flowzip.images import IMAGE_SUFFIXES, read_image_rgb

    files = sorted(p for p in TRAIN_PHOTOS.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    rows = []
    for r in range(grid):
        row = []
        for c in range(grid):
            k = r * grid + c
            photo = read_image_rgb(files[k % len(files)])
            h, w = photo.shape[:2]
            top = (k // len(files)) * 97 % (h - CROP_H + 1)  # a different crop when a photo is reused
            left = (k // len(files)) * 151 % (w - CROP_W + 1)
            row.append(photo[top : top + CROP_H, left : left + CROP_W])
        rows.append(np.concatenate(row, axis=1))
    return np.ascontiguousarray(np.concatenate(rows, axis=0))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measure_flowzip(grid: int, model: str, jobs: int | None) -> dict:
    """Run in a fresh process: time compress and decompress of the mosaic, verify, report peak memory."""
    import flowzip
    from flowzip.learned.zoo import load_model

    image = mosaic(grid)
    m = load_model(model)
    flowzip.decompress(flowzip.compress(image[:64, :64], model=m), model=m)  # load and compile everything
    baseline = _peak_rss_mb()
    start = time.perf_counter()
    data = flowzip.compress(image, model=m, jobs=jobs)
    encode = time.perf_counter() - start
    start = time.perf_counter()
    decoded = flowzip.decompress(data, model=m, jobs=jobs)
    decode = time.perf_counter() - start
    return {
        "pixels": image.shape[0] * image.shape[1],
        "bpsp": 8 * len(data) / image.size,
        "exact": bool(np.array_equal(decoded, image)),
        "encode_s": encode,
        "decode_s": decode,
        "peak_rss_mb": _peak_rss_mb(),
        "rss_before_mb": baseline,
    }


def time_jxl(image: np.ndarray, effort: int) -> float:
    """Seconds for JPEG XL to encode ``image`` losslessly on all cores (its decode is verified)."""
    import imagecodecs

    from flowzip.codec import available_cores

    start = time.perf_counter()
    data = imagecodecs.jpegxl_encode(image, lossless=True, effort=effort, numthreads=available_cores())
    seconds = time.perf_counter() - start
    assert np.array_equal(imagecodecs.jpegxl_decode(data), image)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(GRIDS), help=f"comma-separated, from {', '.join(GRIDS)}")
    parser.add_argument("--model", default="photo")
    parser.add_argument("--jobs", type=int, default=None, help="tiles coded at once (default: all cores)")
    parser.add_argument("--no-jxl", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)  # internal: measure one grid size
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_flowzip(args.child, args.model, args.jobs)))
        return
    sizes = args.sizes.split(",")
    unknown = [s for s in sizes if s not in GRIDS]
    if unknown:
        parser.error(f"unknown sizes {unknown}; choose from {list(GRIDS)}")
    rows = []
    for size in sizes:
        grid = GRIDS[size]
        command = [sys.executable, "-m", "benchmarks.speed", "--child", str(grid), "--model", args.model]
        command += [] if args.jobs is None else ["--jobs", str(args.jobs)]
        result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout)
        if not args.no_jxl:
            image = mosaic(grid)
            result["jxl7_s"], result["jxl9_s"] = time_jxl(image, 7), time_jxl(image, 9)
        rows.append((size, result))
        print(f"{size} MP done: {json.dumps(result)}", file=sys.stderr)
    per_mp_15 = {r: res[f"{r}_s"] / res["pixels"] * 1e6 for s, res in rows if s == "1.5" for r in ("encode", "decode")}
    print("| size | megapixels | bits/subpixel | exact | encode s/MP | decode s/MP | peak memory MB |", end="")
    print(" JXL e7 enc s/MP | JXL e9 enc s/MP | encode / JXL e7 enc | decode / JXL e7 enc | s/MP vs 1.5 MP |")
    print("|" + "---|" * 12)
    for size, r in rows:
        mp = r["pixels"] / 1e6
        cells = [size, f"{mp:.2f}", f"{r['bpsp']:.3f}", "yes" if r["exact"] else "NO"]
        cells += [f"{r['encode_s'] / mp:.2f}", f"{r['decode_s'] / mp:.2f}", f"{r['peak_rss_mb']:.0f}"]
        if "jxl9_s" in r:
            cells += [f"{r['jxl7_s'] / mp:.2f}", f"{r['jxl9_s'] / mp:.2f}"]
            cells += [f"{r['encode_s'] / r['jxl7_s']:.2f}", f"{r['decode_s'] / r['jxl7_s']:.2f}"]
        else:
            cells += ["-"] * 4
        if per_mp_15:
            cells.append(
                f"{r['encode_s'] / mp / per_mp_15['encode']:.2f}, {r['decode_s'] / mp / per_mp_15['decode']:.2f}"
            )
        else:
            cells.append("-")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
