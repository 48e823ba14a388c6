"""The installed ``flowzip`` command, run as a user would run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_image

FLOWZIP = shutil.which("flowzip") or pytest.fail("the flowzip command is not installed (pip install -e .)")


def run(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run([FLOWZIP, *args], cwd=cwd, capture_output=True, input=stdin, timeout=300)
    r.stderr = r.stderr.decode()
    return r


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    Image.fromarray(make_image("photo", 24, 40)).save(tmp_path / "a.png")
    Image.fromarray(make_image("gradient", 9, 13, channels=4), "RGBA").save(tmp_path / "b.png")
    Image.fromarray(make_image("photo", 10, 10, channels=1)[:, :, 0]).save(tmp_path / "grey.webp", lossless=True)
    return tmp_path


def _pixels(path: Path) -> tuple[str, np.ndarray]:
    with Image.open(path) as im:
        return im.mode, np.asarray(im)


def test_compress_decompress_info(workdir: Path, tiny_model_path: Path) -> None:
    originals = {name: _pixels(workdir / name) for name in ("a.png", "b.png", "grey.webp")}
    r = run("compress", "a.png", "b.png", "grey.webp", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert "a.png -> a.fzi" in r.stderr and "bits/subpixel" in r.stderr and "3 files" in r.stderr
    assert all((workdir / n).exists() for n in ("a.png", "b.png", "grey.webp")), "inputs are kept"
    info = run("info", "a.fzi", cwd=workdir)
    assert info.returncode == 0 and b"40x24 RGB" in info.stdout
    for name in originals:
        (workdir / name).rename(workdir / f"orig-{name}")
    r = run("decompress", "a.fzi", "b.fzi", "grey.fzi", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 0, r.stderr
    for name, (mode, pixels) in originals.items():
        out_mode, out = _pixels(workdir / (Path(name).stem + ".png"))
        assert out_mode == mode and np.array_equal(out, pixels)
    assert not list(workdir.glob(".*.tmp")), "no temporary files are left behind"


def test_output_option_and_no_overwrite(workdir: Path, tiny_model_path: Path) -> None:
    model = ["--model", str(tiny_model_path)]
    assert run("compress", "a.png", "-o", "x.fzi", *model, cwd=workdir).returncode == 0
    before = (workdir / "x.fzi").read_bytes()
    r = run("compress", "b.png", "-o", "x.fzi", *model, cwd=workdir)
    assert r.returncode == 1 and "already exists" in r.stderr and "Traceback" not in r.stderr
    assert (workdir / "x.fzi").read_bytes() == before, "an existing file is untouched without -f"
    assert run("compress", "b.png", "-o", "x.fzi", "-f", *model, cwd=workdir).returncode == 0
    assert (workdir / "x.fzi").read_bytes() != before
    r = run("decompress", "x.fzi", "-o", "x.webp", *model, cwd=workdir)
    assert r.returncode == 0 and np.array_equal(_pixels(workdir / "x.webp")[1], _pixels(workdir / "b.png")[1])
    r = run("decompress", "x.fzi", "-o", "x.jpg", *model, cwd=workdir)
    assert r.returncode == 1 and "lossless" in r.stderr and not (workdir / "x.jpg").exists()
    same = run("compress", "a.png", "-o", "a.png", "-f", *model, cwd=workdir)
    assert same.returncode == 1 and "would replace the input" in same.stderr
    assert _pixels(workdir / "a.png")[1].shape == (24, 40, 3), "the input is untouched"
    r = run("compress", "a.png", "b.png", "-o", "y.fzi", *model, cwd=workdir)
    assert r.returncode == 2 and not (workdir / "y.fzi").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compress", "missing.png"], "no such file"),
        (["compress", "junk.png"], "not a readable image"),
        (["compress", "junk.fzi"], "the output would replace the input"),
        (["compress", "."], "use -r"),
        (["decompress", "junk.fzi"], "not a flowzip file"),
        (["decompress", "a.png"], "unknown suffix"),
        (["info", "junk.fzi"], "not a flowzip file"),
        (["compress", "a.png", "--model", "no-such-model"], "unknown model"),
        (["compress", "a.png", "--model", "junk.fzi"], "not a flowzip model file"),
        (["compress", "a16.png"], "16-bit"),
    ],
)
def test_errors_are_one_line(workdir: Path, args: list[str], message: str) -> None:
    (workdir / "junk.fzi").write_bytes(b"this is not an image")
    (workdir / "junk.png").write_bytes(b"this is not an image either")
    Image.fromarray(np.zeros((4, 4), dtype=np.uint16)).save(workdir / "a16.png")
    before = sorted(p.name for p in workdir.iterdir())
    r = run(*args, cwd=workdir)
    assert r.returncode != 0
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert sorted(p.name for p in workdir.iterdir()) == before, "a failed run leaves nothing behind"


def test_one_failure_does_not_stop_the_rest(workdir: Path, tiny_model_path: Path) -> None:
    r = run("compress", "missing.png", "a.png", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 1 and (workdir / "a.fzi").exists()


def test_module_entry_point_and_version(workdir: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "flowzip", "--version"],
        capture_output=True,
        text=True,
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert r.returncode == 0 and r.stdout.startswith("flowzip, version ")
    assert "--recursive" in subprocess.run([FLOWZIP, "compress", "--help"], capture_output=True, text=True).stdout


def test_pipes(workdir: Path, tiny_model_path: Path) -> None:
    model = ["--model", str(tiny_model_path)]
    png = (workdir / "a.png").read_bytes()
    fzi = run("compress", "-", *model, cwd=workdir, stdin=png)
    assert fzi.returncode == 0 and fzi.stdout.startswith(b"FZ") and "<stdin> -> <stdout>" in fzi.stderr
    out = run("decompress", "-", *model, cwd=workdir, stdin=fzi.stdout)
    assert out.returncode == 0 and out.stdout.startswith(b"\x89PNG")
    (workdir / "piped.png").write_bytes(out.stdout)
    assert np.array_equal(_pixels(workdir / "piped.png")[1], _pixels(workdir / "a.png")[1])
    to_stdout = run("compress", "-c", "a.png", *model, cwd=workdir)
    assert to_stdout.stdout == fzi.stdout and not (workdir / "a.fzi").exists()
    bad = run("decompress", "-", *model, cwd=workdir, stdin=b"garbage")
    assert bad.returncode == 1 and bad.stdout == b"" and "not a flowzip file" in bad.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_folders(workdir: Path, tiny_model_path: Path, jobs: str) -> None:
    model = ["--model", str(tiny_model_path)]
    (workdir / "sub").mkdir()
    (workdir / "sub" / "c.png").write_bytes((workdir / "a.png").read_bytes())
    (workdir / "sub" / "broken.png").write_bytes(b"not a png")
    r = run("compress", "-r", ".", "-j", jobs, *model, cwd=workdir)
    assert r.returncode == 1, "one file failed"
    assert "broken.png: not a readable image" in r.stderr
    assert "4 files" in r.stderr and "1 failed" in r.stderr and "bits/subpixel" in r.stderr
    assert {p.name for p in workdir.rglob("*.fzi")} == {"a.fzi", "b.fzi", "grey.fzi", "c.fzi"}
    for p in workdir.rglob("*.png"):
        p.rename(p.with_suffix(".orig"))
    r = run("decompress", "-r", ".", "-j", jobs, *model, cwd=workdir)
    assert r.returncode == 0 and "4 files" in r.stderr and "0 failed" in r.stderr
    assert np.array_equal(_pixels(workdir / "sub" / "c.png")[1], _pixels(workdir / "a.orig")[1])
    quiet = run("decompress", "-r", ".", "-q", "-f", *model, cwd=workdir)
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == b""


def test_animated_input_keeps_the_first_frame_with_a_warning(workdir: Path, tiny_model_path: Path) -> None:
    frames = [Image.fromarray(make_image("photo", 12, 16, seed=s)).convert("P") for s in range(3)]
    frames[0].save(workdir / "anim.gif", save_all=True, append_images=frames[1:])
    r = run("compress", "anim.gif", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 0 and "3 frames, only the first is compressed" in r.stderr
    r = run("decompress", "anim.fzi", "--model", str(tiny_model_path), cwd=workdir)
    with Image.open(workdir / "anim.gif") as first:
        assert np.array_equal(_pixels(workdir / "anim.png")[1], np.asarray(first))
