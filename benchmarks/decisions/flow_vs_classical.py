"""Where the flow loses to the classical coder: both on every 32x32 block of a set of images, binned by how
smooth the block is (the classical coder's bits per subpixel), and on flat images.

    python -m benchmarks.decisions.flow_vs_classical [FOLDER ...] [--model photo] [--limit N]

The flow's bits of a block are its model code length of the whole image (cropped to a multiple of 32),
each latent's bits given to the block it lies in; the classical coder (``flowzip.classical.encode_rgb``) codes
each block on its own, so it pays its headers 150 times per image: a bias against it, not for it.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch

from benchmarks.paths import CBSD68
from flowzip.classical import encode_rgb
from flowzip.images import dataset_images
from flowzip.learned.priors import code_length_bits
from flowzip.learned.zoo import load_model

BLOCK = 32
BINS = (0.0, 0.5, 1.5, 3.0, 9.0)  # of the classical coder's bits per subpixel


@torch.no_grad()
def block_bits(flow: torch.nn.Module, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flow bits, classical bits) of each 32x32 block of ``image`` (cropped to whole blocks)."""
    h, w = image.shape[0] // BLOCK * BLOCK, image.shape[1] // BLOCK * BLOCK
    image = np.ascontiguousarray(image[:h, :w])
    x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float()
    flow_bits = np.zeros((h // BLOCK, w // BLOCK))
    for g in flow(x):
        bits = code_length_bits(g.symbols, g.mean, g.scale, flow.config.family)[0].sum(0).numpy()
        side = BLOCK * bits.shape[0] // h  # latents per block side
        flow_bits += bits.reshape(h // BLOCK, side, w // BLOCK, side).sum((1, 3))
    classical = [
        [8 * len(encode_rgb(np.ascontiguousarray(image[i : i + BLOCK, j : j + BLOCK]))) for j in range(0, w, BLOCK)]
        for i in range(0, h, BLOCK)
    ]
    return flow_bits, np.array(classical, dtype=float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", default=[str(CBSD68)])
    parser.add_argument("--model", default="photo")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    torch.set_num_threads(1)
    flow = load_model(args.model).flow
    print(f"| flat 64x64 image of value | flow bits/subpixel ({args.model}) |\n|---|---|")
    for value in (0, 128, 255):
        x = torch.full((1, 3, 64, 64), float(value))
        with torch.no_grad():
            print(f"| {value} | {flow.code_length_bits(x).item() / x.numel():.3f} |")
    flows, classicals = [], []
    _, images = dataset_images(args.folders, args.limit)
    for _, image in images:
        f, c = block_bits(flow, np.asarray(image))
        flows.append(f.ravel())
        classicals.append(c.ravel())
    flow_bits, classical_bits = np.concatenate(flows), np.concatenate(classicals)
    subpixels = 3 * BLOCK * BLOCK
    smoothness = classical_bits / subpixels
    print(f"\n| {BLOCK}x{BLOCK} blocks, classical bits/subpixel | blocks | flow | classical | flow wins |")
    print("|---|---|---|---|---|")
    for lo, hi in itertools.pairwise(BINS):
        m = (smoothness >= lo) & (smoothness < hi)
        if m.any():
            f, c = flow_bits[m].sum() / (m.sum() * subpixels), classical_bits[m].sum() / (m.sum() * subpixels)
            wins = (flow_bits[m] < classical_bits[m]).mean()
            print(f"| {lo}-{hi} | {m.sum()} | {f:.3f} | {c:.3f} | {wins:.0%} |")
    total_f, total_c = (
        flow_bits.sum() / flow_bits.size / subpixels,
        classical_bits.sum() / classical_bits.size / subpixels,
    )
    wins = (flow_bits < classical_bits).mean()
    print(f"| all | {flow_bits.size} | {total_f:.3f} | {total_c:.3f} | {wins:.0%} |")


if __name__ == "__main__":
    main()
