"""The shipped models (flowzip.learned.zoo): load safely, code at their likelihood, and round-trip real photos."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import flowzip
from flowzip.container import MODEL_ID_BYTES, SHIPPED_MODEL_IDS, read_container
from flowzip.errors import FlowzipError
from flowzip.learned.zoo import (
    LARGE_IMAGE_MODEL,
    SMALL_IMAGE_MODEL,
    default_model,
    load_model,
    load_model_file,
    shipped_model_hashes,
)
from flowzip.tiles import FLOW
from flowzip.tiles.flow import encode_flow_tile

from conftest import shared_data

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample.png"


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _rate_overhead(crop: np.ndarray) -> float:
    """Coded payload bits over the model's -log2 likelihood, minus one."""
    model = load_model(LARGE_IMAGE_MODEL)
    x = torch.from_numpy(crop.copy()).permute(2, 0, 1)[None].to(torch.float64)
    with torch.no_grad():
        model_bits = model.flow.code_length_bits(x).item()
    return 8 * len(encode_flow_tile(model, crop)) / model_bits - 1


@pytest.mark.parametrize("name", flowzip.shipped_model_names())
def test_every_shipped_model_has_a_card(name: str) -> None:
    assert LARGE_IMAGE_MODEL in flowzip.shipped_model_names()
    card = (ROOT / "models" / "README.md").read_text()
    section = card.split(f"\n## {name}\n")[1].split("\n## ")[0]
    assert f"**Model id:** `{load_model(name).short_id}`" in section
    assert (ROOT / "models" / f"{name}.fzm").stat().st_size < 20 * 2**20


def test_the_index_lists_every_shipped_model_with_its_hash() -> None:
    """``flowzip info`` and the decoder find models by the index: it must say what the files hold."""
    assert {n: load_model(n).weights_hash for n in flowzip.shipped_model_names()} == shipped_model_hashes()


def test_every_shipped_model_has_a_number_for_the_header() -> None:
    """Files name a shipped model by its number (format 6): a new shipped model must be appended to the table."""
    ids = [h[:MODEL_ID_BYTES] for h in shipped_model_hashes().values()]
    assert sorted(ids) == sorted(SHIPPED_MODEL_IDS)


def test_payload_matches_likelihood_on_the_sample() -> None:
    crop = _rgb(SAMPLE)[64:128, 96:160]
    assert 0 <= _rate_overhead(crop) < 0.01


def test_payload_matches_likelihood_on_dev_photos() -> None:
    folder = shared_data("dev", "cbsd68")
    for path in sorted(folder.iterdir())[:3]:
        crop = _rgb(path)[100:164, 100:164]
        assert 0 <= _rate_overhead(crop) < 0.01, path.name


def test_sample_round_trip() -> None:
    image = Image.open(SAMPLE)
    assert np.array_equal(np.asarray(flowzip.decompress(flowzip.compress(image))), np.asarray(image))


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("set5", "bird.png"),
        ("set14", "comic.png"),
        ("waterloo", "camera.png"),
        ("waterloo", "france.png"),
        ("cbsd68", "101085.webp"),
    ],
)
def test_dev_images_round_trip(folder: str, name: str) -> None:
    """Real files, every mode they come in (crops of the large ones keep the test fast on a CPU)."""
    with Image.open(shared_data("dev", folder, name)) as im:
        im.load()
    image = im.crop((0, 0, min(im.width, 160), min(im.height, 120))) if im.mode in ("RGB", "RGBA") else im
    out = flowzip.decompress(flowzip.compress(image))
    assert out.mode == image.mode and np.array_equal(np.asarray(out), np.asarray(image))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")  # the hostile file is a raw pickle
def test_model_files_are_loaded_without_executing_code(tmp_path: Path) -> None:
    import pickle

    class Boom:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "executed",))

    evil = tmp_path / "evil.fzm"
    evil.write_bytes(pickle.dumps(Boom()))
    torch.save({"payload": Boom()}, tmp_path / "evil2.fzm")
    for path in (evil, tmp_path / "evil2.fzm"):
        with pytest.raises(FlowzipError, match="not a flowzip model file"):
            load_model_file(path)
    assert not (tmp_path / "executed").exists()


@pytest.mark.parametrize("model", ["photo-c7c8e0d3", "photo-ac451c9d", "cifar10-815fd2ca", "cifar10-2b918685"])
def test_files_written_with_an_earlier_default_model_still_decode(model: str) -> None:
    """Retrained models get new ids; the models that wrote earlier files stay shipped, and are found by id.
    (the cifar10-* files were written with ``tools=("flow",)``: the classical coder codes this crop shorter.)"""
    data = (ROOT / "tests" / "models" / f"written-by-{model}.fzi").read_bytes()
    header, sections = read_container(data)
    assert header.model_id.hex() == model.rsplit("-", 1)[1]
    assert header.version == 1 or sections[0][:1] == FLOW  # a flow tile (format 1 had no other): needs the model
    pixels = flowzip.decompress(data)
    assert pixels.shape == (48, 64, 3)
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == (
        "15ec194bff261ce2e7d216336bdffb0eb22af42070406e54d48d79d5a5dae164"
    )  # crop [40:88, 60:124] of examples/sample.png


@pytest.mark.parametrize("size", [(32, 32), (64, 48), (65, 20)])
def test_compress_without_a_model_uses_the_default_model_of_its_size(size: tuple[int, int]) -> None:
    """The rule of zoo.default_model: the pixel model up to 64x64, photo above. The file names the model it was
    coded with, so decoding needs no rule; a named model is always the one used."""
    photo = np.asarray(Image.open(ROOT / "examples" / "sample.png").convert("RGB"))
    image = np.ascontiguousarray(photo[40 : 40 + size[0], 60 : 60 + size[1]])
    expected = SMALL_IMAGE_MODEL if max(size) <= 64 else LARGE_IMAGE_MODEL
    assert default_model(size[1], size[0]) == expected
    tools = ("raw", "flow")  # the flow codes every tile, so the model matters
    data = flowzip.compress(image, tools=tools)
    assert data == flowzip.compress(image, model=expected, tools=tools)
    for name in (LARGE_IMAGE_MODEL, SMALL_IMAGE_MODEL):
        named = flowzip.compress(image, model=name, tools=tools)
        assert flowzip.read_header(named).model_id.hex() == load_model(name).short_id
        assert (named == data) == (name == expected)
    assert np.array_equal(flowzip.decompress(data), image)
