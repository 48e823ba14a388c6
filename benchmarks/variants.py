"""Architecture and prior choices, measured: train each variant for the same steps, compare held-out bpd.

    python benchmarks/variants.py family [--steps 2000] [--threads 1]
    python benchmarks/variants.py chunks [--steps 600] [--threads 1] [--chunk-hidden 24]

family: the default architecture with Gaussian or Laplace priors, each trained from scratch.
chunks: the shipped ``photo-c7c8e0d3`` model (the one ``photo`` was grown from) trained further as it is
(1 chunk per prior), or grown to priors that code their latents in 2 channel chunks, the second conditioned
on the first by networks of ``--chunk-hidden`` channels (``--init photo-c7c8e0d3``).

Every run uses the photo training folder, the same seed, 64x64 crops, batch 16, peak learning rate 1e-3 with
300 warm-up steps, and a cosine schedule (40,000 steps from scratch, 12,000 from a model) cut at ``--steps``.
The score is bits per subpixel of the raw (not EMA) weights on 512 crops of the held-out training photos
(5 %, chosen by the seed), with the training seconds per step of the run. Run folders go to
runs/variants-*; rerunning resumes them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from flowzip.model import FlowConfig, IntegerFlow
from flowzip.train import TrainConfig, evaluate, load_images, random_crops, split_held_out, train
from flowzip.zoo import load_model

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "photos" / "train"


def variants(kind: str, chunk_hidden: int) -> dict[str, tuple[FlowConfig, str | None, int]]:
    """name -> (architecture, model to start from, schedule length)."""
    if kind == "family":
        return {family: (FlowConfig(family=family), None, 40_000) for family in ("gaussian", "laplace")}
    base = "photo-c7c8e0d3"
    one = load_model(base).flow.config
    grown = dataclasses.replace(one, prior_chunks=2, chunk_hidden=chunk_hidden)
    return {"1 chunk": (one, base, 12_000), f"2 chunks, {chunk_hidden} ch": (grown, base, 12_000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["family", "chunks"])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--chunk-hidden", type=int, default=24)
    parser.add_argument("--only", help="train only this variant (to run variants in parallel processes)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    _, held_out = split_held_out(load_images([str(DATA)]), 0.05, 0)
    crops = random_crops(held_out, 512, 64, np.random.default_rng(7))
    print(f"| {args.kind} | steps | held-out bpd (raw weights) | training s/step |\n|---|---|---|---|")
    for name, (flow_config, init, schedule) in variants(args.kind, args.chunk_hidden).items():
        if args.only and name != args.only:
            continue
        cfg = TrainConfig(
            data=[str(DATA)],
            out=f"runs/variants-{name.replace(' ', '-').replace(',', '')}",
            name="variant",
            flow=flow_config,
            crop=64,
            batch=16,
            steps=schedule,
            lr=1e-3,
            warmup=300,
            val_every=250,
            val_crops=128,
            threads=args.threads,
            init=init,
        )
        train(cfg, stop_at_step=args.steps)
        ck = torch.load(Path(cfg.out) / "checkpoint.pt", weights_only=True)
        flow = IntegerFlow(cfg.flow)
        flow.load_state_dict(ck["model"])
        log = [json.loads(line) for line in (Path(cfg.out) / "log.jsonl").read_text().splitlines()]
        print(f"| {name} | {ck['step']} | {evaluate(flow, crops):.4f} | {log[-1]['seconds'] / ck['step']:.3f} |")


if __name__ == "__main__":
    main()
