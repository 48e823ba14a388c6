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
from flowzip.learned.zoo import Model, model_id

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
    label = f"effort 2: photo {model_id('photo').hex()}; cifar10 {model_id('cifar10').hex()} up to 64x64"
    assert result.model == label.split(": ", 1)[1] and list(result.codecs) == [f"flowzip ({label})"]
    assert result.codecs[f"flowzip ({label})"].bits == sum(8 * len(flowzip.compress(a)) for _, a in images)
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


def test_a_long_run_survives_bad_files_logs_progress_and_resumes(dataset: Path, tiny_model_path: Path) -> None:
    """An unreadable file is left out and listed, not the end of the run; without a terminal each image is a
    line on stderr; --resume codes only the images the --json file lacks, and the totals are those of one run."""
    (dataset / "images" / "broken.png").write_bytes(b"not a png")
    args = ["bench", "arrays.npy", "images", "--model", str(tiny_model_path), "--compare", "png", "--json", "r.json"]
    first = run(*args, "--limit", "3", cwd=dataset)
    assert first.returncode == 0, first.stderr
    assert first.stderr.count("bits/subpixel (all so far") == 3 and "[3/3] arrays.npy[2]" in first.stderr
    resumed = run(*args, "--resume", cwd=dataset)
    assert resumed.returncode == 0, resumed.stderr
    assert (
        "broken.png: not a readable image" in resumed.stderr and "1 files could not be read" in resumed.stdout.decode()
    )
    assert resumed.stderr.count("bits/subpixel (all so far") == 2, "only the images the first run did not code"
    assert run(*args[:-1], "whole.json", cwd=dataset).returncode == 0
    kept, fresh = (json.loads((dataset / name).read_text()) for name in ("r.json", "whole.json"))
    assert [r["name"] for r in kept["per_image"]] == [r["name"] for r in fresh["per_image"]]
    assert {name: c["bits"] for name, c in kept["codecs"].items()} == {n: c["bits"] for n, c in fresh["codecs"].items()}
    assert (
        kept["unreadable"]
        == fresh["unreadable"]
        == [f"{Path('images') / 'broken.png'}: not a readable image (unknown format)"]
    )
    other = run(*args[:6], "png,webp", "--json", "r.json", "--resume", cwd=dataset)
    assert other.returncode == 1 and "cannot resume" in other.stderr


def test_native_modes_are_coded_as_they_are(dataset: Path, tiny_model: Model) -> None:
    """--native: a grey image stays grey (the flow does not model it); PNG stores it as grey too."""
    Image.fromarray(make_image("photo", 20, 20, channels=1)[:, :, 0]).save(dataset / "grey.png")
    _, images = dataset_images([str(dataset / "grey.png"), str(dataset / "images" / "a.png")], native=True)
    result = bench(images, tiny_model, [reference_codec("png")])
    grey, rgb = result.per_image
    assert (grey["mode"], grey["subpixels"], grey["model_bits"]) == ("L", 400, None)
    assert result.model_subpixels == rgb["subpixels"] == 40 * 33 * 3
    assert "flowzip against PNG, image by image: at most" in result.markdown()
