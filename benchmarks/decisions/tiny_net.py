"""Train the tiny network of ``benchmarks/decisions/photo_coder.py``: a subpixel's discretized logistic from its
causal neighbours.

    python -m benchmarks.decisions.tiny_net [--hidden 16] [--steps 60000] [--out runs/tiny-net/net.pt]
    python -m benchmarks.decisions.tiny_net --ship models/tiny-net-N.npz [--out runs/tiny-net/net.pt]

Inputs, in the centred subtract-green space that the classical coder codes, channel by channel (0, 1, 2): ten
causal neighbours in the same channel, and for each other channel its value at this pixel if coded already and
three causal neighbours, each relative to the mean of its channel's W and N neighbours and divided by 32; the
channel as one-hot. One hidden layer of ReLUs gives the logistic's mean (relative to that of W and N, in units
of 32) and log-scale. Trained with Adam on random 68x68 crops of the training photos (the first three held out,
scored on their 200x200 top-left corners every 250 steps, in bits per subpixel) on one thread: about 90 s for
20,000 steps. The learning rate falls from 3e-3 to 1e-3 for the last third.

``--ship`` writes the trained network ``--out`` rounded to integers (``flowzip.learned.tiny_net.from_checkpoint``), as
method 9 runs it, and prints its hash (the format spec's name for it). The shipped ``tiny-net-1.npz`` is this
script's default run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmarks.paths import RUNS, TRAIN_PHOTOS
from flowzip.classical.transforms import subtract_green
from flowzip.images import IMAGE_SUFFIXES, read_image_rgb
from flowzip.learned.tiny_net import OTHER, SAME, from_checkpoint
from flowzip.shipped import arrays_hash, save_arrays

_MARGIN = 2  # the neighbours reach two pixels back, so crops lose two pixels at the top and the sides


def features(image: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs (N, F), targets (N,), bases (N,)) of channel k's subpixels of ``image`` (3, H, W) away from its
    edges, float32."""
    _, h, w = image.shape
    m = _MARGIN

    def shifted(c: int, di: int, dj: int) -> torch.Tensor:
        return image[c, m + di : h - m + di, m + dj : w - m + dj]

    def base(c: int) -> torch.Tensor:
        return (shifted(c, 0, -1) + shifted(c, -1, 0)) / 2

    columns = [shifted(k, di, dj) - base(k) for di, dj in SAME]
    for c in range(3):
        if c != k:
            columns.append(shifted(c, 0, 0) - base(c) if c < k else torch.zeros_like(base(k)))
            columns += [shifted(c, di, dj) - base(c) for di, dj in OTHER]
    inputs = torch.stack([t.reshape(-1) for t in columns], 1) / 32.0
    one_hot = torch.zeros(inputs.shape[0], 3)
    one_hot[:, k] = 1
    return torch.cat([inputs, one_hot], 1), shifted(k, 0, 0).reshape(-1), base(k).reshape(-1)


class TinyNet(nn.Module):
    """Inputs -> ReLU hidden layer -> (mean offset, log-scale)."""

    def __init__(self, inputs: int, hidden: int):
        super().__init__()
        self.l1 = nn.Linear(inputs, hidden)
        self.l2 = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.l2(torch.relu(self.l1(x)))
        return out[:, 0] * 32.0, out[:, 1]


def bits(offset: torch.Tensor, log_scale: torch.Tensor, target: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """-log2 of each target's bin under the logistic, the end bins taking the tails of 0..255."""
    mean, scale = base + offset, torch.exp(log_scale.clamp(-3, 6))
    upper = torch.where(target >= 255, 1.0, torch.sigmoid((target + 0.5 - mean) / scale))
    lower = torch.where(target <= 0, 0.0, torch.sigmoid((target - 0.5 - mean) / scale))
    return -torch.log2((upper - lower).clamp_min(1e-9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--steps", type=int, default=60000)
    parser.add_argument("--out", type=Path, default=RUNS / "tiny-net" / "net.pt")
    parser.add_argument("--ship", type=Path, help="write the trained --out as method 9's integer network here")
    args = parser.parse_args()
    if args.ship:
        net = from_checkpoint(args.out)
        save_arrays(net, args.ship)
        print(f"{args.ship}: SHA-256 {arrays_hash(net)}")
        return
    torch.set_num_threads(1)
    files = sorted(p for p in TRAIN_PHOTOS.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    images = [torch.from_numpy(subtract_green(read_image_rgb(f)).astype(np.float32)).permute(2, 0, 1) for f in files]
    held_out, training = images[:3], images[3:]
    held_out_sets = [features(image[:, :200, :200], k) for image in held_out for k in range(3)]
    rng = np.random.default_rng(0)
    model = TinyNet(held_out_sets[0][0].shape[1], args.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    for step in range(args.steps + 1):
        image = training[rng.integers(len(training))]
        top, left = rng.integers(image.shape[1] - 68), rng.integers(image.shape[2] - 68)
        crop = image[:, top : top + 68, left : left + 68]
        loss = sum(bits(*model(x), y, b).mean() for x, y, b in (features(crop, k) for k in range(3))) / 3
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 250 == 0:
            with torch.no_grad():
                total = sum(bits(*model(x), y, b).sum().item() for x, y, b in held_out_sets)
            score = total / sum(len(y) for _, y, _ in held_out_sets)
            print(f"step {step}: held-out {score:.4f} bits/subpixel ({time.time() - start:.0f} s)", flush=True)
            torch.save(model.state_dict(), args.out)
        if step == args.steps * 2 // 3:
            for group in optimizer.param_groups:
                group["lr"] = 1e-3


if __name__ == "__main__":
    main()
