"""Where does coding time go? cProfile of compress and decompress of one image, by coding stage and by function.

    python -m benchmarks.profile_codec [IMAGE] [--index 0] [--model photo] [--tools flow] [--top 12]

IMAGE is an image file or an .npy array of images (N, H, W, 3), of which ``--index`` is taken (e.g.
runs/cifar10/test.npy); by default a 768x512 crop of a training photo (the speed benchmark's smallest mosaic).
``--tools flow`` makes every tile use the flow, to time a model that the classical coder would beat. Tiles are
coded one after another on one thread, so that the profile sees all the work. After a warm-up run that loads the
model and compiles the coders, it prints for each direction the wall seconds, the time in each stage (the
cumulative time of the functions that stage is; stages do not call each other) and the functions with the most
time of their own.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import flowzip
from benchmarks.speed import mosaic
from flowzip.container import TILE_TOOLS
from flowzip.images import read_image_rgb
from flowzip.learned.zoo import LARGE_IMAGE_MODEL


def _stages() -> dict[tuple[str, int, str], str]:
    """cProfile's key of each function that a stage is -> the stage; no stage calls another."""
    from flowzip.classical import rgb
    from flowzip.learned import causal, emerging, entropy, nets

    stages = {
        nets.ResidualConvNet.forward: "networks (couplings and priors)",
        causal.CausalContext.forward: "causal context network",
        causal.CausalContext.at: "causal context network",
        emerging.IntegerMaskedConv.forward: "masked conv forward",
        emerging.IntegerMaskedConv.inverse: "masked conv inverse (numba solve)",
        entropy.encode_latents: "ANS encode",
        entropy.LatentDecoder.__call__: "ANS decode",
        entropy.LatentDecoder.decode_mixture: "ANS decode",
        rgb.encode_rgb: "classical coder",
        rgb.decode_rgb: "classical coder",
    }
    return {(f.__code__.co_filename, f.__code__.co_firstlineno, f.__name__): s for f, s in stages.items()}


def stage_seconds(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative seconds in each stage."""
    stages, seconds = _stages(), defaultdict(float)
    for key, (*_, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if key in stages:
            seconds[stages[key]] += cumulative
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", help="an image file or .npy array (default: a 768x512 photo crop)")
    parser.add_argument("--model", default=LARGE_IMAGE_MODEL)
    parser.add_argument("--index", type=int, default=0, help="which image of an .npy array")
    parser.add_argument("--tools", default=",".join(TILE_TOOLS), help="what each tile may be coded with")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    if args.image is None:
        image = mosaic(1)
    elif (path := Path(args.image)).suffix == ".npy":
        image = np.load(path, mmap_mode="r")[args.index].copy()
    else:
        image = read_image_rgb(path)
    options = {"model": args.model, "jobs": 1}
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
        print(f"## {name}: {seconds:.3f} s for {image.shape[1]}x{image.shape[0]} on one thread (profiled)\n")
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stages = stage_seconds(stats)
        print("| stage | seconds | share |\n|---|---|---|")
        for stage, stage_s in sorted(stages.items(), key=lambda kv: -kv[1]):
            print(f"| {stage} | {stage_s:.3f} | {stage_s / seconds:.0%} |")
        rest = seconds - sum(stages.values())
        print(f"| everything else (tiling, padding, rounding, coder set-up) | {rest:.3f} | {rest / seconds:.0%} |\n")
        stats.sort_stats("tottime").print_stats(args.top)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()) + "\n")


if __name__ == "__main__":
    main()
