"""Architecture and prior choices, measured: train each variant on the same data and seed, compare bits.

    python -m benchmarks.variants family [--steps 2000] [--threads 1]
    python -m benchmarks.variants chunks [--steps 600] [--threads 1] [--chunk-hidden 24]
    python -m benchmarks.variants design --minutes 40 [--only NAME] [--threads 1]
    python -m benchmarks.variants grow --minutes 60 [--only NAME] [--threads 1]
    python -m benchmarks.variants small --minutes 30 [--only NAME] [--threads 1]

family: the default architecture with Gaussian or Laplace priors, each trained from scratch.
chunks: the shipped ``photo-c7c8e0d3`` model (the one ``photo`` was grown from) trained further as it is
(1 chunk per prior), or grown to priors that code their latents in 2 channel chunks, the second conditioned
on the first by networks of ``--chunk-hidden`` channels (``--init photo-c7c8e0d3``).
design: candidate architectures for the photo model v2, each trained from scratch for the same CPU time
(``--minutes`` on ``--threads``), against the shipped architecture trained the same way ("base"). Run two at a
time with ``--only`` (one per core).
grow: the shipped ``photo-ac451c9d`` (the default before photo v2) trained further as it is ("photo"), grown
to priors that code each chunk in 2x2 polyphase components, each conditioned on those before ("4 phases",
``prior_phases=4``), or trained further on crops of which half went through JPEG ("JPEG crops",
``jpeg_fraction=0.5``), each for the same CPU time at a learning rate of 3e-4 (it is already trained), 100
warm-up steps and a cosine schedule over 4,000 steps.

small: the shipped ``cifar10-815fd2ca`` (the small-image model before cifar10 v2) trained further as it is
("cifar10"), or grown to a causal local context of
radius 2 on its finest factored-out latents ("local context", ``context_radius=2``), or to 8 flow steps per
level, the 4 new ones after the old ones of each level ("8 steps"; they start as the identity), each for the
same CPU time with the schedule of grow, on whole CIFAR-10 training images (``runs/cifar10/train.npy``, written
by ``benchmarks/data/cifar10.py``), batch 64, scored on the held-out slice of the training set (5 %, 2,500 images).

The other kinds train on the photo training folder with 64x64 crops, batch 16; all use the same seed and, unless
said otherwise, a peak learning rate 1e-3 with 300 warm-up steps and a cosine schedule (40,000 steps from
scratch, 12,000 from a model) cut at ``--steps`` or ``--minutes``. family and chunks score the raw (not EMA)
weights on 512 crops of the held-out training photos (5 %, chosen by the seed); design and grow score the raw and
the EMA weights on those and on the dev set of ``dev_crops``, small on its held-out images. Every row also gives
the training seconds per step of its run. Run folders go to runs/variants-KIND-NAME; rerunning resumes them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from benchmarks.paths import RUNS, SHARED_DATA, TRAIN_PHOTOS
from flowzip.images import IMAGE_SUFFIXES, load_rgb_images, open_image
from flowzip.learned.config import FlowConfig, TrainConfig
from flowzip.learned.train import evaluate, random_crops, split_held_out, train
from flowzip.learned.zoo import build_network, load_model

DEV_FOLDERS = ("dev/cbsd68", "dev/set5", "dev/set14", "dev/waterloo")
DEV_CROP = 256
SMALL_BASE = "cifar10-815fd2ca"  # what the small variants grow from
CIFAR10_TRAIN = RUNS / "cifar10" / "train.npy"  # benchmarks/data/cifar10.py
SYNTHETIC_COLOURS = 1 << 14  # waterloo's RGB images with fewer colours are synthetic (frymire, serrano)


def dev_crops(folders: tuple[str, ...] = DEV_FOLDERS) -> list[torch.Tensor]:
    """The photo dev set: central crops (up to 256x256, sides a multiple of 32, the stride of 5 levels) of every
    RGB image of CBSD68, Set5 and Set14 and of waterloo's colour photos, each a tensor (1, 3, H, W)."""
    crops = []
    for folder in folders:
        for path in sorted((SHARED_DATA / folder).iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            image = open_image(path)
            if image.mode != "RGB" or (folder == "dev/waterloo" and image.getcolors(SYNTHETIC_COLOURS)):
                continue
            a = np.array(image)
            h, w = (min(DEV_CROP, s) // 32 * 32 for s in a.shape[:2])
            top, left = (a.shape[0] - h) // 2, (a.shape[1] - w) // 2
            crop = np.ascontiguousarray(a[top : top + h, left : left + w])
            crops.append(torch.from_numpy(crop).permute(2, 0, 1)[None].float())
    return crops


@torch.no_grad()
def dev_bits(flow: torch.nn.Module, crops: list[torch.Tensor]) -> float:
    """Bits per subpixel of the whole dev set (total bits over total subpixels)."""
    flow.eval()
    bits = sum(flow.code_length_bits(c).sum().item() for c in crops)
    return bits / sum(c.numel() for c in crops)


def design_variants() -> dict[str, FlowConfig]:
    """The photo v2 candidates that differ from the shipped architecture in configuration only."""
    base = FlowConfig(prior_chunks=2)
    return {
        "base": base,
        "4 levels": dataclasses.replace(base, levels=4),
        "wide 2 steps": dataclasses.replace(base, steps=2, hidden=96),
        "2 blocks": dataclasses.replace(base, blocks=2),
    }


class Variant(NamedTuple):
    flow: FlowConfig
    init: str | None  # the model it starts from
    schedule: int  # steps of the cosine schedule
    lr: float = 1e-3
    warmup: int = 300
    jpeg_fraction: float = 0.0


def variants(kind: str, chunk_hidden: int) -> dict[str, Variant]:
    """The variants of one comparison, by name."""
    if kind == "family":
        return {family: Variant(FlowConfig(family=family), None, 40_000) for family in ("gaussian", "laplace")}
    if kind == "design":
        return {name: Variant(config, None, 40_000) for name, config in design_variants().items()}
    if kind == "grow":
        base = "photo-ac451c9d"  # the default photo model when these were measured
        photo = load_model(base).flow.config
        return {
            "photo": Variant(photo, base, 4_000, 3e-4, 100),
            "4 phases": Variant(dataclasses.replace(photo, prior_phases=4), base, 4_000, 3e-4, 100),
            "JPEG crops": Variant(photo, base, 4_000, 3e-4, 100, jpeg_fraction=0.5),
        }
    if kind == "small":
        cifar10 = load_model(SMALL_BASE).flow.config
        return {
            "cifar10": Variant(cifar10, SMALL_BASE, 4_000, 3e-4, 100),
            "local context": Variant(dataclasses.replace(cifar10, context_radius=2), SMALL_BASE, 4_000, 3e-4, 100),
            "8 steps": Variant(dataclasses.replace(cifar10, steps=8), SMALL_BASE, 4_000, 3e-4, 100),
        }
    base = "photo-c7c8e0d3"
    one = load_model(base).flow.config
    grown = dataclasses.replace(one, prior_chunks=2, chunk_hidden=chunk_hidden)
    return {"1 chunk": Variant(one, base, 12_000), f"2 chunks, {chunk_hidden} ch": Variant(grown, base, 12_000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["family", "chunks", "design", "grow", "small"])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--minutes", type=float, help="stop each run after this much training time instead")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--chunk-hidden", type=int, default=24)
    parser.add_argument("--only", help="train only this variant (to run variants in parallel processes)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    small = args.kind == "small"
    data, crop, batch = (CIFAR10_TRAIN, 32, 64) if small else (TRAIN_PHOTOS, 64, 16)
    _, held_out = split_held_out(load_rgb_images([str(data)]), 0.05, 0)
    if small:  # whole images, all of them
        crops = torch.from_numpy(np.stack(held_out)).permute(0, 3, 1, 2).float()
    else:
        crops = random_crops(held_out, 512, 64, np.random.default_rng(7))
    dev = dev_crops() if args.kind in ("design", "grow") else []
    detailed = args.kind in ("design", "grow", "small")  # EMA weights, parameters
    if dev:
        print(f"dev set: {len(dev)} central crops, {sum(c.numel() for c in dev) // 3:,} pixels")
    if detailed:
        print(
            f"| {args.kind} | parameters | steps | s/step | held-out bpd raw / EMA |"
            + (" dev bpd raw / EMA |" if dev else "")
            + "\n|---|---|---|---|---|"
            + ("---|" if dev else "")
        )
    else:
        print(f"| {args.kind} | steps | held-out bpd (raw weights) | training s/step |\n|---|---|---|---|")
    if small and not args.only:  # where every candidate starts
        start = load_model(SMALL_BASE).flow
        params = sum(p.numel() for p in start.parameters())
        print(f"| {SMALL_BASE} as shipped | {params / 1e6:.2f} M | 0 | | {evaluate(start, crops):.4f} |")
    for name, variant in variants(args.kind, args.chunk_hidden).items():
        if args.only and name != args.only:
            continue
        cfg = TrainConfig(
            data=[str(data)],
            out=f"runs/variants-{args.kind}-{name.replace(' ', '-').replace(',', '')}",
            name="variant",
            flow=variant.flow,
            crop=crop,
            batch=batch,
            steps=variant.schedule,
            lr=variant.lr,
            warmup=variant.warmup,
            val_every=250,
            val_crops=128,
            threads=args.threads,
            init=variant.init,
            jpeg_fraction=variant.jpeg_fraction,
        )
        if args.minutes:
            log_path = Path(cfg.out) / "log.jsonl"
            done = json.loads(log_path.read_text().splitlines()[-1])["seconds"] if log_path.exists() else 0.0
            if done < args.minutes * 60:
                train(cfg, time_limit=args.minutes * 60 - done)
        else:
            train(cfg, stop_at_step=args.steps)
        ck = torch.load(Path(cfg.out) / "checkpoint.pt", weights_only=True)
        flow, ema = build_network(cfg.flow), build_network(cfg.flow)
        flow.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        log = [json.loads(line) for line in (Path(cfg.out) / "log.jsonl").read_text().splitlines()]
        seconds = log[-1]["seconds"] / ck["step"]
        if detailed:
            params = sum(p.numel() for p in flow.parameters())
            print(
                f"| {name} | {params / 1e6:.2f} M | {ck['step']} | {seconds:.3f} "
                f"| {evaluate(flow, crops):.4f} / {evaluate(ema, crops):.4f} |"
                + (f" {dev_bits(flow, dev):.4f} / {dev_bits(ema, dev):.4f} |" if dev else "")
            )
        else:
            print(f"| {name} | {ck['step']} | {evaluate(flow, crops):.4f} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
