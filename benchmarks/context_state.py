"""Learn method 9's starting state (``flowzip.classical.state.PHOTO_STATE``), or method 8's (``WARM_STATE``), from
the training photos, or measure choices.

    python -m benchmarks.context_state [--method 9] [--photos DIR] [--out models/context-state-2.npz]
    python -m benchmarks.context_state --method 8 --out models/context-state-1.npz
    python -m benchmarks.context_state --measure [--method 9] [--photos DIR]

The state is what the method's coder (method 7's for method 8) has learnt from a cold start after coding crops
of the training photos one after another (round robin over the photos, so that no photo comes last by much), in
the centred subtract-green transform, with each probability's count of bits seen capped at ``--seen-cap``.
``--measure`` learns only from the first half of the photos and codes crops of the other half (32x32, 128x128
and 256x256, seeded; and the 32x32 ones without the transform, as the encoder codes some images) from a cold
start and from each candidate state, printing bits per subpixel; every stream is decoded and checked.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from benchmarks.paths import ROOT, TRAIN_PHOTOS
from flowzip.classical.context_coder import mixed_code
from flowzip.classical.methods import PHOTO_METHOD, WARM_METHOD
from flowzip.classical.photo_coder import photo_code
from flowzip.classical.state import MixedState, PhotoState, cold_state, photo_cold_state
from flowzip.classical.transforms import subtract_green
from flowzip.images import IMAGE_SUFFIXES, read_image_rgb
from flowzip.learned.tiny_net import tiny_net
from flowzip.shipped import arrays_hash, save_arrays

SEEN_CAP = 8  # chosen by --measure (models/README.md)
CROP = 32
CROPS_PER_PHOTO = 32


State = MixedState | PhotoState


def run_coder(method: int, pixels: np.ndarray, data: np.ndarray, undo: bool, state: State) -> int:
    """Method ``method``'s coder (method 7's for 8) on ``pixels`` from ``state``, updating it in place."""
    if method == PHOTO_METHOD:
        return photo_code(pixels, data, undo, *state, tiny_net())
    return mixed_code(pixels, data, undo, *state)


def cold(method: int, channels: int) -> State:
    return photo_cold_state(channels) if method == PHOTO_METHOD else cold_state(channels)


def learn_state(images: Iterable[np.ndarray], seen_cap: int, method: int) -> State:
    """The state that the coder of ``method`` reaches by coding ``images`` (each (H, W, C) uint8, transformed
    as it would code them) one after another from a cold start, each probability's count of bits seen then
    capped at ``seen_cap``, so that a coder starting from it still adapts as fast as after that many bits."""
    state: State | None = None
    for image in images:
        state = state or cold(method, image.shape[2])
        out = np.empty(4 * image.size + 64, dtype=np.uint8)  # the stream is thrown away, but must fit
        if run_coder(method, np.ascontiguousarray(image), out, False, state) < 0:
            raise ValueError("an image's stream did not fit its buffer")
    if state is None:
        raise ValueError("no images to learn from")
    np.minimum(state.probs[..., 1], seen_cap, out=state.probs[..., 1])
    return state


def centred(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(subtract_green(rgb))


def crops(
    photos: list[np.ndarray], size: int, per_photo: int, seed: int, transform: bool = True
) -> Iterator[np.ndarray]:
    """``per_photo`` random crops of ``size`` pixels of every photo, round robin over the photos, in the centred
    subtract-green transform (or, not ``transform``, as they are)."""
    rng = np.random.default_rng(seed)
    for _ in range(per_photo):
        for photo in photos:
            top = rng.integers(photo.shape[0] - size + 1)
            left = rng.integers(photo.shape[1] - size + 1)
            crop = photo[top : top + size, left : left + size]
            yield centred(crop) if transform else np.ascontiguousarray(crop)


def coded_bits(pixels: np.ndarray, start: State, method: int) -> int:
    """Bits of ``pixels`` coded by ``method``'s coder from (a copy of) ``start``, after checking the decode."""
    out = np.empty(4 * pixels.size + 64, dtype=np.uint8)
    written = run_coder(method, pixels, out, False, type(start)(*(a.copy() for a in start)))
    assert written > 0, "the stream did not fit its buffer"
    decoded = np.empty_like(pixels)
    run_coder(method, decoded, out[1:written].copy(), True, type(start)(*(a.copy() for a in start)))
    assert np.array_equal(decoded, pixels), "decode differs"
    return 8 * (written - 1)  # the stream leaves out the coder's first byte


def measure(photos: list[np.ndarray], method: int) -> None:
    half = len(photos) // 2
    learn_from, held_out = photos[:half], photos[half:]
    tests = {
        f"{s}x{s} ({n * len(held_out)})": list(crops(held_out, s, n, seed=1)) for s, n in ((32, 4), (128, 1), (256, 1))
    }
    tests[f"32x32 untransformed ({4 * len(held_out)})"] = list(crops(held_out, 32, 4, seed=1, transform=False))
    candidates: dict[str, State] = {"cold": cold(method, 3)}
    for crop, per_photo in ((32, 32), (32, 128), (64, 32), (128, 8)):
        for cap in (0, 8, 24):
            state = learn_state(crops(learn_from, crop, per_photo, seed=0), cap, method)
            candidates[f"{crop}x{crop} crops x {per_photo}, seen cap {cap}"] = state
    print(f"learn from photos 1-{half}, code crops of photos {half + 1}-{len(photos)}; bits per subpixel")
    print("| start | " + " | ".join(tests) + " |")
    print("|---|" + "---|" * len(tests))
    for name, state in candidates.items():
        cells = [sum(coded_bits(t, state, method) for t in ts) / sum(t.size for t in ts) for ts in tests.values()]
        print(f"| {name} | " + " | ".join(f"{c:.4f}" for c in cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=TRAIN_PHOTOS)
    parser.add_argument("--method", type=int, choices=(WARM_METHOD, PHOTO_METHOD), default=PHOTO_METHOD)
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "context-state-2.npz")
    parser.add_argument("--seen-cap", type=int, default=SEEN_CAP)
    parser.add_argument("--measure", action="store_true", help="compare starting states on held-out photos")
    args = parser.parse_args()
    paths = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    photos = [read_image_rgb(p) for p in paths]
    if args.measure:
        measure(photos, args.method)
        return
    state = learn_state(crops(photos, CROP, CROPS_PER_PHOTO, seed=0), args.seen_cap, args.method)
    save_arrays(state, args.out)
    print(f"{args.out}: learnt from {len(photos)} photos, SHA-256 {arrays_hash(state)}")


if __name__ == "__main__":
    main()
