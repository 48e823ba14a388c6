"""Hostile and broken input: every decode ends in the exact image or a FlowzipError, fast and small.

The fuzz tests are time-boxed through the number of examples. In CI they replay the same examples every run;
FLOWZIP_FUZZ_EXAMPLES=N runs N times as many, freshly random (a local fuzzing campaign).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import flowzip
from flowzip.container import TILE_TOOLS, Header, read_container, write_container
from flowzip.errors import FlowzipError
from flowzip.learned.zoo import Model

from conftest import make_image

SCALE = float(os.environ.get("FLOWZIP_FUZZ_EXAMPLES", "1"))
FUZZ = settings(
    deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow], max_examples=int(400 * SCALE)
)
FUZZ_DECODE = settings(FUZZ, max_examples=int(150 * SCALE))


def _valid_files(model: Model) -> list[tuple[bytes, object]]:
    rgba = make_image("photo", 19, 37, channels=4, seed=9)
    deep = rgba.astype(np.uint16) << 8 | make_image("noise", 19, 37, channels=4)  # 16-bit: the deep coder
    images: list[object] = [rgba, rgba[:, :, :3], rgba[:, :, 0], Image.fromarray(rgba[:, :, :3]).quantize(9)]
    images += [deep[:, :, :3], deep[:, :, :2], np.array([3, 900, 60000], np.uint16)[rgba[:, :, 0] % 3]]  # and ranks
    return [(flowzip.compress(im, model=model, tile_size=32), im) for im in images]


@pytest.fixture(scope="module")
def valid_files(tiny_model: Model) -> list[tuple[bytes, object]]:
    return _valid_files(tiny_model)


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None, insert: bytes, tail: bytes) -> bytes:
    out = bytearray(data)
    for pos, value in edits:
        out[pos % len(out)] = value
    if insert:
        pos = edits[0][0] % len(out) if edits else 0
        out[pos:pos] = insert
    return bytes(out[:cut] if cut is not None else out) + tail


def _decode_is_exact_or_refused(data: bytes, original: object, model: Model) -> None:
    try:
        out = flowzip.decompress(data, model=model)
    except FlowzipError as e:
        assert "\n" not in str(e)
        return
    assert np.array_equal(np.asarray(out), np.asarray(original)), "a damaged file decoded to other pixels"


MUTATION = st.tuples(
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
    st.none() | st.integers(0, 5000),
    st.binary(max_size=8),
    st.sampled_from([b"", b"\0\0\0\0", b"\0" * 5, b"\xff"]),
)


@FUZZ
@given(st.binary(max_size=200))
def test_parser_on_random_bytes(data: bytes) -> None:
    with contextlib.suppress(FlowzipError):  # anything else escaping fails the test
        read_container(data)


@FUZZ
@given(st.integers(0, 3), MUTATION)
def test_parser_on_mutated_files(valid_files: list, which: int, mutation: tuple) -> None:
    with contextlib.suppress(FlowzipError):
        read_container(_mutate(valid_files[which][0], *mutation))


@FUZZ_DECODE
@given(st.integers(0, 3), MUTATION)
def test_decoder_on_mutated_files(valid_files: list, tiny_model: Model, which: int, mutation: tuple) -> None:
    data, original = valid_files[which]
    _decode_is_exact_or_refused(_mutate(data, *mutation), original, tiny_model)


@pytest.mark.parametrize(
    ("width", "height", "tile_log2"),
    [(100_000, 100_000, 8), (4096, 4096, 12), (1 << 20, 1, 5), (65_536, 65_536, 5)],  # the last: 4 M tiles
)
def test_forged_sizes_are_refused_quickly(width: int, height: int, tile_log2: int) -> None:
    """A tiny file claiming a huge image is refused before any allocation, in milliseconds."""
    header = Header(width, height, "RGB", "image", tile_log2, 0, b"abcd")
    forged = write_container(Header(1, 1, "RGB", "image", tile_log2, 0, b"abcd"), [b"x" * 10])
    forged = forged[:4] + write_container(header, [b""] * header.section_count)[4:10] + forged[6:]
    start = time.perf_counter()
    with pytest.raises(FlowzipError):
        flowzip.decompress(forged)
    with pytest.raises(FlowzipError):
        flowzip.decompress(forged, max_pixels=None)
    assert time.perf_counter() - start < 1.0


def test_pixel_limit_can_be_raised(tiny_model: Model) -> None:
    data = flowzip.compress(make_image("gradient", 40, 50, channels=1)[:, :, 0])
    with pytest.raises(FlowzipError, match="over the limit"):
        flowzip.decompress(data, max_pixels=1999)
    assert flowzip.decompress(data, max_pixels=2000).shape == (40, 50)


def test_short_flow_sections_are_refused() -> None:
    """A flow section too short for its tile's latents is refused by the reader (FLOW_SYMBOLS_PER_BYTE); a plane
    section that short is a flat plane's, which decoding bounds by the pixel limit alone."""
    flow = bytes([TILE_TOOLS.index("flow")])
    header = Header(4096, 4096, "RGB", "image", 12, 0, b"abcd")
    with pytest.raises(FlowzipError, match="cannot hold"):
        read_container(write_container(header, [flow + b"\1" * 100]))
    read_container(write_container(Header(4096, 4096, "L", "image", 12, 0), [b"\7"]))


@pytest.mark.parametrize("force", [False, True])
def test_concurrent_compressions_do_not_corrupt(tmp_path: Path, force: bool) -> None:
    flowzip_cmd = shutil.which("flowzip")
    Image.fromarray(make_image("photo", 64, 96)).save(tmp_path / "in.png")
    args = [flowzip_cmd, "compress", "in.png", "-o", "out.fzi", "-q"] + (["-f"] if force else [])
    procs = [subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert any(rc == 0 for rc, _ in results)
    if not force:
        assert all(rc == 0 or "already exists" in err for rc, err in results)
    out = flowzip.decompress_image((tmp_path / "out.fzi").read_bytes())
    assert np.array_equal(np.asarray(out), np.asarray(Image.open(tmp_path / "in.png")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.fzi"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "not a readable image"), (b"\x89PNG\r\n\x1a\n" + b"\0" * 30, "not a readable image")],
)
def test_broken_image_inputs(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "x.png").write_bytes(content)
    r = subprocess.run([shutil.which("flowzip"), "compress", "x.png"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 1 and message in r.stderr and not (tmp_path / "x.fzi").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_input(tmp_path: Path) -> None:
    Image.fromarray(make_image("photo", 8, 8)).save(tmp_path / "x.png")
    (tmp_path / "x.png").chmod(0)
    r = subprocess.run([shutil.which("flowzip"), "compress", "x.png"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 1 and "permission denied" in r.stderr
