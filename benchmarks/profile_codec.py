"""Where does coding time go? cProfile of compress and decompress of one image with the default model.

    python benchmarks/profile_codec.py [IMAGE] [--model photo] [--top 12]

Prints wall seconds of each direction (after a warm-up run that loads the model and the compiled inverse)
and the functions with the most time of their own.
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
from flowzip.images import read_image_rgb

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", default=str(SAMPLE))
    parser.add_argument("--model", default=flowzip.DEFAULT_MODEL)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    image = read_image_rgb(Path(args.image))
    data = flowzip.compress(image, model=args.model)
    assert np.array_equal(flowzip.decompress(data), image)
    for name, run in (
        ("compress", lambda: flowzip.compress(image, model=args.model)),
        ("decompress", lambda: flowzip.decompress(data)),
    ):
        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.runcall(run)
        seconds = time.perf_counter() - start
        print(f"## {name}: {seconds:.2f} s for {image.shape[1]}x{image.shape[0]} (profiled)")
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


if __name__ == "__main__":
    main()
