"""Where the benchmarks find their data and write their output, defined once for every script: the project's
root, ``../shared/data`` beside it (training photos, dev sets, CIFAR-10) and ``runs/``."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
TRAIN_PHOTOS = SHARED_DATA / "photos" / "train"
DEV = SHARED_DATA / "dev"
CBSD68 = DEV / "cbsd68"
RUNS = ROOT / "runs"
