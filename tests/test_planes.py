"""The classical coder: every way of coding an array decodes to it exactly, and each is chosen where it pays."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flowzip.classical import decode_plane, decode_rgb, encode_plane, encode_rgb, predicted
from flowzip.classical.context_coder import context_decode, context_encode
from flowzip.classical.lzma_coder import FAST_PRESET
from flowzip.classical.methods import (
    CONTEXT_METHODS,
    MIXED_METHODS,
    PHOTO_METHOD,
    PREDICTORS,
    TRANSFORMS,
    WARM_METHOD,
)
from flowzip.classical.predicted import encode_predicted
from flowzip.classical.state import (
    PHOTO_STATE,
    PHOTO_STATE_SHA256,
    WARM_STATE,
    WARM_STATE_CHANNELS,
    WARM_STATE_SHA256,
    MixedState,
    PhotoState,
    photo_state,
    warm_state,
)
from flowzip.classical.transforms import subtract_green
from flowzip.errors import FlowzipError
from flowzip.learned.tiny_net import (
    INPUT_BOUND,
    TINY_NET,
    TINY_NET_SHA256,
    TinyNetWeights,
    first_layer,
    from_checkpoint,
    tiny_net,
)
from flowzip.shipped import arrays_hash, load_arrays, save_arrays

from conftest import make_image, shared_data

SHAPES = [(1, 1), (1, 9), (9, 1), (17, 23)]
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("content", ["noise", "constant", "gradient", "photo"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(
    ("method", "channels"),
    [(m, c) for m in CONTEXT_METHODS for c in (1, 3) if m < WARM_METHOD or c == WARM_STATE_CHANNELS],
)
def test_context_coder_round_trip(content: str, shape: tuple[int, int], channels: int, method: int) -> None:
    """Every version (formats 2 to 4's, which old files hold, and formats 5 and 7's, which code three
    channels), on sizes down to one pixel."""
    pixels = make_image(content, *shape, channels=channels)
    coded = context_encode(pixels.copy(), 4 * pixels.size + 64, method)
    assert coded is not None and coded[0] == method
    assert np.array_equal(context_decode(coded, *pixels.shape), pixels)
    if method != CONTEXT_METHODS[0]:  # the stream ends at its last non-zero byte, so trailing zeros are damage
        with pytest.raises(FlowzipError, match="wrong length"):
            context_decode(coded + b"\0", *pixels.shape)


def test_each_context_coder_is_shorter_than_the_last() -> None:
    """Format 3's: faster adaptation and a shorter ending, most on small images, where a context sees few bits.
    Format 4's: mixing more context models. Format 5's: starting from what photos taught method 7. Format 7's:
    the photo coder."""
    for shape in [(16, 16), (96, 96)]:
        photo = subtract_green(make_image("photo", *shape))
        lengths = [len(context_encode(photo, 10 * photo.size, method) or b"") for method in CONTEXT_METHODS]
        assert lengths[4] < lengths[3] < lengths[2] < lengths[1] < lengths[0], (shape, lengths)


@pytest.mark.parametrize("method", [WARM_METHOD, PHOTO_METHOD])
def test_warm_methods_refuse_other_channel_counts(method: int) -> None:
    grey = make_image("photo", 8, 8, channels=1)
    coded = context_encode(np.repeat(grey, 3, axis=2), 1000, method)
    assert coded is not None
    with pytest.raises(FlowzipError, match="codes 3 channels"):
        context_decode(coded, 8, 8, 1)


def test_the_encoder_codes_three_channels_with_the_photo_coder() -> None:
    photo = make_image("photo", 24, 24)
    assert context_encode(photo, 10 * photo.size)[0] == PHOTO_METHOD
    assert context_encode(photo[:, :, :1], 10 * photo.size)[0] == MIXED_METHODS[0]


def test_context_coder_gives_up_when_longer_than_its_budget() -> None:
    assert context_encode(make_image("noise", 16, 16, channels=1), 100) is None


@pytest.mark.parametrize("content", ["noise", "constant", "gradient", "photo"])
def test_planes_and_rgb_round_trip(content: str) -> None:
    rgb = make_image(content, 33, 47)
    assert np.array_equal(decode_plane(encode_plane(rgb[:, :, 0]), 33, 47), rgb[:, :, 0])
    assert np.array_equal(decode_rgb(encode_rgb(rgb), 33, 47), rgb)


@pytest.mark.parametrize("transform", ["identity", "subtract green", "subtract green, centred"])
def test_every_colour_transform_decodes(transform: str) -> None:
    """Including the plain subtract green, which format 3 encoders no longer write but format 2 files hold."""
    rgb = make_image("photo", 21, 30)
    pixels = rgb if transform == "identity" else subtract_green(rgb, 128 if "centred" in transform else 0)
    data = bytes([TRANSFORMS.index(transform)]) + encode_predicted(pixels)
    assert np.array_equal(decode_rgb(data, 21, 30), rgb)


def test_each_coding_is_chosen_where_it_pays() -> None:
    """The context coder on photo-like content, LZMA2 of unpredicted pixels on repeats."""
    photo = make_image("photo", 96, 96, channels=1)[:, :, 0]
    assert encode_plane(photo)[0] == MIXED_METHODS[0]
    stripes = np.tile(np.array([0, 255, 7, 7, 90], dtype=np.uint8), (64, 30))
    assert encode_plane(stripes)[0] == PREDICTORS.index("none")


def test_the_strongest_lzma2_preset_runs_only_where_it_may_win(monkeypatch: pytest.MonkeyPatch) -> None:
    """On three channels, LZMA2's strongest preset is skipped where a fast one is far longer than the context
    coder, and run where it is not, so repeats still get the shortest coding; single planes always get it."""
    presets = []
    real = predicted.lzma_compress
    monkeypatch.setattr(
        predicted, "lzma_compress", lambda data, size, *preset: presets.append(preset) or real(data, size, *preset)
    )
    ratio = 1.0  # the test photo is smoother than real ones
    photo = make_image("photo", 96, 96)
    assert encode_predicted(photo, None, ratio)[0] == PHOTO_METHOD
    assert presets == [(FAST_PRESET,)], "a photo pays for one fast LZMA2 pass"
    presets.clear()
    encode_predicted(photo[:, :, :1].copy(), None, ratio)
    assert () in presets, "a single plane gets the strongest preset"
    presets.clear()
    stripes = np.repeat(np.tile(np.array([0, 255, 7, 7, 90], dtype=np.uint8), (64, 30))[:, :, None], 3, axis=2)
    coded = encode_predicted(stripes, None, ratio)
    assert () in presets, "repeats get the strongest preset"
    assert coded == encode_predicted(stripes, None, np.inf)


SHIPPED = [
    (WARM_STATE, MixedState, warm_state),
    (PHOTO_STATE, PhotoState, photo_state),
    (TINY_NET, TinyNetWeights, tiny_net),
]


@pytest.mark.parametrize(("name", "kind", "loader"), SHIPPED, ids=[name for name, _, _ in SHIPPED])
def test_damaged_shipped_arrays_are_refused(name: str, kind: type, loader, tmp_path: Path, monkeypatch) -> None:
    arrays = loader()
    changed = kind(*(a.copy() for a in arrays))
    changed[0].flat[0] += 1  # a copy on disk with one number changed
    save_arrays(changed, tmp_path / name)
    monkeypatch.setattr("flowzip.shipped.resources.files", lambda package: tmp_path)
    with pytest.raises(FlowzipError, match="damaged"):
        loader.__wrapped__()


@pytest.mark.parametrize(("method", "sha256"), [(WARM_METHOD, WARM_STATE_SHA256), (PHOTO_METHOD, PHOTO_STATE_SHA256)])
def test_the_shipped_states_are_what_the_training_photos_teach(method: int, sha256: str, tmp_path: Path) -> None:
    """``python -m benchmarks.context_state`` rebuilds each shipped state exactly from the training photos."""
    photos = shared_data("photos", "train")
    out = tmp_path / "state.npz"
    command = [sys.executable, "-m", "benchmarks.context_state", "--photos", str(photos), "--out", str(out)]
    subprocess.run([*command, "--method", str(method)], check=True, cwd=ROOT)
    kind = PhotoState if method == PHOTO_METHOD else MixedState
    assert arrays_hash(load_arrays(out, kind)) == sha256


def test_the_shipped_network_is_its_checkpoint_rounded() -> None:
    """``benchmarks/decisions/tiny_net.py --ship`` makes the shipped integer network from its float checkpoint."""
    net = from_checkpoint(ROOT / "models" / "checkpoints" / "tiny-net-1.pt")
    assert arrays_hash(net) == TINY_NET_SHA256


def test_the_networks_first_layer_runs_in_32_bits_only_where_its_sums_fit() -> None:
    """``first_layer`` gives the coder the same weights in int32, and refuses a network whose hidden sums could
    reach 2^31 at the inputs' extremes."""
    w1, b1, _, _ = tiny_net()
    w1_int32, b1_int32 = first_layer(w1, b1)
    assert w1_int32.dtype == b1_int32.dtype == np.int32
    assert np.array_equal(w1_int32, w1.T) and np.array_equal(b1_int32, b1)
    at_the_edge, no_bias = np.zeros_like(w1), np.zeros_like(b1)
    at_the_edge[0, 0] = ((1 << 31) - 1) // INPUT_BOUND
    first_layer(at_the_edge, no_bias)
    at_the_edge[0, 1] = 1  # the largest sum grows past 2^31 - 1
    with pytest.raises(ValueError, match="32 bits"):
        first_layer(at_the_edge, no_bias)
