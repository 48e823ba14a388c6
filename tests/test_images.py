"""One way to find and read images, for the command line, the benchmark and the trainer alike."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flowzip.errors import FlowzipError
from flowzip.images import IMAGE_SUFFIXES, dataset_images, find_files, load_rgb_images, open_image
from flowzip.metadata import png_chunk, read_png_chunks


@pytest.fixture
def nested(tmp_path: Path) -> Path:
    """a.png, notes.txt, sub/b.webp, sub/deeper/c.PNG (grey), and arrays.npy (2 images)."""
    rng = np.random.default_rng(0)
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)).save(tmp_path / "sub" / "b.webp", lossless=True)
    Image.fromarray(rng.integers(0, 256, (3, 3), dtype=np.uint8)).save(tmp_path / "sub" / "deeper" / "c.PNG")
    (tmp_path / "notes.txt").write_text("not an image")
    np.save(tmp_path / "arrays.npy", rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8))
    return tmp_path


def test_folders_are_searched_at_any_depth_for_the_suffixes(nested: Path) -> None:
    left_out: list[str] = []
    names = [f.below.as_posix() for f in find_files([str(nested)], IMAGE_SUFFIXES, left_out=left_out)]
    assert names == ["a.png", "sub/b.webp", "sub/deeper/c.PNG"]
    assert sorted(Path(f).name for f in left_out) == ["arrays.npy", "notes.txt"]
    named = find_files(["-", str(nested / "notes.txt")], IMAGE_SUFFIXES)
    assert [f.path for f in named] == ["-", str(nested / "notes.txt")]
    with pytest.raises(FlowzipError, match="is a directory"):
        find_files([str(nested)], IMAGE_SUFFIXES, recursive=False)


def test_training_and_benchmark_read_the_same_images(nested: Path) -> None:
    paths = [str(nested), str(nested / "arrays.npy")]
    count, images = dataset_images(paths)
    named = list(images)
    assert count == len(named) == 5
    assert [name.rsplit("/", 1)[-1] for name, _ in named][-2:] == ["arrays.npy[0]", "arrays.npy[1]"]
    rgb = load_rgb_images(paths)
    assert [a.shape for a in rgb] == [(5, 7, 3), (4, 6, 3), (3, 3, 3), (8, 8, 3), (8, 8, 3)]
    assert all(np.array_equal(a, np.asarray(b)) for a, (_, b) in zip(rgb, named, strict=True))
    _, native = dataset_images([str(nested / "sub")], native=True)
    assert [image.mode for _, image in native] == ["RGB", "L"]


def test_a_missing_path_or_no_images_is_an_error(nested: Path) -> None:
    with pytest.raises(FlowzipError, match="no such file"):
        dataset_images([str(nested / "missing")])
    (nested / "empty").mkdir()
    with pytest.raises(FlowzipError, match="no images found"):
        dataset_images([str(nested / "empty")])


def test_folders_yield_every_format_pillow_reads_but_its_stubs() -> None:
    """-r finds .tga, .ico, .apng, .pbm and the rest of Pillow's formats, not those it cannot decode alone."""
    assert {".tga", ".ico", ".apng", ".pbm", ".qoi", ".png", ".webp", ".tif"} <= IMAGE_SUFFIXES
    assert not {".eps", ".wmf", ".mpg", ".h5", ".fzi", ".txt", ".npy"} & IMAGE_SUFFIXES


def test_a_damaged_file_that_pillow_reads_with_a_syntax_error_is_a_one_line_error(tmp_path: Path) -> None:
    """Pillow's readers raise SyntaxError on some damaged files of their format (here an APNG without its
    frame-control chunks): that is an unreadable image, not a crash."""
    frames = [Image.fromarray(np.full((4, 4, 3), v, np.uint8)) for v in (0, 255)]
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:])
    damaged = b"\x89PNG\r\n\x1a\n" + b"".join(
        png_chunk(cid, data) for cid, data in read_png_chunks(buf.getvalue()) if cid != b"fcTL"
    )
    (tmp_path / "x.png").write_bytes(damaged)
    with pytest.raises(FlowzipError, match=r"x.png: not a readable image \(APNG contains frame sequence errors\)"):
        open_image(tmp_path / "x.png")
