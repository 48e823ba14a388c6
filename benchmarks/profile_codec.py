"""Where does coding time go? cProfile of compress and decompress of one image with the default model.

    python benchmarks/profile_codec.py [IMAGE] [--index 0] [--model photo] [--tools flow] [--jobs 1] [--top 12]

IMAGE is an image file or an .npy array of images (N, H, W, 3), of which ``--index`` is taken (e.g.
runs/cifar10/test.npy). ``--tools flow`` makes every tile use the flow, to time a model that the classical coder
would beat. Prints wall seconds of each direction (after a warm-up run that loads the model and the compiled
inverse) and the functions with the most time of their own.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from pathlib import Path

import numpy as np

import flowzip
from flowzip.container import TILE_TOOLS
from flowzip.images import read_image_rgb
from flowzip.learned.zoo import LARGE_IMAGE_MODEL

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", default=str(SAMPLE))
    parser.add_argument("--model", default=LARGE_IMAGE_MODEL)
    parser.add_argument("--index", type=int, default=0, help="which image of an .npy array")
    parser.add_argument("--tools", default=",".join(TILE_TOOLS), help="what each tile may be coded with")
    parser.add_argument("--jobs", type=int, default=None, help="cores (default: all)")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    path = Path(args.image)
    image = np.load(path, mmap_mode="r")[args.index].copy() if path.suffix == ".npy" else read_image_rgb(path)
    options = {"model": args.model, "jobs": args.jobs}
    tools = args.tools.split(",")
    data = flowzip.compress(image, tools=tools, **options)
    assert np.array_equal(flowzip.decompress(data, **options), image)
    for name, run in (
        ("compress", lambda: flowzip.compress(image, tools=tools, **options)),
        ("decompress", lambda: flowzip.decompress(data, **options)),
    ):
        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.runcall(run)
        seconds = time.perf_counter() - start
        print(f"## {name}: {seconds:.3f} s for {image.shape[1]}x{image.shape[0]} (profiled)")
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


if __name__ == "__main__":
    main()
