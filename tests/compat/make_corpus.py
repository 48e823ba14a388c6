"""Write the format-1 compatibility corpus (run once, when format 1 was current; never regenerate it).

    python tests/compat/make_v1.py

Every later flowzip must decode these files to the pixels recorded in manifest.json (tests/test_compat.py).
RGB data is coded with compat.fzm, a copy of the small test model (tests/models/tiny.fzm) kept beside them, so
the files depend neither on the shipped models nor on later changes to the test model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent / "v1"
sys.path.insert(0, str(HERE.parents[1]))

import flowzip  # noqa: E402
from flowzip.zoo import load_model_file  # noqa: E402

from conftest import make_image  # noqa: E402


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE.parents[1] / "models" / "tiny.fzm", HERE / "compat.fzm")
    model = load_model_file(HERE / "compat.fzm")
    rgba = make_image("photo", 37, 45, channels=4, seed=3)
    palette = Image.fromarray(rgba[:, :, :3]).quantize(colors=20)
    palette.info["transparency"] = 4
    with_icc = Image.fromarray(rgba[:, :, :3])
    with_icc.info["icc_profile"] = b"compatibility test profile bytes"
    cases = {
        "rgb-tiles.fzi": (Image.fromarray(rgba[:, :, :3]), 32),
        "rgba.fzi": (Image.fromarray(rgba, "RGBA"), 64),
        "grey.fzi": (Image.fromarray(rgba[:, :, 0]), 256),
        "grey-alpha.fzi": (Image.fromarray(rgba[:, :, :2], "LA"), 256),
        "palette.fzi": (palette, 256),
        "bilevel.fzi": (Image.fromarray(rgba[:, :, 0] > 128), 256),
        "rgb-icc.fzi": (with_icc, 256),
        "array-hwc.fzi": (rgba[:, :, :3], 32),
        "array-hw.fzi": (rgba[:, :, 1], 256),
        "noise-1x1.fzi": (make_image("noise", 1, 1), 32),
    }
    manifest = {}
    for name, (image, tile) in cases.items():
        data = flowzip.compress(image, model=model, tile_size=tile)
        (HERE / name).write_bytes(data)
        out = flowzip.decompress(data, model=model)
        pixels = np.asarray(out)
        manifest[name] = {
            "type": "array" if isinstance(out, np.ndarray) else f"image {out.mode}",
            "shape": list(pixels.shape),
            "sha256": hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest(),
            "palette_sha256": hashlib.sha256(bytes(out.getpalette() or [])).hexdigest()
            if not isinstance(out, np.ndarray)
            else None,
        }
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
