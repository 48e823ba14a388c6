"""What does exact fixed-point arithmetic cost? The flow trained as shipped against its floating-point twin.

    python -m benchmarks.decisions.float_twin [--steps 1500] [--crop 32] [--batch 16] [--out runs/float-twin]

Trains the default architecture twice on ``../shared/data/photos/train`` with the same seed, data, schedule
and initial weights, in two processes side by side (one thread each): once as flowzip trains it (fixed-point
grids, straight-through rounding; quantisation-aware) and once inside ``flowzip.learned.exact.float_twin()`` (plain
float32, no grids, no scale table; latents still rounded to integers). Both end with their raw weights (no
EMA); running it again with the same settings only evaluates. It reports bits per subpixel on the central
128x128 crops of ``../shared/data/dev/cbsd68`` and on the training run's held-out crops (5 % of the photos):

- the fixed-point model exactly as it codes (float64, every value on its grid),
- the float twin in float32 (what a float codec would compute, were its floats reproducible),
- the float twin with the grids put back after training (quantisation without quantisation-aware training),

and the time of one forward pass over a 256x256 tile on one thread: flowzip's exact float64 path against the
float twin's float32 path.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.paths import CBSD68, ROOT, RUNS, TRAIN_PHOTOS


def train_one(kind: str, args: argparse.Namespace) -> None:
    from flowzip.learned.config import TrainConfig
    from flowzip.learned.exact import float_twin
    from flowzip.learned.train import train

    cfg = TrainConfig(
        data=[str(TRAIN_PHOTOS)],
        out=str(Path(args.out) / kind),
        name=kind,
        crop=args.crop,
        batch=args.batch,
        steps=args.steps,
        warmup=min(300, args.steps // 5),
        val_every=args.steps,
        ema=0.0,  # the shipped file then holds the final raw weights
        threads=1,
    )
    if kind == "float":
        with float_twin():
            train(cfg)
    else:
        train(cfg)


def held_out_crops(crop: int) -> torch.Tensor:
    """The held-out crops the training runs validate on (same split, seed and count as flowzip.learned.train)."""
    from flowzip.images import load_rgb_images
    from flowzip.learned.config import TrainConfig
    from flowzip.learned.train import random_crops, split_held_out

    cfg = TrainConfig(data=[str(TRAIN_PHOTOS)], out="")
    _, held_out = split_held_out(load_rgb_images(cfg.data), cfg.val_fraction, cfg.seed)
    return random_crops(held_out, cfg.val_crops, crop, np.random.default_rng(1)).to(torch.uint8)


def dev_crops(size: int = 128) -> torch.Tensor:
    from flowzip.images import IMAGE_SUFFIXES, read_image_rgb

    crops = []
    for path in sorted(p for p in CBSD68.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        image = read_image_rgb(path)
        top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
        crops.append(image[top : top + size, left : left + size])
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2)


@torch.no_grad()
def bits_per_subpixel(flow: torch.nn.Module, x: torch.Tensor) -> float:
    return sum(flow.code_length_bits(x[i : i + 8]).sum().item() for i in range(0, len(x), 8)) / x.numel()


@torch.no_grad()
def forward_seconds(flow: torch.nn.Module, dtype: torch.dtype) -> float:
    x = torch.randint(0, 256, (1, 3, 256, 256)).to(dtype)
    flow(x)
    start = time.perf_counter()
    for _ in range(3):
        flow(x)
    return (time.perf_counter() - start) / 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--crop", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--out", default=str(RUNS / "float-twin"))
    parser.add_argument("--train", choices=["fixed", "float"], help=argparse.SUPPRESS)  # internal: one run
    args = parser.parse_args()
    if args.train:
        train_one(args.train, args)
        return

    from flowzip.learned.exact import float_twin
    from flowzip.learned.zoo import load_model_file

    common = ["--steps", str(args.steps), "--crop", str(args.crop), "--batch", str(args.batch), "--out", args.out]
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.decisions.float_twin", "--train", kind, *common],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        for kind in ("fixed", "float")
    ]
    if any(run.wait() for run in runs):
        raise SystemExit("a training run failed")
    torch.set_num_threads(1)
    fixed = load_model_file(Path(args.out) / "fixed" / "fixed.fzm").flow
    twin = load_model_file(Path(args.out) / "float" / "float.fzm").flow
    results: dict[str, dict[str, float]] = {}
    for name, x in (("CBSD68 crops", dev_crops()), ("held-out crops", held_out_crops(args.crop))):
        with float_twin():
            twin_bits = bits_per_subpixel(twin, x.float())
        results[name] = {
            "fixed point (exact)": bits_per_subpixel(fixed, x.double()),
            "float twin": twin_bits,
            "float twin quantized after training (exact)": bits_per_subpixel(twin, x.double()),
        }
    with float_twin():
        float_seconds = forward_seconds(twin, torch.float32)
    exact_seconds = forward_seconds(fixed, torch.float64)
    print(
        f"\n{args.steps} steps each, {args.crop}x{args.crop} crops, batch {args.batch}; bits per subpixel on ", end=""
    )
    print("the central 128x128 crops of the 68 CBSD68 images and on the 128 held-out training crops\n")
    print("| model | computed as | CBSD68 crops | vs twin | held-out crops | vs twin |\n|---|---|---|---|---|---|")
    rows = [
        ("fixed point, quantisation-aware (flowzip)", "float64, exact (as coded)", "fixed point (exact)"),
        ("float twin", "float32, no grids", "float twin"),
        ("float twin", "grids applied after training, exact", "float twin quantized after training (exact)"),
    ]
    for model, how, key in rows:
        cells = [f"{r[key]:.4f} | {100 * (r[key] / r['float twin'] - 1):+.2f} %" for r in results.values()]
        print(f"| {model} | {how} | {' | '.join(cells)} |")
    print(f"\nforward pass of a 256x256 tile, one thread: exact float64 {exact_seconds:.3f} s, ", end="")
    print(f"float32 twin {float_seconds:.3f} s ({exact_seconds / float_seconds:.1f}x)")
    Path(args.out, "results.json").write_text(
        json.dumps({**results, "exact_s": exact_seconds, "float_s": float_seconds, "settings": vars(args)}, indent=1)
    )


if __name__ == "__main__":
    main()
