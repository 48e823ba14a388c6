"""Models scored on held-out data: a training run's weights against shipped models, or one model on fixed crops.

    python -m benchmarks.score_models runs RUN [RUN ...] [--model NAME ...] [--limit N]
    python -m benchmarks.score_models crops [--model photo] [--crops 512]

``runs``: for each run folder (``flowzip train --out RUN``), its checkpoint's raw and EMA weights, in bits per
dimension (the model's code length, float32, as in training) on the held-out images that its training left out
(the run's ``val_fraction`` and ``seed``; whole images, no flips: the run must train on images of one size, as
CIFAR-10's). Each ``--model`` is scored on the held-out images of the first run, so that candidates and shipped
models are compared on the same images. The training log's own figure uses fewer, flipped images.

``crops``: is the gap between training and held-out bits real? One model (``--model``: a name or a .fzm file)
scores the same number of fixed 64x64 crops (seed 7) of the training photos and of the photos held out from
them (5 %, seed 0, as ``flowzip train``), each held-out photo on its own, and the dev set of
``benchmarks/variants.py``, each of its folders and all of it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from benchmarks.paths import TRAIN_PHOTOS
from benchmarks.variants import DEV_FOLDERS, dev_bits, dev_crops
from flowzip.images import load_rgb_images
from flowzip.learned.config import FlowConfig
from flowzip.learned.train import evaluate, random_crops, split_held_out
from flowzip.learned.zoo import build_network, load_model


def held_out_images(run: Path, limit: int | None) -> torch.Tensor:
    """The images (N, 3, H, W) that the run in ``run`` holds out, as float32."""
    cfg = json.loads((run / "config.json").read_text())
    _, held_out = split_held_out(load_rgb_images(cfg["data"]), cfg["val_fraction"], cfg["seed"])
    return torch.from_numpy(np.stack(held_out[:limit])).permute(0, 3, 1, 2).float()


def _parameters(flow: torch.nn.Module) -> str:
    return f"{sum(p.numel() for p in flow.parameters()) / 1e6:.2f} M"


def score_runs(runs: list[Path], models: list[str], limit: int | None) -> None:
    """Print each run's raw and EMA weights, then each model, on the held-out images of the first run."""
    images = held_out_images(runs[0], limit)
    print(f"{len(images)} held-out images of {runs[0]}\n")
    print("| weights | parameters | step | held-out bits per dimension |\n|---|---|---|---|")
    for run in runs:
        if not torch.equal(held_out_images(run, limit), images):
            raise SystemExit(f"{run} holds out other images than {runs[0]}")
        cfg = json.loads((run / "config.json").read_text())
        flow = build_network(FlowConfig(**cfg["flow"]))
        checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
        for key in ("model", "ema"):
            flow.load_state_dict(checkpoint[key])
            name = f"{run.name} ({'raw' if key == 'model' else 'EMA'})"
            print(f"| {name} | {_parameters(flow)} | {checkpoint['step']} | {evaluate(flow, images):.4f} |")
    for name in models:
        flow = load_model(name).flow
        print(f"| {name} | {_parameters(flow)} | | {evaluate(flow, images):.4f} |")


def score_crops(model: str, crops: int) -> None:
    """Print one model's bits on fixed crops of the training photos, the held-out photos and the dev set."""
    flow = load_model(model).flow
    train_images, held_out = split_held_out(load_rgb_images([str(TRAIN_PHOTOS)]), 0.05, 0)
    rows = [
        ("training photos", random_crops(train_images, crops, 64, np.random.default_rng(7))),
        ("held-out photos", random_crops(held_out, crops, 64, np.random.default_rng(7))),
    ]
    rows += [
        (
            f"held-out photo {k} ({image.shape[1]}x{image.shape[0]})",
            random_crops([image], 128, 64, np.random.default_rng(7)),
        )
        for k, image in enumerate(held_out)
    ]
    print(f"| {model}: crops of | bits/subpixel |\n|---|---|")
    for name, images in rows:
        print(f"| {name} | {evaluate(flow, images):.4f} |")
    for folder in DEV_FOLDERS:
        print(f"| dev set: central crops of {folder} | {dev_bits(flow, dev_crops((folder,))):.4f} |")
    print(f"| dev set (all central crops) | {dev_bits(flow, dev_crops()):.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    runs = commands.add_parser("runs", help="training runs' weights and shipped models on a run's held-out images")
    runs.add_argument("runs", nargs="+", type=Path)
    runs.add_argument("--model", action="append", default=[], help="a shipped model or model file to score too")
    runs.add_argument("--limit", type=int, help="only the first N held-out images")
    crops = commands.add_parser("crops", help="one model on fixed crops of training, held-out and dev photos")
    crops.add_argument("--model", default="photo")
    crops.add_argument("--crops", type=int, default=512)
    crops.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.command == "runs":
        torch.set_num_threads(1)
        score_runs(args.runs, args.model, args.limit)
    else:
        torch.set_num_threads(args.threads)
        score_crops(args.model, args.crops)


if __name__ == "__main__":
    main()
