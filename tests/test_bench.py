"""``flowzip bench``: model bits per dimension, real file sizes and classical codecs on a dataset."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import flowzip
from flowzip.frontends.bench import bench, reference_codec
from flowzip.images import dataset_images
from flowzip.learned.zoo import Model

from conftest import make_image
from test_cli import run


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(make_image("photo", 40, 33, seed=1)).save(folder / "a.png")
    Image.fromarray(make_image("photo", 20, 20, channels=1, seed=2)[:, :, 0]).save(
        folder / "sub" / "grey.webp", lossless=True
    )
    np.save(tmp_path / "arrays.npy", np.stack([make_image("photo", 16, 24, seed=s) for s in range(3)]))
    (folder / "notes.txt").write_text("not an image")
    return tmp_path


def test_totals_are_real_file_sizes_and_the_model_likelihood(dataset: Path, tiny_model: Model) -> None:
    count, images = dataset_images([str(dataset / "images"), str(dataset / "arrays.npy")])
    assert count == 5  # two files found recursively (text ignored), three array rows
    images = list(images)
    assert images[1][1].shape == (20, 20, 3)  # the grey image, as RGB
    result = bench(iter(images), tiny_model, [reference_codec("png")])
    subpixels = sum(a.size for _, a in images)
    flow_bits = sum(8 * len(flowzip.compress(a, model=tiny_model)) for _, a in images)
    png = result.codecs["PNG (Pillow, optimize)"]
    flow = next(iter(result.codecs.values()))
    assert (result.images, result.subpixels, flow.bits) == (5, subpixels, flow_bits)
    assert math.isclose(result.model_bits, sum(flowzip.model_code_length(a, tiny_model) for _, a in images))
    # never more than the flow's code length and the headers (a tile the classical coder codes shorter costs less)
    assert flow.bits < result.model_bits + 8 * 64 * 5
    assert png.bits > 0 and png.encode_s > 0 and png.decode_s > 0
    data = result.to_json()
    assert data["codecs"]["PNG (Pillow, optimize)"]["bits_per_subpixel"] == png.bits / subpixels
    assert [row["name"] for row in data["per_image"]][2:] == [f"arrays.npy[{i}]" for i in range(3)]
    assert "| PNG (Pillow, optimize) |" in result.markdown()


def test_without_a_model_it_measures_what_compress_chooses() -> None:
    images = [(f"img{s}", make_image("photo", 24, 16, seed=s)) for s in range(2)]
    result = bench(iter(images), None, [])
    assert result.model == "default models" and list(result.codecs) == ["flowzip (default models)"]
    assert result.codecs["flowzip (default models)"].bits == sum(8 * len(flowzip.compress(a)) for _, a in images)
    assert math.isclose(result.model_bits, sum(flowzip.model_code_length(a) for _, a in images))


def test_a_codec_that_does_not_round_trip_stops_the_run(tiny_model: Model) -> None:
    lossy = reference_codec("png")
    broken = type(lossy)("lossy", lossy.encode, lambda data: np.asarray(lossy.decode(data)) // 2 * 2)
    with pytest.raises(flowzip.FlowzipError, match="lossy did not decode img exactly"):
        bench(iter([("img", make_image("photo", 16, 16))]), tiny_model, [broken])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing-folder"], "missing-folder: no such file or folder"),
        (["images", "--compare", "gif"], "unknown codec 'gif'"),
        (["images/notes.txt"], "not a readable image"),
        (["bad.npy"], "expected a uint8 array (N, H, W, 3)"),
    ],
)
def test_bad_input_is_one_line(dataset: Path, args: list[str], message: str, tiny_model_path: Path) -> None:
    np.save(dataset / "bad.npy", np.zeros((2, 8, 8), dtype=np.float32))
    r = run("bench", *args, "--model", str(tiny_model_path), cwd=dataset)
    assert r.returncode == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_cli_table_json_and_limit(dataset: Path, tiny_model_path: Path) -> None:
    args = ["bench", "arrays.npy", "images", "--model", str(tiny_model_path), "--compare", "png,webp"]
    r = run(*args, "--limit", "4", "--json", "out.json", cwd=dataset)
    assert r.returncode == 0, r.stderr
    table = r.stdout.decode()
    assert table.startswith("4 images, ") and "| WebP lossless (Pillow default) |" in table
    data = json.loads((dataset / "out.json").read_text())
    assert data["images"] == 4 and len(data["per_image"]) == 4
    assert data["subpixels"] == 3 * 16 * 24 * 3 + 40 * 33 * 3
    again = run(*args, "--limit", "1", "--json", "out.json", cwd=dataset)
    assert again.returncode == 1 and "out.json already exists" in again.stderr
    assert json.loads((dataset / "out.json").read_text()) == data, "an existing file is not replaced without -f"


def test_native_modes_are_coded_as_they_are(dataset: Path, tiny_model: Model) -> None:
    """--native: a grey image stays grey (the flow does not model it); PNG stores it as grey too."""
    Image.fromarray(make_image("photo", 20, 20, channels=1)[:, :, 0]).save(dataset / "grey.png")
    _, images = dataset_images([str(dataset / "grey.png"), str(dataset / "images" / "a.png")], native=True)
    result = bench(images, tiny_model, [reference_codec("png")])
    grey, rgb = result.per_image
    assert (grey["mode"], grey["subpixels"], grey["model_bits"]) == ("L", 400, None)
    assert result.model_subpixels == rgb["subpixels"] == 40 * 33 * 3
    assert "flowzip against PNG, image by image: at most" in result.markdown()
