"""Files decode exactly when the decoder's numeric code path differs from the encoder's (docs/exactness.md).

Encoder and decoder run in separate processes: vectorised (native) against plain ATen kernels, oneDNN
limited to SSE4.1 against native, 1 against 2 threads, channels-last against contiguous convolutions. Every
pairing must give the same file and decode it to the same pixels.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from flowzip.zoo import DEFAULT_MODEL, Model

from conftest import make_image

WORKER = Path(__file__).with_name("codepath_worker.py")
PATHS = {
    "native": ({}, []),
    "aten-default": ({"ATEN_CPU_CAPABILITY": "default"}, []),
    "onednn-sse41": ({"ONEDNN_MAX_CPU_ISA": "SSE41"}, []),
    "1-thread": ({}, ["--threads", "1"]),
    "2-threads": ({}, ["--threads", "2"]),
    "channels-last": ({}, ["--channels-last"]),
}
PAIRS = [
    ("native", "aten-default"),
    ("aten-default", "native"),
    ("native", "onednn-sse41"),
    ("onednn-sse41", "channels-last"),
    ("1-thread", "2-threads"),
    ("channels-last", "1-thread"),
]


def _run(action: str, path: str, source: Path, target: Path, model: str) -> None:
    """Run the worker on a code path, and check that the path really was taken."""
    env_extra, args = PATHS[path]
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")}
    r = subprocess.run(
        [sys.executable, str(WORKER), action, str(source), str(target), model, *args],
        env={**env, **env_extra},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    capability, threads = r.stdout.split()
    assert (capability == "DEFAULT") == (path == "aten-default")
    assert path not in ("1-thread", "2-threads") or threads == path[0]


@pytest.fixture(scope="module", params=["tiny", DEFAULT_MODEL])
def setup(request: pytest.FixtureRequest, tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("codepaths")
    image = make_image("photo", 70, 100, seed=4)  # two tile rows and columns at tile size 64
    np.save(folder / "image.npy", image)
    model = str(tiny_model_path) if request.param == "tiny" else DEFAULT_MODEL
    files = {}
    for path in {p for pair in PAIRS for p in pair}:
        _run("encode", path, folder / "image.npy", folder / f"{path}.fzi", model)
        files[path] = (folder / f"{path}.fzi").read_bytes()
    return folder, image, model, files


def test_encoders_agree(setup) -> None:
    _, _, _, files = setup
    assert len(set(files.values())) == 1, "every code path must write the same bytes"


@pytest.mark.parametrize(("encoder", "decoder"), PAIRS, ids=[f"{e}-to-{d}" for e, d in PAIRS])
def test_cross_decode(setup, encoder: str, decoder: str) -> None:
    folder, image, model, _ = setup
    out = folder / f"{encoder}-{decoder}.npy"
    _run("decode", decoder, folder / f"{encoder}.fzi", out, model)
    assert np.array_equal(np.load(out), image)


def test_batch_of_tiles_matches_one_tile(tiny_model: Model) -> None:
    tiles = torch.from_numpy(np.stack([make_image("photo", 32, 32, seed=s) for s in range(3)])).permute(0, 3, 1, 2)
    x = tiles.to(torch.float64)
    with torch.no_grad():
        batched = tiny_model.flow.latent_groups(x)
        for i in range(3):
            single = tiny_model.flow.latent_groups(x[i : i + 1])
            for b, s in zip(batched, single, strict=True):
                assert torch.equal(b.symbols[i : i + 1], s.symbols)
                assert torch.equal(b.mean[i : i + 1], s.mean) and torch.equal(b.scale[i : i + 1], s.scale)
