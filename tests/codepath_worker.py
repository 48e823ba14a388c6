"""Encode or decode in a process whose numeric code path the caller chose (tests/test_codepaths.py).

    python tests/codepath_worker.py encode IMAGE.npy OUT.fzi MODEL [--conv2d [--channels-last]] [--threads N] [--jobs N]
    python tests/codepath_worker.py decode IN.fzi OUT.npy MODEL [--conv2d [--channels-last]] [--threads N] [--jobs N]
    python tests/codepath_worker.py corpus - OUT.json - [options]   (decode the compatibility and conformance
                                                                 corpora; OUT.json: each file's mismatches)

The environment (ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS) is the caller's. --conv2d computes the coding
convolutions with ``F.conv2d`` (im2col) instead of flowzip's tap-by-tap matrix products, --channels-last
feeds it channels-last tensors; --jobs sets the number of tiles coded at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import flowzip
import flowzip.learned.exact

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import CORPORA, decode, manifest, mismatches, stored_metadata


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["encode", "decode", "corpus"])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("model")
    parser.add_argument("--conv2d", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.conv2d:
        layout = torch.channels_last if args.channels_last else torch.contiguous_format

        def conv2d(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
            x = x.contiguous(memory_format=layout)
            return F.conv2d(x, w.to(x.dtype), None if b is None else b.to(x.dtype), padding=1)

        flowzip.learned.exact.conv3x3 = conv2d
    if args.action == "encode":
        data = flowzip.compress(np.load(args.source), model=args.model, tile_size=64, jobs=args.jobs, tools=("flow",))
        Path(args.target).write_bytes(data)
    elif args.action == "decode":
        np.save(args.target, flowzip.decompress(Path(args.source).read_bytes(), model=args.model, jobs=args.jobs))
    else:
        found = {
            f"{folder.name}/{name}": mismatches(
                decode(folder, name, spec, args.jobs), spec, stored_metadata(folder, name)
            )
            for folder in CORPORA
            for name, spec in manifest(folder).items()
        }
        Path(args.target).write_text(json.dumps(found))
    print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())


if __name__ == "__main__":
    main()
