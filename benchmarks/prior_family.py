"""Gaussian or Laplace priors? Train the default architecture with each for the same steps, compare held-out bpd.

    python benchmarks/prior_family.py [--steps 2000] [--threads 1]

Both runs use the photo training folder, the same seed, 64x64 crops, batch 16 and the 40,000-step schedule of
the default model; the score is bits per subpixel of the raw (not EMA) weights on 512 crops of the held-out
training photos (5 %, chosen by the seed). Run folders go to runs/prior-family-*; rerunning resumes them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from flowzip.model import FlowConfig, IntegerFlow
from flowzip.train import TrainConfig, evaluate, load_images, random_crops, split_held_out, train

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "photos" / "train"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    _, held_out = split_held_out(load_images([str(DATA)]), 0.05, 0)
    crops = random_crops(held_out, 512, 64, np.random.default_rng(7))
    print("| family | steps | held-out bpd (raw weights) |\n|---|---|---|")
    for family in ("gaussian", "laplace"):
        cfg = TrainConfig(
            data=[str(DATA)],
            out=f"runs/prior-family-{family}",
            name="photo",
            flow=FlowConfig(family=family),
            crop=64,
            batch=16,
            steps=40_000,
            lr=1e-3,
            warmup=300,
            val_every=250,
            val_crops=128,
            threads=args.threads,
        )
        train(cfg, stop_at_step=args.steps)
        ck = torch.load(Path(cfg.out) / "checkpoint.pt", weights_only=True)
        flow = IntegerFlow(cfg.flow)
        flow.load_state_dict(ck["model"])
        print(f"| {family} | {ck['step']} | {evaluate(flow, crops):.4f} |")


if __name__ == "__main__":
    main()
