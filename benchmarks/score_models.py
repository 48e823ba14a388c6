"""A training run's weights scored on the held-out images of its data, and shipped models on the same images.

    python benchmarks/score_run.py RUN [RUN ...] [--model NAME ...] [--limit N]

For each run folder (``flowzip train --out RUN``): its checkpoint's raw and EMA weights, in bits per dimension
(the model's code length, float32, as in training) on the held-out images that its training left out (the
run's ``val_fraction`` and ``seed``; whole images, no flips: the run must train on images of one size, as
CIFAR-10's). Each ``--model`` is scored on the held-out images of the first run, so that candidates and the
shipped model are compared on the same images. The training log's own figure uses fewer, flipped images.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from flowzip.images import load_rgb_images
from flowzip.learned.config import FlowConfig
from flowzip.learned.flow import IntegerFlow
from flowzip.learned.train import evaluate, split_held_out
from flowzip.learned.zoo import load_model


def held_out_images(run: Path, limit: int | None) -> torch.Tensor:
    """The images (N, 3, H, W) that the run in ``run`` holds out, as float32."""
    cfg = json.loads((run / "config.json").read_text())
    _, held_out = split_held_out(load_rgb_images(cfg["data"]), cfg["val_fraction"], cfg["seed"])
    return torch.from_numpy(np.stack(held_out[:limit])).permute(0, 3, 1, 2).float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--model", action="append", default=[], help="a shipped model or model file to score too")
    parser.add_argument("--limit", type=int, help="only the first N held-out images")
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = held_out_images(args.runs[0], args.limit)
    print(f"{len(images)} held-out images of {args.runs[0]}\n")
    print("| weights | parameters | step | held-out bits per dimension |\n|---|---|---|---|")
    for run in args.runs:
        if not torch.equal(held_out_images(run, args.limit), images):
            raise SystemExit(f"{run} holds out other images than {args.runs[0]}")
        cfg = json.loads((run / "config.json").read_text())
        flow = IntegerFlow(FlowConfig(**cfg["flow"]))
        checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
        params = sum(p.numel() for p in flow.parameters())
        for key in ("model", "ema"):
            flow.load_state_dict(checkpoint[key])
            name = f"{run.name} ({'raw' if key == 'model' else 'EMA'})"
            print(f"| {name} | {params / 1e6:.2f} M | {checkpoint['step']} | {evaluate(flow, images):.4f} |")
    for name in args.model:
        flow = load_model(name).flow
        params = sum(p.numel() for p in flow.parameters())
        print(f"| {name} | {params / 1e6:.2f} M | | {evaluate(flow, images):.4f} |")


if __name__ == "__main__":
    main()
