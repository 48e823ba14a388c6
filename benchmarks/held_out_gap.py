"""Is the gap between training and held-out bits real? Score a model on fixed crops of both, and the dev set.

    python benchmarks/held_out_gap.py [--model photo] [--crops 512]     (--model: a name or a .fzm file)

The training log's "train" figure is a running mean over random training batches of the raw weights, and
its "held-out" figure scores the EMA weights on 128 crops of the 5 % of photos held out (seed 0). Here one
model scores the same number of fixed 64x64 crops (seed 7) of the training photos and of the held-out
photos, each held-out photo on its own, and the dev set of ``benchmarks/variants.py``, each of its folders
and all of it.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from paths import TRAIN_PHOTOS
from variants import DEV_FOLDERS, dev_bits, dev_crops

from flowzip.images import load_rgb_images
from flowzip.learned.train import evaluate, random_crops, split_held_out
from flowzip.learned.zoo import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="photo")
    parser.add_argument("--crops", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    flow = load_model(args.model).flow
    train_images, held_out = split_held_out(load_rgb_images([str(TRAIN_PHOTOS)]), 0.05, 0)
    rows = [
        ("training photos", random_crops(train_images, args.crops, 64, np.random.default_rng(7))),
        ("held-out photos", random_crops(held_out, args.crops, 64, np.random.default_rng(7))),
    ]
    rows += [
        (
            f"held-out photo {k} ({image.shape[1]}x{image.shape[0]})",
            random_crops([image], 128, 64, np.random.default_rng(7)),
        )
        for k, image in enumerate(held_out)
    ]
    print(f"| {args.model}: crops of | bits/subpixel |\n|---|---|")
    for name, crops in rows:
        print(f"| {name} | {evaluate(flow, crops):.4f} |")
    for folder in DEV_FOLDERS:
        print(f"| dev set: central crops of {folder} | {dev_bits(flow, dev_crops((folder,))):.4f} |")
    print(f"| dev set (all central crops) | {dev_bits(flow, dev_crops()):.4f} |")


if __name__ == "__main__":
    main()
