"""Property-based round trips over what users feed a codec: every file flowzip writes decodes exactly.

Sizes from 1x1 up, most of them 1 to 70 pixels a side (the pixel model's range, the tile and stride edges), a
few near tile edges and larger; every mode, and numpy arrays; content that drives each tool to its extremes
(``conftest.CONTENTS``: constant, two colours, few colours, a repeated pattern, gradients, noise, photo-like
crops, text); every shipped model named explicitly, the default rule and a test model; a few tile sizes and
job counts. A case either decodes to exactly what was compressed or is refused at compress time with a
one-line ``FlowzipError``: nothing here should be refused.

Profiles (``FLOWZIP_HYPOTHESIS``): ``ci`` (the default) replays the same examples every run, in minutes;
``long`` draws fresh ones, many more, up to large images, and keeps what fails in Hypothesis' database. What a
run finds becomes an ``@example`` here.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

import flowzip
from flowzip.codec import coding_paths
from flowzip.learned.zoo import load_model, shipped_model_names
from flowzip.tiles.flow import decode_flow_tile, encode_flow_tile

from conftest import CONTENTS, TINY_MODEL, make_image

settings.register_profile(
    "ci", max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
PROFILE = os.environ.get("FLOWZIP_HYPOTHESIS", "ci")
LONG = PROFILE == "long"

FORMS = ("RGB", "RGBA-opaque", "RGBA", "L", "LA", "P", "P-transparent", "1", "array2d", "array1", "array3", "array4")
EDGE_SIDES = (31, 32, 33, 63, 64, 65, 95, 127, 128, 129, 255, 256, 257)
LARGE_SIDES = (511, 1000, 1537, 2049)  # the long profile only: seconds to minutes each
MODELS = (None, *shipped_model_names(), str(TINY_MODEL))

sides = st.one_of(st.integers(1, 70), st.sampled_from(EDGE_SIDES + (LARGE_SIDES if LONG else ())))


def make_input(form: str, content: str, height: int, width: int, seed: int) -> Image.Image | np.ndarray:
    """An image of ``form`` (``FORMS``) with ``content``."""
    rgba = make_image(content, height, width, channels=4, seed=seed)
    if form.startswith("array"):
        return rgba[:, :, 0] if form == "array2d" else np.ascontiguousarray(rgba[:, :, : int(form[-1])])
    if form == "RGBA-opaque":
        rgba[:, :, 3] = 255
        return Image.fromarray(rgba, "RGBA")
    if form == "P-transparent":
        image = Image.fromarray(rgba[:, :, :3]).quantize(colors=1 + seed % 256)
        image.info["transparency"] = seed % len(image.getpalette() or [0]) // 3
        return image
    return Image.fromarray(rgba, "RGBA").convert(form)


def assert_same(out: object, image: object) -> None:
    assert type(out) is type(image)
    if isinstance(image, Image.Image):
        assert isinstance(out, Image.Image)
        assert (out.mode, out.size) == (image.mode, image.size)
        assert out.getpalette() == image.getpalette()
        assert out.info.get("transparency") == image.info.get("transparency")
    assert np.array_equal(np.asarray(out), np.asarray(image))
    assert np.asarray(out).dtype == np.asarray(image).dtype


@settings(settings.get_profile(PROFILE))
@given(
    height=sides,
    width=sides,
    form=st.sampled_from(FORMS),
    content=st.sampled_from(CONTENTS),
    seed=st.integers(0, 2**16),
    model=st.sampled_from(MODELS),
    tile_size=st.sampled_from([32, 64, 256]),
    jobs=st.sampled_from([1, 2]),
)
# found: the pixel model decoded nothing on a wavefront that held no position (issue 27)
@example(height=3, width=3, form="RGB", content="two-colour", seed=4, model=None, tile_size=256, jobs=1)
@example(height=7, width=3, form="array3", content="two-colour", seed=4, model="cifar10", tile_size=256, jobs=2)
# found: a flat image's classical section was shorter than the reader's old bound allowed (issue 27)
@example(height=257, width=129, form="RGB", content="constant", seed=0, model=None, tile_size=256, jobs=2)
@example(height=200, width=300, form="RGBA-opaque", content="constant", seed=5, model=None, tile_size=64, jobs=1)
@example(height=257, width=255, form="1", content="constant", seed=0, model="photo", tile_size=32, jobs=1)
def test_every_file_decodes_exactly(
    height: int, width: int, form: str, content: str, seed: int, model: str | None, tile_size: int, jobs: int
) -> None:
    image = make_input(form, content, height, width, seed)
    data = flowzip.compress(image, model=model, tile_size=tile_size, jobs=jobs)
    assert_same(flowzip.decompress(data, model=model, jobs=jobs), image)
    assert "invalid" not in " ".join(coding_paths(data))


@pytest.mark.parametrize("model", [m for m in MODELS if m is not None])
def test_each_model_decodes_its_own_stream_of_tiny_images(model: str) -> None:
    """Every model's stream of tiny two-colour tiles decodes, whether or not ``compress`` would keep it (raw
    bytes win many of these): 1 to 17 pixels a side, where a model's stride, padding and context edges meet."""
    m = load_model(model)
    for height, width in itertools.product((1, 2, 3, 4, 5, 8, 9, 17), (1, 2, 3, 5, 8, 17)):
        tile = make_image("two-colour", height, width, seed=height * 31 + width)
        stream = encode_flow_tile(m, tile)
        assert np.array_equal(decode_flow_tile(m, stream, height, width), tile), (height, width)
