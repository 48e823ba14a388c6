"""Files decode exactly when the decoder's numeric code path differs from the encoder's (docs/exactness.md).

Encoder and decoder run in separate processes: vectorised (native) against plain ATen kernels, MKL limited
to SSE4.2 against native (AVX-512 here), 1 against 2 threads, tiles one at a time against in parallel, and
flowzip's tap-by-tap matrix-product convolutions against PyTorch's im2col ``F.conv2d`` on contiguous and
channels-last tensors. Every pairing must give the same file and decode it to the same pixels.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from flowzip.learned.zoo import LARGE_IMAGE_MODEL, Model

from conftest import make_image

WORKER = Path(__file__).with_name("codepath_worker.py")
PATHS = {
    "native": ({}, []),
    "aten-default": ({"ATEN_CPU_CAPABILITY": "default"}, []),
    "mkl-sse42": ({"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}, []),
    "1-thread": ({}, ["--threads", "1", "--jobs", "1"]),
    "2-threads": ({}, ["--threads", "2", "--jobs", "1"]),
    "conv2d": ({}, ["--conv2d"]),
    "conv2d-channels-last": ({}, ["--conv2d", "--channels-last"]),
}
PAIRS = [
    ("native", "aten-default"),
    ("aten-default", "native"),
    ("native", "mkl-sse42"),
    ("mkl-sse42", "conv2d-channels-last"),
    ("1-thread", "2-threads"),
    ("conv2d", "1-thread"),
    ("native", "conv2d"),
]


def _run(action: str, path: str, source: Path, target: Path, model: str) -> None:
    """Run the worker on a code path, and check that the path really was taken."""
    env_extra, args = PATHS[path]
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")}
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


@pytest.fixture(scope="module", params=["tiny", LARGE_IMAGE_MODEL])
def setup(request: pytest.FixtureRequest, tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("codepaths")
    image = make_image("photo", 70, 100, seed=4)  # two tile rows and columns at tile size 64
    np.save(folder / "image.npy", image)
    model = str(tiny_model_path) if request.param == "tiny" else LARGE_IMAGE_MODEL
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


@pytest.mark.parametrize("path", sorted(PATHS))
def test_corpora_decode_on_every_code_path(tmp_path: Path, path: str) -> None:
    """Every file of the compatibility and conformance corpora decodes to its record on this code path."""
    _run("corpus", path, Path("-"), tmp_path / "found.json", "-")
    found = json.loads((tmp_path / "found.json").read_text())
    assert len(found) > 100 and {name: m for name, m in found.items() if m} == {}


def test_batch_of_tiles_matches_one_tile(tiny_model: Model) -> None:
    tiles = torch.from_numpy(np.stack([make_image("photo", 32, 32, seed=s) for s in range(3)])).permute(0, 3, 1, 2)
    x = tiles.to(torch.float64)
    with torch.no_grad():
        batched = tiny_model.flow(x)
        for i in range(3):
            single = tiny_model.flow(x[i : i + 1])
            for b, s in zip(batched, single, strict=True):
                assert torch.equal(b.symbols[i : i + 1], s.symbols)
                assert torch.equal(b.mean[i : i + 1], s.mean) and torch.equal(b.scale[i : i + 1], s.scale)


# C math functions whose last bit differs between libm implementations
_LIBM = {"erf", "erfc", "exp", "exp2", "expm1", "log", "log2", "log1p", "pow", "cbrt", "lgamma", "tgamma", "tanh"}
_X87 = {"fld", "fst", "fstp", "fild", "fistp", "fadd", "faddp", "fmul", "fmulp", "fdiv", "fdivp", "fsqrt", "fyl2x"}


@pytest.mark.skipif(
    platform.system() != "Linux"
    or platform.machine() != "x86_64"
    or not (shutil.which("nm") and shutil.which("objdump")),
    reason="inspects the x86-64 Linux build of constriction with binutils (nm, objdump)",
)
def test_constriction_computes_probabilities_with_ieee_basic_operations_only() -> None:
    """constriction turns (mean, scale) into 24-bit probabilities with its own compiled CDF code. That code is
    the same on every x86-64 CPU only if it calls no libm, never uses fused multiply-add or x87 extended
    precision, picks no instruction set at run time (no VEX/AVX code) and leaves the rounding mode alone;
    then every operation is an IEEE-754 correctly rounded one (docs/exactness.md)."""
    import constriction

    (library,) = Path(constriction.__file__).parent.glob("constriction*.so")
    imports = subprocess.run(["nm", "-D", "--undefined-only", str(library)], capture_output=True, text=True, check=True)
    imported = {line.split()[-1].split("@")[0] for line in imports.stdout.splitlines() if line.strip()}
    assert not imported & _LIBM, f"constriction calls the system libm: {sorted(imported & _LIBM)}"
    code = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(library)], capture_output=True, text=True)
    mnemonics = {fields[1] for line in code.stdout.splitlines() if len(fields := line.split("\t")) > 1 and fields[1]}
    mnemonics = {m.split()[0] for m in mnemonics if m.split()}
    assert "mulsd" in mnemonics and "divsd" in mnemonics  # the disassembly did find the scalar float code
    assert not {m for m in mnemonics if "fmadd" in m or "fmsub" in m}, "fused multiply-add"
    assert not {m for m in mnemonics if m.startswith("v")}, "VEX-encoded (AVX) code: an instruction-set dispatch"
    assert not mnemonics & _X87, "x87 extended-precision arithmetic"
    assert "ldmxcsr" not in mnemonics, "changes the rounding mode or flush-to-zero"
