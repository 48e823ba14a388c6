"""Round trips through the whole codec: every content, size and mode comes back pixel for pixel."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import flowzip
from flowzip.classical import context_coded_rgb
from flowzip.codec import coding_paths
from flowzip.container import TILE_TOOLS, read_container
from flowzip.errors import FlowzipError
from flowzip.learned.zoo import Model
from flowzip.settings import EFFORTS, EncoderSettings
from flowzip.tiles import CLASSICAL, FLOW, RAW, encode_tile

from conftest import make_image

CONTENTS = ["noise", "constant", "gradient", "photo"]
SIZES = [(1, 1), (1, 7), (7, 1), (31, 33), (64, 64), (257, 129), (70, 200)]  # the last two cross 64-px tiles
TILE = 64
FLOW_ONLY = ("flow",)  # the small test model loses most tiles to the classical coder; this tests the flow


def _assert_same_image(a: Image.Image, b: Image.Image) -> None:
    assert b.mode == a.mode and b.size == a.size
    assert np.array_equal(np.asarray(a), np.asarray(b))
    if a.mode == "P":
        assert b.palette.mode == a.palette.mode and b.getpalette() == a.getpalette()
        assert b.info.get("transparency") == a.info.get("transparency")


def _pil(content: str, size: tuple[int, int], mode: str) -> Image.Image:
    rgba = make_image(content, *size, channels=4)
    return Image.fromarray(rgba, "RGBA").convert(mode)


@pytest.mark.parametrize("tools", [FLOW_ONLY, TILE_TOOLS], ids=["flow", "all-tools"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("content", CONTENTS)
def test_pil_round_trip(
    content: str, size: tuple[int, int], mode: str, tools: tuple[str, ...], tiny_model: Model
) -> None:
    image = _pil(content, size, mode)
    data = flowzip.compress(image, model=tiny_model, tile_size=TILE, tools=tools)
    _assert_same_image(image, flowzip.decompress(data, model=tiny_model))


@pytest.mark.parametrize("shape", [(5, 9), (5, 9, 1), (5, 9, 2), (33, 31, 3), (33, 31, 4)])
def test_array_round_trip_keeps_shape(shape: tuple[int, ...], tiny_model: Model) -> None:
    a = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    out = flowzip.decompress(flowzip.compress(a, model=tiny_model, tile_size=TILE), model=tiny_model)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == a.shape
    assert np.array_equal(out, a)


def test_palette_with_transparency_and_icc_round_trip(tiny_model: Model) -> None:
    image = Image.fromarray(make_image("photo", 20, 30)).quantize(colors=17)
    image.info["transparency"] = 3
    rgb = Image.fromarray(make_image("gradient", 9, 8))
    rgb.info["icc_profile"] = b"not a real profile, but kept byte for byte"
    _assert_same_image(image, flowzip.decompress(flowzip.compress(image)))
    out = flowzip.decompress(flowzip.compress(rgb, model=tiny_model), model=tiny_model)
    _assert_same_image(rgb, out)
    assert out.info["icc_profile"] == rgb.info["icc_profile"]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((4, 4), dtype=np.int16), "int16"),
        (np.zeros((4, 4, 5), dtype=np.uint8), "shape"),
        (Image.new("F", (4, 4)), "float"),
        (Image.fromarray(np.full((2, 2), -1, dtype=np.int32)), "outside 0..65535"),
        (Image.new("CMYK", (4, 4)), "unsupported image mode CMYK"),
        ("image.png", "cannot compress a str"),
    ],
)
def test_unsupported_input_is_a_clear_error(image: object, message: str) -> None:
    with pytest.raises(FlowzipError, match=message):
        flowzip.compress(image)


def test_truncations_and_bit_flips_fail_cleanly(tiny_model: Model) -> None:
    """Every cut through the header and section lengths, 40 cuts through the payload, 100 single-bit flips."""
    image = make_image("photo", 20, 40, channels=4)
    data = flowzip.compress(image, model=tiny_model, tile_size=32)
    header_end = len(data) - sum(len(s) for s in read_container(data)[1])
    for n in [*range(header_end + 1), *np.linspace(header_end + 1, len(data) - 1, 40, dtype=int)]:
        with pytest.raises(FlowzipError, match="truncated"):
            flowzip.decompress(data[:n], model=tiny_model)
    rng = np.random.default_rng(0)
    for pos in rng.choice(len(data), size=100, replace=False):
        damaged = bytearray(data)
        damaged[pos] ^= 1 << int(rng.integers(8))
        try:
            out = flowzip.decompress(bytes(damaged), model=tiny_model)
        except FlowzipError:
            continue
        assert np.array_equal(out, image), f"bit flip at byte {pos} returned wrong pixels"


def test_tiles_that_need_no_model_decode_without_it(tiny_model: Model, tmp_path: Path) -> None:
    """A file whose tiles are all classical or raw decodes without its model: here a model that is not
    installed, and in a fresh process without importing PyTorch (a screenshot's file, say)."""
    drawing = make_image("few-colours", 70, 90, seed=3)
    data = flowzip.compress(drawing, model=tiny_model, tile_size=32)
    assert "flow" not in coding_paths(data)
    assert np.array_equal(flowzip.decompress(data), drawing)
    (tmp_path / "x.fzi").write_bytes(data)
    assert not _loads_torch(
        "flowzip.decompress(path.read_bytes()); flowzip.compress(flowzip.decompress(path.read_bytes()))",
        tmp_path / "x.fzi",
    )


def _loads_torch(code: str, path: Path) -> bool:
    """Whether ``code`` (with ``flowzip``, ``EFFORTS`` and ``path`` at hand) imports PyTorch in a fresh process."""
    program = (
        "import sys, flowzip; from pathlib import Path; from flowzip.settings import EFFORTS; "
        f"path = Path(sys.argv[1]); {code}; print('torch' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", program, str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip() == "True"


def test_each_effort_tries_what_it_says(tiny_model: Model, tmp_path: Path) -> None:
    """Effort 1 never tries a learned model, and loads no PyTorch; effort 2 (the default) tries one only on
    images of at most ``flow_max_pixels``; effort 3 on any image. The files all decode."""
    from dataclasses import replace

    from flowzip.settings import DEFAULT_EFFORT, DEFAULT_SETTINGS, EFFORTS

    photo = make_image("photo", 40, 120, seed=4)  # 4,800 pixels
    assert EFFORTS[DEFAULT_EFFORT] == DEFAULT_SETTINGS and photo[..., 0].size > DEFAULT_SETTINGS.flow_max_pixels
    assert "flow" not in EFFORTS[1].tools
    for effort, image, uses_flow in ((2, photo, False), (3, photo, True), (2, photo[:32, :32], True)):
        flow_alone = replace(EFFORTS[effort], tools=("raw", "flow"))
        data = flowzip.compress(image, model=tiny_model, settings=flow_alone)
        assert ("flow" in coding_paths(data)) == uses_flow
        assert np.array_equal(flowzip.decompress(data, model=tiny_model), image)
    Image.fromarray(photo).save(tmp_path / "p.png")
    from_png = "from PIL import Image; flowzip.decompress(flowzip.compress(Image.open(path), settings=EFFORTS[1]))"
    assert not _loads_torch(from_png, tmp_path / "p.png")


def test_wrong_model_is_named(tiny_model: Model, tmp_path: Path) -> None:
    from flowzip.learned.zoo import load_model_file, save_model

    from conftest import random_flow

    other = tmp_path / "other.fzm"
    save_model(other, random_flow(tiny_model.flow.config, seed=5), "other")
    data = flowzip.compress(make_image("photo", 16, 16), model=tiny_model, tools=("flow",))
    assert coding_paths(data) == ["flow"], "a tile that needs the model"
    with pytest.raises(FlowzipError, match=f"needs model {tiny_model.short_id}"):
        flowzip.decompress(data, model=load_model_file(other))
    with pytest.raises(FlowzipError, match=f"needs model {tiny_model.short_id}"):
        flowzip.decompress(data, model=str(other))


def test_tile_coding_is_independent_of_neighbours(tiny_model: Model) -> None:
    """A tile's section depends only on its own pixels (tiles can be coded in parallel)."""
    a = make_image("photo", 64, 128)
    b = a.copy()
    b[:, 64:] = 255 - b[:, 64:]
    assert encode_tile(lambda: tiny_model, a[:, :64]) == encode_tile(lambda: tiny_model, b[:, :64])


def test_large_images_round_trip(tiny_model: Model) -> None:
    """Several tiles of a large RGB image with partial edge tiles, and a 3.6-megapixel grey image."""
    rgb = make_image("photo", 1030, 777)
    data = flowzip.compress(rgb, model=tiny_model, tile_size=512, tools=FLOW_ONLY)
    assert flowzip.read_header(data).tile_counts == (3, 2)
    assert np.array_equal(flowzip.decompress(data, model=tiny_model), rgb)
    grey = make_image("gradient", 1700, 2100, channels=1)[:, :, 0]
    assert np.array_equal(flowzip.decompress(flowzip.compress(grey)), grey)


def test_thread_count_does_not_change_the_file(tiny_model: Model) -> None:
    import torch

    image = make_image("photo", 96, 80)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = flowzip.compress(image, model=tiny_model, tools=FLOW_ONLY)
        torch.set_num_threads(2)
        two = flowzip.compress(image, model=tiny_model, tools=FLOW_ONLY)
        assert one == two
        torch.set_num_threads(1)
        assert np.array_equal(flowzip.decompress(two, model=tiny_model), image)
    finally:
        torch.set_num_threads(threads)


def test_parallel_tiles_give_the_same_file(tiny_model: Model) -> None:
    """Tiles coded on several threads: identical bytes, pixels in the right places, thread count restored."""
    import torch

    image = make_image("photo", 150, 100)
    threads = torch.get_num_threads()
    files = [flowzip.compress(image, model=tiny_model, tile_size=32, jobs=jobs, tools=FLOW_ONLY) for jobs in (1, 3)]
    assert files[0] == files[1]
    calls: list[tuple[int, int]] = []
    decoded = flowzip.decompress(files[1], model=tiny_model, jobs=3, progress=lambda *a: calls.append(a))
    assert np.array_equal(decoded, image)
    assert calls == [(k, 20) for k in range(1, 21)]
    assert torch.get_num_threads() == threads


def test_photo_tiles_go_through_the_flow(tiny_model: Model) -> None:
    """The round trips above test the flow only if the test model codes photo content below 8 bits."""
    image = make_image("photo", 70, 200)
    header, sections = read_container(flowzip.compress(image, model=tiny_model, tile_size=TILE, tools=FLOW_ONLY))
    assert [s[:1] for s in sections] == [FLOW] * len(header.rgb_tiles())


def test_each_tile_gets_the_shortest_tool(tiny_model: Model) -> None:
    """A drawing goes to the classical coder, noise is stored raw, and no tile is longer than any tool's."""
    drawing = np.zeros((64, 128, 3), dtype=np.uint8)
    drawing[10:30, 20:90] = (200, 30, 30)
    drawing[:, 64:] = make_image("noise", 64, 64)
    header, sections = read_container(flowzip.compress(drawing, model=tiny_model, tile_size=TILE))
    assert [s[:1] for s in sections] == [CLASSICAL, RAW]
    for (rows, cols), section in zip(header.rgb_tiles(), sections, strict=True):
        for tool in ("flow", "classical"):
            assert len(section) <= len(
                encode_tile(lambda: tiny_model, drawing[rows, cols], EncoderSettings(tools=(tool,)))
            )


def test_a_pixel_model_round_trips(tmp_path: Path) -> None:
    """A model with no flow levels, whose prior codes the pixels with a causal context and a joint mixture of
    logistics per position, codes tiles of any size, edge tiles included, and decodes them exactly."""
    from flowzip.learned.config import MIXTURE, FlowConfig
    from flowzip.learned.zoo import load_model_file, save_model

    from conftest import random_flow

    shape = {"mixture_components": 3, "context_hidden": 16, "context_blocks": 1}
    config = FlowConfig(levels=0, family=MIXTURE, context_radius=2, **shape)
    path = tmp_path / "pixels.fzm"
    save_model(path, random_flow(config, std=0.05), "pixels")
    model = load_model_file(path)
    image = make_image("photo", 45, 37)
    data = flowzip.compress(image, model=model, tile_size=32, tools=FLOW_ONLY)
    header, sections = read_container(data)
    assert [s[:1] for s in sections] == [FLOW] * len(header.rgb_tiles())
    assert np.array_equal(flowzip.decompress(data, model=model), image)


def test_the_classical_coder_takes_the_whole_image_when_that_is_shorter(tiny_model: Model) -> None:
    """Repeats across tiles: one tile covering the image lets LZMA2 find them (the same file on any number of
    jobs)."""
    motif = make_image("noise", 32, 32)
    image = np.tile(motif, (3, 4, 1))
    data = flowzip.compress(image, model=tiny_model, tile_size=32, jobs=2)
    assert data == flowzip.compress(image, model=tiny_model, tile_size=32, jobs=1)
    header, sections = read_container(data)
    assert header.tile_size == 128 and len(sections) == 1 and sections[0][:1] == CLASSICAL
    assert len(data) < 1.2 * motif.size and np.array_equal(flowzip.decompress(data, model=tiny_model), image)


def test_a_photo_keeps_its_tiles_unless_asked_to_try_it_whole() -> None:
    """Where the context coder takes every tile (a photo), the whole image is not tried: the tiles decode in
    parallel. ``whole_image_for_photos`` tries it, and keeps it where it is shorter."""
    photo = make_image("photo", 96, 128)
    tiled = flowzip.compress(photo, tile_size=64, settings=EFFORTS[1])
    sections = read_container(tiled)[1]
    assert len(sections) == 4 and all(s[:1] == CLASSICAL and context_coded_rgb(s[1:]) for s in sections)
    try_whole = dataclasses.replace(EFFORTS[1], whole_image_for_photos=True)
    whole = flowzip.compress(photo, tile_size=64, settings=try_whole)
    assert len(read_container(whole)[1]) == 1 and len(whole) < len(tiled)
    for data in (tiled, whole):
        assert np.array_equal(flowzip.decompress(data), photo)


def test_incompressible_tiles_are_stored(tiny_model: Model) -> None:
    """Noise costs the flow more than 8 bits per subpixel; such tiles are stored raw, so files barely grow:
    by a 16-byte header (a model that is not shipped takes 5 bytes to name), and per tile its length (2 bytes
    here) and its tool byte."""
    noise = make_image("noise", 64, 96)
    data = flowzip.compress(noise, model=tiny_model, tile_size=64)
    assert len(data) <= noise.size + 16 + 2 * 3
    assert [len(s) for s in read_container(data)[1]] == [64 * 64 * 3 + 1, 64 * 32 * 3 + 1]
    assert np.array_equal(flowzip.decompress(data, model=tiny_model), noise)


def test_progress_is_reported_per_tile(tiny_model: Model) -> None:
    calls: list[tuple[int, int]] = []
    data = flowzip.compress(
        make_image("photo", 40, 70),
        model=tiny_model,
        tile_size=32,
        progress=lambda *a: calls.append(a),
        tools=FLOW_ONLY,
    )
    assert calls == [(k, 6) for k in range(1, 7)]
    calls.clear()
    flowzip.decompress(data, model=tiny_model, progress=lambda *a: calls.append(a))
    assert calls == [(k, 6) for k in range(1, 7)]


@pytest.mark.parametrize(("mode", "key"), [("RGB", (12, 200, 7)), ("L", 77), ("1", 255), ("1", 0)])
def test_colour_key_transparency_round_trip(mode: str, key: object, tiny_model: Model) -> None:
    """PNG's tRNS of RGB, grey and bilevel images comes back, as Pillow reports it."""
    image = Image.fromarray(make_image("photo", 20, 30)).convert(mode)
    image.info["transparency"] = key
    out = flowzip.decompress(flowzip.compress(image, model=tiny_model), model=tiny_model)
    assert out.mode == mode and out.info.get("transparency") == key
    assert np.array_equal(np.asarray(out), np.asarray(image))


def test_what_is_not_kept_is_named_in_a_warning(tiny_model: Model) -> None:
    image = Image.fromarray(make_image("photo", 8, 8), "RGB").convert("RGBA")
    image.info["transparency"] = 3  # a stale key Pillow may leave on an RGBA image: its alpha says it all
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flowzip.compress(image, model=tiny_model)
    assert [(w.category, str(w.message)) for w in caught] == [
        (flowzip.FlowzipWarning, "the transparency of a RGBA image is not kept"),
    ]
    quiet = Image.fromarray(make_image("photo", 8, 8))
    quiet.info.update(gamma=0.7, chromaticity=(0.3, 0.3, 0.6, 0.3, 0.3, 0.6, 0.1, 0.1), dpi=(72, 72))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = flowzip.decompress(flowzip.compress(quiet, model=tiny_model))  # nothing lost, nothing said
    chunks = dict(flowzip.read_header(flowzip.compress(quiet, model=tiny_model)).metadata.png_chunks())
    assert chunks == {
        b"gAMA": (70000).to_bytes(4, "big"),
        b"cHRM": b"".join(v.to_bytes(4, "big") for v in (30000, 30000, 60000, 30000, 30000, 60000, 10000, 10000)),
    }
    assert out.info["dpi"] == (72.0, 72.0)


def test_tiles_are_coded_on_one_thread_each(tiny_model: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    """``jobs`` is the number of cores: tiles in parallel, each on one thread, whatever PyTorch's default
    thread count (on a busy machine its intra-op threads cost far more than they give)."""
    from flowzip import tiles

    seen = []
    real = tiles.encode_tile
    monkeypatch.setattr(tiles, "encode_tile", lambda *a: seen.append(torch.get_num_threads()) or real(*a))
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        for jobs in (1, 3):
            flowzip.compress(make_image("photo", 64, 64), model=tiny_model, tile_size=32, jobs=jobs)
            flowzip.compress(make_image("photo", 32, 32), model=tiny_model, jobs=jobs)
        assert seen == [1] * 10
        assert torch.get_num_threads() == 4, "the caller's setting is restored"
    finally:
        torch.set_num_threads(before)
