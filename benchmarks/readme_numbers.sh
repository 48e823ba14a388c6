#!/usr/bin/env bash
# Every number in the README's results, from scratch: prepares the data sets, then runs each measurement.
#
#     bash benchmarks/readme_numbers.sh [OUT]      (default OUT: runs/results; about 30 minutes on 2 cores)
#
# Needs ../shared/data and the optional imagecodecs package (pip install -e '.[jxl]'). Each table is written to
# OUT/*.md as printed, with every per-image number in OUT/*.json. Nothing else should run meanwhile: the speed
# table is timing.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/results}"
mkdir -p "$out"
data=../shared/data

python -m benchmarks.data.cifar10 --out runs/cifar10                        # CIFAR-10 test set as .npy
python -m benchmarks.data.crops "$data/dev/cbsd68" --size 32 --per-image 16 --out runs/cbsd68-crops32.npy
python -m benchmarks.data.synthetic --out runs/synthetic                    # drawings, text, charts, palettes

flowzip bench "$data/dev/cbsd68" --compare png,webp,jpegls,jxl,jxl-e9 --json "$out/cbsd68.json" -f | tee "$out/cbsd68.md"
for set in set5 set14; do
    flowzip bench "$data/dev/$set" --compare png,webp,jpegls,jxl,jxl-e9 --json "$out/$set.json" -f | tee "$out/$set.md"
done
flowzip bench runs/cbsd68-crops32.npy --compare png,webp,jpegls,jxl --json "$out/cbsd68-crops32.json" -f \
    | tee "$out/cbsd68-crops32.md"
flowzip bench runs/cifar10/test.npy --compare png,webp,jxl --json "$out/cifar10.json" -f \
    | tee "$out/cifar10.md"
flowzip bench runs/synthetic --native --compare png,webp,jxl --json "$out/synthetic.json" -f | tee "$out/synthetic.md"
flowzip bench "$data/dev/waterloo" --native --compare png,webp,jxl,jxl-e9 --json "$out/waterloo.json" -f \
    | tee "$out/waterloo.md"
python -m benchmarks.photo_sets "$out" | tee "$out/photo-sets.md"       # the dev sets' colour photos together
python -m benchmarks.rate | tee "$out/rate.md"
python -m benchmarks.deep_table --photos 3 | tee "$out/deep.md"               # 16-bit images
python -m benchmarks.speed | tee "$out/speed.md"
