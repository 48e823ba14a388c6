"""Does the coder pay what the model says? Coded payload bits against the model's -log2 likelihood.

    python -m benchmarks.rate [FOLDER] [--model photo] [--crop 64] [--limit N]

For the central CROPxCROP crop of each image in FOLDER (default ../shared/data/dev/cbsd68), prints the
model's code length, the ANS payload of the coded tile, and the overhead in percent, and the totals.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from benchmarks.paths import CBSD68
from flowzip.images import IMAGE_SUFFIXES, read_image_rgb
from flowzip.learned.zoo import LARGE_IMAGE_MODEL, load_model
from flowzip.tiles.flow import encode_flow_tile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(CBSD68))
    parser.add_argument("--model", default=LARGE_IMAGE_MODEL)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    model = load_model(args.model)
    paths = sorted(p for p in Path(args.folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[: args.limit]
    total_model = total_coded = 0.0
    print(f"model {model.name} ({model.short_id}), central {args.crop}x{args.crop} crops of {args.folder}\n")
    print("| image | model bits | payload bits | overhead |\n|---|---|---|---|")
    for path in paths:
        img = read_image_rgb(path)
        i, j = (img.shape[0] - args.crop) // 2, (img.shape[1] - args.crop) // 2
        crop = np.ascontiguousarray(img[i : i + args.crop, j : j + args.crop])
        with torch.no_grad():
            bits = model.flow.code_length_bits(torch.from_numpy(crop).permute(2, 0, 1)[None].double()).item()
        coded = 8 * len(encode_flow_tile(model, crop))
        total_model, total_coded = total_model + bits, total_coded + coded
        print(f"| {path.name} | {bits:.0f} | {coded} | {100 * (coded / bits - 1):+.3f} % |")
    print(f"| **total** | {total_model:.0f} | {total_coded:.0f} | {100 * (total_coded / total_model - 1):+.3f} % |")


if __name__ == "__main__":
    main()
