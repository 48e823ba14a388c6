"""Encode or decode in a process whose numeric code path the caller chose (tests/test_codepaths.py).

    python tests/codepath_worker.py encode IMAGE.npy OUT.fzi MODEL [--channels-last] [--threads N]
    python tests/codepath_worker.py decode IN.fzi OUT.npy MODEL [--channels-last] [--threads N]

The environment (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA) is the caller's; --channels-last makes every
convolution run on channels-last tensors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import flowzip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["encode", "decode"])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("model")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.channels_last:
        conv2d = F.conv2d

        def conv2d_channels_last(x: torch.Tensor, w: torch.Tensor, *rest, **kw) -> torch.Tensor:
            return conv2d(x.contiguous(memory_format=torch.channels_last), w, *rest, **kw)

        F.conv2d = conv2d_channels_last
    if args.action == "encode":
        Path(args.target).write_bytes(flowzip.compress(np.load(args.source), model=args.model, tile_size=64))
    else:
        np.save(args.target, flowzip.decompress(Path(args.source).read_bytes(), model=args.model))
    print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())


if __name__ == "__main__":
    main()
