"""Pillow opens and saves .fzi files after ``import flowzip``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import flowzip
from flowzip.errors import FlowzipError
from flowzip.learned.zoo import Model

from conftest import make_image


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1"])
def test_save_and_open(mode: str, tmp_path: Path, tiny_model: Model, tiny_model_path: Path) -> None:
    image = Image.fromarray(make_image("photo", 21, 34, channels=4), "RGBA").convert(mode)
    image.save(tmp_path / "x.fzi", model=tiny_model, tile_size=32)
    flowzip.register_pillow_plugin(model=str(tiny_model_path))
    try:
        with Image.open(tmp_path / "x.fzi") as opened:
            assert opened.format == "FLOWZIP" and opened.mode == mode and opened.size == image.size
            assert np.array_equal(np.asarray(opened), np.asarray(image))
            assert opened.getpalette() == image.getpalette()
    finally:
        flowzip.register_pillow_plugin()


def test_metadata_go_through_pillow(tmp_path: Path, tiny_model: Model) -> None:
    """A PNG's EXIF, XMP, resolution and ICC profile saved as .fzi through Pillow are in the opened file's info
    before its pixels are decoded, as Pillow's own readers put them."""
    exif = Image.Exif()
    exif[0x010F] = "Maker"
    Image.fromarray(make_image("photo", 8, 8)).save(
        tmp_path / "x.png", exif=exif, dpi=(300, 300), icc_profile=b"profile", pnginfo=_xmp_chunk()
    )
    with Image.open(tmp_path / "x.png") as png:
        png.save(tmp_path / "x.fzi", model=tiny_model)
        with Image.open(tmp_path / "x.fzi") as opened:
            assert opened.getexif()[0x010F] == "Maker" and opened.info["xmp"] == b"<x/>"
            assert opened.info["icc_profile"] == b"profile" and opened.info["dpi"] == png.info["dpi"]


def _xmp_chunk() -> object:
    from PIL import PngImagePlugin

    chunks = PngImagePlugin.PngInfo()
    chunks.add_itxt("XML:com.adobe.xmp", "<x/>")
    return chunks


def test_open_reads_header_before_pixels(tmp_path: Path) -> None:
    """Image.open only parses the header; a damaged payload fails at load() with flowzip's message."""
    image = Image.fromarray(make_image("gradient", 16, 16, channels=1)[:, :, 0])
    image.save(tmp_path / "g.fzi")
    data = bytearray((tmp_path / "g.fzi").read_bytes())
    data[-3] ^= 0xFF
    (tmp_path / "bad.fzi").write_bytes(bytes(data))
    with Image.open(tmp_path / "bad.fzi") as opened:
        assert opened.size == (16, 16)
        with pytest.raises(flowzip.FlowzipError):
            opened.load()


def test_not_a_flowzip_file_is_left_to_other_plugins(tmp_path: Path) -> None:
    Image.fromarray(make_image("noise", 8, 8)).save(tmp_path / "x.png")
    with Image.open(tmp_path / "x.png") as opened:
        assert opened.format == "PNG"


def test_format_fzi_saves_and_warnings_point_at_the_callers_line() -> None:
    """``save(format="fzi")`` works as ``format="png"`` does, and what is not kept is a warning about the line
    that saved or compressed, not about flowzip's or Pillow's code."""
    import io
    import warnings

    image = Image.fromarray(make_image("photo", 8, 8)).convert("RGBA")
    image.info["transparency"] = 0  # not kept: the alpha is the transparency
    buffer = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image.save(buffer, format="fzi")
        flowzip.compress(image)
    assert buffer.getvalue()[:2] == b"FZ"
    assert [(Path(w.filename).name, w.category) for w in caught] == [(Path(__file__).name, flowzip.FlowzipWarning)] * 2


def test_16_bit_grey_through_pillow(tmp_path: Path) -> None:
    samples = np.random.default_rng(3).integers(0, 65536, (9, 14)).astype(np.uint16)
    Image.fromarray(samples).save(tmp_path / "grey16.fzi")
    with Image.open(tmp_path / "grey16.fzi") as image:
        assert image.mode == "I;16" and np.array_equal(np.asarray(image), samples)


def test_16_bit_colour_is_a_clear_error_in_pillow(tmp_path: Path) -> None:
    (tmp_path / "rgb16.fzi").write_bytes(flowzip.compress(np.zeros((4, 5, 3), dtype=np.uint16)))
    with pytest.raises(FlowzipError, match=r"no PIL mode: read it with flowzip\.decompress"):
        Image.open(tmp_path / "rgb16.fzi")
