"""One encoder setting against its shipped value: bytes, encode and decode seconds per set, every decode checked.

    python -m benchmarks.decisions.encoder_setting whole_image_max_pixels=0 --mosaics 1.5,6
    python -m benchmarks.decisions.encoder_setting lzma_skip_ratio=inf --tools classical --jobs 1 \
        --folders default --mosaics 0.4 [--npy runs/cifar10/test.npy --step 20]

Each image is compressed with ``flowzip.settings.DEFAULT_SETTINGS`` and with one field of it changed (``NAME=VALUE``,
a number or ``inf``), both decoded and checked, and each set's bytes and seconds printed, with the image
that the shipped setting costs most on. The questions it has answered (``models/README.md`` and
``docs/format.md`` quote them):

- ``whole_image_max_pixels=0``: the classical coder's try on the whole image after the tiles (kept if
  shorter), off; on the speed benchmark's mosaics of training photos.
- ``whole_image_for_photos=1``: that try also where the context coder took every tile; on the dev sets.
- ``lzma_skip_ratio=inf``: LZMA2's strongest preset always run, not only where preset 3 came within the ratio of
  the context coder (single planes always get it); the classical coder alone on one thread, on the dev sets and
  ``runs/synthetic`` (``benchmarks/data/synthetic.py``), every mode kept as ``flowzip bench --native`` does.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path

import numpy as np

import flowzip
from benchmarks.paths import CBSD68, DEV, RUNS
from benchmarks.speed import GRIDS, mosaic
from flowzip.container import TILE_TOOLS
from flowzip.images import IMAGE_SUFFIXES, open_image
from flowzip.learned.zoo import LARGE_IMAGE_MODEL
from flowzip.settings import DEFAULT_SETTINGS, EncoderSettings

FOLDERS = (CBSD68, DEV / "set5", DEV / "set14", DEV / "waterloo", RUNS / "synthetic")


def changed_setting(assignment: str, tools: tuple[str, ...]) -> EncoderSettings:
    """The settings with ``tools`` and the one field that ``NAME=VALUE`` names changed."""
    name, _, value = assignment.partition("=")
    fields = {f.name: f for f in dataclasses.fields(EncoderSettings)}
    if name not in fields or name == "tools" or not value:
        raise SystemExit(f"expected NAME=VALUE with NAME among {sorted(set(fields) - {'tools'})}")
    current = getattr(DEFAULT_SETTINGS, name)
    number = math.inf if value == "inf" else type(current)(float(value)) if current != math.inf else float(value)
    return dataclasses.replace(DEFAULT_SETTINGS, tools=tools, **{name: number})


def code(image: object, settings: EncoderSettings, model: str, jobs: int | None) -> tuple[int, float, float]:
    """(file bytes, encode seconds, decode seconds) of ``image`` under ``settings``; the decode is checked."""
    start = time.perf_counter()
    data = flowzip.compress(image, model=model, jobs=jobs, settings=settings)
    middle = time.perf_counter()
    decoded = flowzip.decompress(data, model=model, jobs=jobs)
    end = time.perf_counter()
    assert np.array_equal(np.asarray(decoded), np.asarray(image)), "decode differs"
    return len(data), middle - start, end - middle


def measure(name: str, images: list[tuple[str, object]], both: list[EncoderSettings], model: str, jobs) -> None:
    """One table row for a set of (label, image): shipped and changed settings."""
    totals = np.zeros((2, 3))
    worst = (-math.inf, "")
    for label, image in images:
        shipped, changed = (code(image, s, model, jobs) for s in both)
        totals += [shipped, changed]
        worst = max(worst, (shipped[0] / changed[0] - 1, label))
    (s_bytes, s_enc, s_dec), (c_bytes, c_enc, c_dec) = totals
    print(
        f"| {name} | {len(images)} | {s_bytes:,.0f} | {c_bytes:,.0f} ({c_bytes / s_bytes - 1:+.3%}) | {s_enc:.1f}, "
        f"{s_dec:.1f} | {c_enc:.1f} ({c_enc / s_enc:.2f}x), {c_dec:.1f} ({c_dec / s_dec:.2f}x) | {worst[1]} "
        f"{worst[0]:+.3%} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("setting", help="NAME=VALUE, a field of flowzip.settings.EncoderSettings")
    parser.add_argument("--tools", default=",".join(DEFAULT_SETTINGS.tools), help="tile tools to try")
    parser.add_argument("--model", default=LARGE_IMAGE_MODEL)
    parser.add_argument("--jobs", type=int, help="cores (default: all)")
    parser.add_argument("--folders", nargs="*", default=[], help="image folders ('default': the dev sets, synthetic)")
    parser.add_argument("--mosaics", default="", help=f"speed mosaics among {','.join(GRIDS)}")
    parser.add_argument("--npy", type=Path, help="also images (N, H, W, 3) of this .npy file, every --step-th")
    parser.add_argument("--step", type=int, default=20)
    args = parser.parse_args()
    tools = tuple(t for t in args.tools.split(",") if t in TILE_TOOLS)
    both = [dataclasses.replace(DEFAULT_SETTINGS, tools=tools), changed_setting(args.setting, tools)]
    flowzip.compress(np.zeros((64, 64, 3), np.uint8), model=args.model)  # load and compile everything first
    print(f"shipped: {both[0]}\nchanged: {both[1]}\n")
    print(
        "| images | files | bytes, shipped | bytes, changed | encode s, decode s: shipped | encode s, decode s: "
        "changed | shipped setting costs most on |\n|---|---|---|---|---|---|---|"
    )
    run = {"both": both, "model": args.model, "jobs": args.jobs}
    folders = list(FOLDERS) if args.folders == ["default"] else [Path(f) for f in args.folders]
    for folder in folders:
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        measure(folder.name, [(p.name, open_image(p)) for p in paths], **run)
    if args.npy:
        arrays = np.load(args.npy, mmap_mode="r")[:: args.step]
        measure(f"{args.npy.name}[::{args.step}]", [(str(k), np.array(a)) for k, a in enumerate(arrays)], **run)
    for size in filter(None, args.mosaics.split(",")):
        measure(f"speed mosaic {size} MP", [("mosaic", mosaic(GRIDS[size]))], **run)


if __name__ == "__main__":
    main()
