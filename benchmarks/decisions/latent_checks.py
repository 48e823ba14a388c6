"""Two checks of what is left to gain in the flow's latents, on central crops of a folder of photos.

    python -m benchmarks.decisions.latent_checks [FOLDER] [--model photo] [--limit 12] [--size 256]

1. Neighbours of the top latents: the top prior is one Gaussian per channel, with no context. If the top
   latents of neighbouring positions were correlated, a context would pay. A least-squares predictor of each
   top latent from its left, above, above-left and above-right neighbours (all channels, pooled over the
   images) says how much of their variance neighbours explain: mean log2 of the residual's standard deviation
   over the latent's, in bits per top latent (a Gaussian's code length moves by about that much).
2. Per-image scale adaptation: an encoder could send one scale multiplier per latent group (2^(k/8), k from
   -8 to 4) chosen to minimise the image's bits. The gain, total over the images, bounds what such a header
   field would save.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from benchmarks.paths import CBSD68
from flowzip.images import dataset_images
from flowzip.learned.flow import IntegerFlow
from flowzip.learned.priors import code_length_bits
from flowzip.learned.zoo import load_model

MULTIPLIERS = 2.0 ** (np.arange(-8, 5) / 8)
MIN_SCALE = 0.25  # exact.SCALE_INDEX_MIN's scale: the coder's smallest


def central_crop(image: np.ndarray, size: int, stride: int) -> np.ndarray:
    h, w = (min(size, s) // stride * stride for s in image.shape[:2])
    top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    return image[top : top + h, left : left + w]


def neighbour_rows(top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(features, targets): each interior top latent's causal neighbours (all channels) and its own values."""
    _, h, w = top.shape
    features, targets = [], []
    for i in range(1, h):
        for j in range(1, w - 1):
            near = [top[:, i, j - 1], top[:, i - 1, j], top[:, i - 1, j - 1], top[:, i - 1, j + 1], [1.0]]
            features.append(np.concatenate(near))
            targets.append(top[:, i, j])
    return np.array(features), np.array(targets)


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(CBSD68))
    parser.add_argument("--model", default="photo")
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    flow: IntegerFlow = load_model(args.model).flow
    _, images = dataset_images([args.folder], args.limit)
    features, targets = [], []
    bits = adapted = top_bits = subpixels = 0.0
    for _, image in images:
        crop = central_crop(image, args.size, flow.config.stride)
        groups = flow(torch.from_numpy(crop.copy()).permute(2, 0, 1)[None].double())
        for g in groups:
            per_multiplier = [
                code_length_bits(g.symbols, g.mean, (g.scale * m).clamp(min=MIN_SCALE), flow.config.family).sum()
                for m in MULTIPLIERS
            ]
            bits += float(per_multiplier[8])  # multiplier 1
            adapted += float(min(per_multiplier))
        chunks = flow.config.prior_chunks
        top_bits += sum(
            float(code_length_bits(g.symbols, g.mean, g.scale, flow.config.family).sum()) for g in groups[:chunks]
        )
        f, t = neighbour_rows(torch.cat([g.symbols for g in groups[:chunks]], 1)[0].numpy())
        features.append(f)
        targets.append(t)
        subpixels += crop.size
    x, y = np.concatenate(features), np.concatenate(targets)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    ratio = 0.5 * np.log2((y - x @ coef).var(0) / y.var(0))
    print(f"{args.model} on {args.folder}: {subpixels:,.0f} subpixels")
    print(f"| check | result |\n|---|---|\n| bits per subpixel | {bits / subpixels:.4f} |")
    print(f"| of which top latents | {top_bits / subpixels:.4f} |")
    print(f"| top latents: log2 std ratio with a 4-neighbour linear predictor | {ratio.mean():+.4f} bits per latent |")
    print(f"| with a per-image scale multiplier per group | {adapted / subpixels:.4f} ({adapted / bits - 1:+.2%}) |")


if __name__ == "__main__":
    main()
