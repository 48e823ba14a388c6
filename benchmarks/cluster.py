"""Coding files on a Dask cluster against the local process pool: throughput, and the cost of a task.

    python -m benchmarks.cluster [--images N] [--side S] [--repeat R]

Writes N images of S x S pixels (default 400 of 32 x 32: crops of CBSD68's photos, where scheduling costs most)
to a temporary folder and compresses them all, as ``flowzip compress -r`` does (``batch.run_tasks``), with the
local process pool of 1 and 2 processes and on a ``LocalCluster`` of 1 and 2 worker processes of one thread
each, with Dask's default workers and with their memory allocator set as ``TUNED_ALLOCATOR`` says, files
grouped into tasks as the command line groups them (``cluster.batches``) and, to show what that saves, one file a
task. Each way is timed after a warm-up run of the same kind (a cluster's workers, like the pool's processes,
import PyTorch and numba and load the model once), best of R. Prints seconds, images per second, and for the
cluster the ratio to the pool with as many cores and the extra time per image. Every way must write the same
bytes (checked).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.paths import CBSD68
from flowzip.frontends.batch import Task, compress_file, failed_result, guarded, run_tasks
from flowzip.frontends.cluster import map_on_cluster

# Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536 (distributed.nanny.pre-spawn-environ), which turns off
# glibc's adaptive mmap threshold: each large temporary array is then mapped and unmapped anew. These settings
# (README, "On a Dask cluster", gives them as DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON) give it its reuse back.
TUNED_ALLOCATOR = {"MALLOC_TRIM_THRESHOLD_": str(256 << 20), "MALLOC_MMAP_THRESHOLD_": str(32 << 20)}


def _crops(folder: Path, count: int, side: int) -> list[Path]:
    """``count`` crops of ``side`` pixels from CBSD68's photos, on a grid, as PNG files in ``folder``."""
    paths = []
    photos = sorted(CBSD68.glob("*.webp"))
    for k in range(count):
        with Image.open(photos[k % len(photos)]) as photo:
            pixels = np.asarray(photo.convert("RGB"))
        rows, cols = pixels.shape[0] // side, pixels.shape[1] // side
        cell = (k // len(photos)) % (rows * cols)
        i, j = divmod(cell, cols)
        path = folder / f"{k:05d}.png"
        Image.fromarray(pixels[i * side : (i + 1) * side, j * side : (j + 1) * side]).save(path)
        paths.append(path)
    return paths


def _tasks(paths: list[Path], out: Path) -> list[Task]:
    out.mkdir()
    return [Task(str(p), str(out / p.with_suffix(".fzi").name), force=False, model=None) for p in paths]


def _timed(run, paths: list[Path], work: Path, name: str, repeat: int) -> tuple[float, dict[str, bytes]]:
    """The best of ``repeat`` timed runs of ``run(tasks)`` after a warm-up, and the files the last wrote."""
    best = float("inf")
    for attempt in range(repeat + 1):
        out = work / f"{name}-{attempt}"
        tasks = _tasks(paths if attempt else paths[:8], out)
        start = time.perf_counter()
        run(tasks)
        if attempt:
            best = min(best, time.perf_counter() - start)
    return best, {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--side", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    import dask
    from dask.distributed import LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "in").mkdir()
        paths = _crops(work / "in", args.images, args.side)
        print(f"{len(paths)} images of {args.side}x{args.side} pixels (crops of CBSD68), best of {args.repeat}")
        print("| way | cores | seconds | images/s | vs the pool | extra ms per image |")
        print("|---|---|---|---|---|---|")
        pool, reference = {}, None
        for cores in (1, 2):
            seconds, files = _timed(
                lambda t, c=cores: run_tasks(compress_file, t, c, -1), paths, work, f"pool{cores}", args.repeat
            )
            pool[cores], reference = seconds, reference or files
            assert files == reference, "the pool wrote other bytes"
            print(f"| local pool | {cores} | {seconds:.2f} | {len(paths) / seconds:.1f} | 1.00 | 0 |", flush=True)
        for cores, grouped, tuned in (
            (1, True, False),
            (2, True, False),
            (2, False, True),
            (1, True, True),
            (2, True, True),
        ):
            allocator = TUNED_ALLOCATOR if tuned else {}
            with (
                dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in allocator.items()}),
                LocalCluster(n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            ):
                address = cluster.scheduler_address

                def run(tasks: list[Task], address: str = address, grouped: bool = grouped) -> None:
                    if grouped:  # as the command line groups them (TASK_BUDGET, TASK_MOST)
                        assert run_tasks(compress_file, tasks, 1, -1, address) == 0
                    else:
                        for _, r in map_on_cluster(partial(guarded, compress_file), tasks, address, failed_result):
                            assert r.error is None, r.error

                seconds, files = _timed(run, paths, work, f"cluster{cores}-{grouped}-{tuned}", args.repeat)
            assert files == reference, "the cluster wrote other bytes"
            extra = 1000 * (seconds - pool[cores]) / len(paths) * cores
            way = "Dask, " + ("files grouped into tasks" if grouped else "1 file a task")
            way += ", workers' allocator tuned" if tuned else ", Dask's default workers"
            rate, ratio = len(paths) / seconds, seconds / pool[cores]
            print(f"| {way} | {cores} | {seconds:.2f} | {rate:.1f} | {ratio:.2f} | {extra:.1f} |", flush=True)


if __name__ == "__main__":
    main()
