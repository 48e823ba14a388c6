#!/usr/bin/env bash
# Set up flowzip in .venv (if needed) and compress + decompress the sample image with the default model.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-venv.sh
# A regular (not editable) install, built from a copy: building in place would leave build/ in the checkout.
src=$(mktemp -d)
tar --exclude=./.venv --exclude=./.git --exclude=./runs -cf - . | tar -xf - -C "$src"
python -m pip install --quiet "$src"
rm -rf "$src"
out=$(mktemp -d)
flowzip compress examples/sample.png -o "$out/sample.fzi"
flowzip info "$out/sample.fzi"
flowzip decompress "$out/sample.fzi" -o "$out/sample.png"
python - "$out/sample.png" <<'PY'
import sys
import numpy as np
from PIL import Image
same = np.array_equal(np.asarray(Image.open("examples/sample.png")), np.asarray(Image.open(sys.argv[1])))
print("decoded pixels identical to the original:", same)
sys.exit(0 if same else 1)
PY
rm -rf "$out"
