"""The installed ``flowzip`` command, run as a user would run it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_image

FLOWZIP = shutil.which("flowzip") or pytest.fail("the flowzip command is not installed (pip install -e .)")


def run(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run([FLOWZIP, *args], cwd=cwd, capture_output=True, input=stdin, timeout=300)
    r.stderr = r.stderr.decode()
    return r


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    Image.fromarray(make_image("photo", 24, 40)).save(tmp_path / "a.png")
    Image.fromarray(make_image("gradient", 9, 13, channels=4), "RGBA").save(tmp_path / "b.png")
    Image.fromarray(make_image("photo", 10, 10, channels=1)[:, :, 0]).save(tmp_path / "grey.webp", lossless=True)
    return tmp_path


def _pixels(path: Path) -> tuple[str, np.ndarray]:
    with Image.open(path) as im:
        return im.mode, np.asarray(im)


def test_compress_decompress_info(workdir: Path, tiny_model_path: Path) -> None:
    originals = {name: _pixels(workdir / name) for name in ("a.png", "b.png", "grey.webp")}
    r = run("compress", "a.png", "b.png", "grey.webp", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert "a.png -> a.fzi" in r.stderr and "bits/subpixel" in r.stderr and "3 files" in r.stderr
    assert all((workdir / n).exists() for n in ("a.png", "b.png", "grey.webp")), "inputs are kept"
    info = run("info", "a.fzi", cwd=workdir)
    assert info.returncode == 0 and b"40x24 RGB" in info.stdout
    for name in originals:
        (workdir / name).rename(workdir / f"orig-{name}")
    r = run("decompress", "a.fzi", "b.fzi", "grey.fzi", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 0, r.stderr
    for name, (mode, pixels) in originals.items():
        out_mode, out = _pixels(workdir / (Path(name).stem + ".png"))
        assert out_mode == mode and np.array_equal(out, pixels)
    assert not list(workdir.glob(".*.tmp")), "no temporary files are left behind"


def test_outputs_keep_their_inputs_permissions_and_modification_time(workdir: Path, tiny_model_path: Path) -> None:
    """As gzip's: compress gives the .fzi the image's mode bits and mtime, decompress the image the .fzi's."""
    os.chmod(workdir / "a.png", 0o640)
    os.utime(workdir / "a.png", ns=(1_000_000_000_123_456_789, 1_000_000_000_123_456_789))
    assert run("compress", "a.png", "--model", str(tiny_model_path), cwd=workdir).returncode == 0
    fzi = (workdir / "a.fzi").stat()
    assert (stat.S_IMODE(fzi.st_mode), fzi.st_mtime_ns) == (0o640, 1_000_000_000_123_456_789)
    os.chmod(workdir / "a.fzi", 0o604)
    os.utime(workdir / "a.fzi", ns=(2_000_000_000_000_000_000, 2_000_000_000_000_000_000))
    r = run("decompress", "a.fzi", "-o", "back.png", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 0, r.stderr
    back = (workdir / "back.png").stat()
    assert (stat.S_IMODE(back.st_mode), back.st_mtime_ns) == (0o604, 2_000_000_000_000_000_000)


def test_a_lossy_input_is_reported_as_kept_as_pixels(workdir: Path, tiny_model_path: Path) -> None:
    """A JPEG or lossy WebP grows into the pixels it decodes to: the report line says by how much; a lossless
    input gets no such note."""
    photo = Image.fromarray(make_image("photo", 48, 64))
    photo.save(workdir / "c.jpg", quality=90)
    photo.save(workdir / "d.webp", quality=80)
    r = run("compress", "c.jpg", "d.webp", "a.png", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 0, r.stderr
    lines = {line.split(" ->")[0]: line for line in r.stderr.splitlines() if " -> " in line}
    for name, kind in (("c.jpg", "JPEG"), ("d.webp", "lossy WebP")):
        ratio = (workdir / name).with_suffix(".fzi").stat().st_size / (workdir / name).stat().st_size
        assert f"the .fzi is {ratio:.1f}x the size of the {kind} file" in lines[name]
    assert "warning" not in lines["a.png"]


def test_output_option_and_no_overwrite(workdir: Path, tiny_model_path: Path) -> None:
    model = ["--model", str(tiny_model_path)]
    assert run("compress", "a.png", "-o", "x.fzi", *model, cwd=workdir).returncode == 0
    before = (workdir / "x.fzi").read_bytes()
    r = run("compress", "b.png", "-o", "x.fzi", *model, cwd=workdir)
    assert r.returncode == 1 and "already exists" in r.stderr and "Traceback" not in r.stderr
    assert (workdir / "x.fzi").read_bytes() == before, "an existing file is untouched without -f"
    assert run("compress", "b.png", "-o", "x.fzi", "-f", *model, cwd=workdir).returncode == 0
    assert (workdir / "x.fzi").read_bytes() != before
    r = run("decompress", "x.fzi", "-o", "x.webp", *model, cwd=workdir)
    assert r.returncode == 0 and np.array_equal(_pixels(workdir / "x.webp")[1], _pixels(workdir / "b.png")[1])
    r = run("decompress", "x.fzi", "-o", "x.jpg", *model, cwd=workdir)
    assert r.returncode == 1 and "lossless" in r.stderr and not (workdir / "x.jpg").exists()
    (workdir / "a.image").write_bytes((workdir / "a.png").read_bytes())  # a suffix compress may write
    same = run("compress", "a.image", "-o", "a.image", "-f", *model, cwd=workdir)
    assert same.returncode == 1 and "would replace the input" in same.stderr
    assert _pixels(workdir / "a.image")[1].shape == (24, 40, 3), "the input is untouched"
    r = run("compress", "a.png", "b.png", "-o", "y.fzi", *model, cwd=workdir)
    assert r.returncode == 2 and not (workdir / "y.fzi").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compress", "missing.png"], "no such file"),
        (["compress", "junk.png", "-f"], "not a readable image"),
        (["compress", "junk.png"], "junk.fzi already exists"),
        (["compress", "junk.fzi"], "the output would replace the input"),
        (["compress", "."], "use -r"),
        (["decompress", "junk.fzi", "-f"], "not a flowzip file"),
        (["decompress", "a.png"], "unknown suffix"),
        (["info", "junk.fzi"], "not a flowzip file"),
        (["compress", "a.png", "--model", "no-such-model"], "unknown model"),
        (["compress", "a.png", "--model", "junk.fzi"], "not a flowzip model file"),
        (["compress", "float.tif"], "unsupported image mode F"),
    ],
)
def test_errors_are_one_line(workdir: Path, args: list[str], message: str) -> None:
    (workdir / "junk.fzi").write_bytes(b"this is not an image")
    (workdir / "junk.png").write_bytes(b"this is not an image either")
    Image.new("F", (4, 4)).save(workdir / "float.tif")
    before = sorted(p.name for p in workdir.iterdir())
    r = run(*args, cwd=workdir)
    assert r.returncode != 0
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert sorted(p.name for p in workdir.iterdir()) == before, "a failed run leaves nothing behind"


def test_one_failure_does_not_stop_the_rest(workdir: Path, tiny_model_path: Path) -> None:
    r = run("compress", "missing.png", "a.png", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 1 and (workdir / "a.fzi").exists()


def test_module_entry_point_and_version(workdir: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "flowzip", "--version"],
        capture_output=True,
        text=True,
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert r.returncode == 0 and r.stdout.startswith("flowzip, version ")
    assert "--recursive" in subprocess.run([FLOWZIP, "compress", "--help"], capture_output=True, text=True).stdout


def test_pipes(workdir: Path, tiny_model_path: Path) -> None:
    model = ["--model", str(tiny_model_path)]
    png = (workdir / "a.png").read_bytes()
    fzi = run("compress", "-", *model, cwd=workdir, stdin=png)
    assert fzi.returncode == 0 and fzi.stdout.startswith(b"FZ") and "<stdin> -> <stdout>" in fzi.stderr
    out = run("decompress", "-", *model, cwd=workdir, stdin=fzi.stdout)
    assert out.returncode == 0 and out.stdout.startswith(b"\x89PNG")
    (workdir / "piped.png").write_bytes(out.stdout)
    assert np.array_equal(_pixels(workdir / "piped.png")[1], _pixels(workdir / "a.png")[1])
    to_stdout = run("compress", "-c", "a.png", *model, cwd=workdir)
    assert to_stdout.stdout == fzi.stdout and not (workdir / "a.fzi").exists()
    bad = run("decompress", "-", *model, cwd=workdir, stdin=b"garbage")
    assert bad.returncode == 1 and bad.stdout == b"" and "not a flowzip file" in bad.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_folders(workdir: Path, tiny_model_path: Path, jobs: str) -> None:
    model = ["--model", str(tiny_model_path)]
    (workdir / "sub").mkdir()
    (workdir / "sub" / "c.png").write_bytes((workdir / "a.png").read_bytes())
    (workdir / "sub" / "broken.png").write_bytes(b"not a png")
    r = run("compress", "-r", ".", "-j", jobs, *model, cwd=workdir)
    assert r.returncode == 1, "one file failed"
    assert "broken.png: not a readable image" in r.stderr
    assert "4 files" in r.stderr and "1 failed" in r.stderr and "bits/subpixel" in r.stderr
    assert {p.name for p in workdir.rglob("*.fzi")} == {"a.fzi", "b.fzi", "grey.fzi", "c.fzi"}
    for p in workdir.rglob("*.png"):
        p.rename(p.with_suffix(".orig"))
    r = run("decompress", "-r", ".", "-j", jobs, *model, cwd=workdir)
    assert r.returncode == 0 and "4 files" in r.stderr and "0 failed" in r.stderr
    assert np.array_equal(_pixels(workdir / "sub" / "c.png")[1], _pixels(workdir / "a.orig")[1])
    quiet = run("decompress", "-r", ".", "-q", "-f", *model, cwd=workdir)
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == b""


def test_out_dir_mirrors_the_folders_and_skip_existing_makes_runs_incremental(
    workdir: Path, tiny_model_path: Path
) -> None:
    model = ["--model", str(tiny_model_path)]
    (workdir / "sub").mkdir()
    Image.fromarray(make_image("text", 12, 20)).save(workdir / "sub" / "c.tga")  # a type Pillow reads: kept
    (workdir / "notes.txt").write_text("not an image")
    r = run("compress", "-r", ".", "--out-dir", "out", *model, cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert "left out 1 file, not images Pillow reads: notes.txt" in r.stderr
    coded = {p.relative_to(workdir / "out").as_posix() for p in (workdir / "out").rglob("*.fzi")}
    assert coded == {"a.fzi", "b.fzi", "grey.fzi", "sub/c.fzi"}
    written = {p: p.stat().st_mtime_ns for p in (workdir / "out").rglob("*.fzi")}
    again = run("compress", "-r", ".", "--out-dir", "out", *model, cwd=workdir)
    assert again.returncode == 1 and again.stderr.count("already exists") == 4
    Image.fromarray(make_image("photo", 8, 8)).save(workdir / "sub" / "new.png")
    more = run("compress", "-r", ".", "--out-dir", "out", "--skip-existing", *model, cwd=workdir)
    assert more.returncode == 0 and more.stderr.count("skipped") == 4 and "new.png -> out/sub/new.fzi" in more.stderr
    assert all(p.stat().st_mtime_ns == t for p, t in written.items()), "skipped outputs are left as they were"
    back = run("decompress", "-r", "out", "--out-dir", "back", *model, cwd=workdir)
    assert back.returncode == 0, back.stderr
    assert np.array_equal(_pixels(workdir / "back" / "sub" / "c.png")[1], _pixels(workdir / "sub" / "c.tga")[1])
    both = run("compress", "a.png", "-f", "--skip-existing", *model, cwd=workdir)
    assert both.returncode == 2 and "exclude each other" in both.stderr
    piped = run("compress", "-", "--out-dir", "o", *model, cwd=workdir, stdin=(workdir / "a.png").read_bytes())
    assert piped.returncode == 2 and "standard input has no name" in piped.stderr


def test_compress_refuses_what_would_mislead(workdir: Path, tiny_model_path: Path) -> None:
    """A .fzi file under an image's suffix, or a flowzip file coded again, as gzip refuses a .gz; --help offers
    the current models and says why the older ones are there."""
    model = ["--model", str(tiny_model_path)]
    jpg = run("compress", "a.png", "-o", "t.jpg", *model, cwd=workdir)
    assert jpg.returncode == 2 and "compress writes a .fzi file, not .jpg" in jpg.stderr
    assert not (workdir / "t.jpg").exists()
    assert run("compress", "a.png", *model, cwd=workdir).returncode == 0
    again = run("compress", "a.fzi", "-o", "b.fzi", *model, cwd=workdir)
    assert again.returncode == 1 and "a.fzi: already a flowzip file" in again.stderr
    shown = " ".join(run("compress", "--help", cwd=workdir).stdout.decode().split())
    assert "(cifar10, photo)" in shown and "Older models stay shipped only so that their files decode" in shown


def test_a_disk_error_is_one_line_not_a_bug() -> None:
    from flowzip.frontends.batch import Task, guarded

    def failing(task: Task) -> None:
        raise OSError(5, "Input/output error", "x.png")

    result = guarded(failing, Task("x.png", "x.fzi", False, None))
    assert result.error == "x.png: Input/output error"


def test_a_missing_output_folder_fails_before_coding(workdir: Path, tiny_model_path: Path) -> None:
    r = run("compress", "a.png", "-o", "missing/a.fzi", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 1 and "no folder missing to write it in" in r.stderr
    assert not (workdir / "missing").exists()


def test_an_animation_is_refused_unless_its_first_frame_is_asked_for(workdir: Path, tiny_model_path: Path) -> None:
    frames = [Image.fromarray(make_image("photo", 12, 16, seed=s)).convert("P") for s in range(3)]
    frames[0].save(workdir / "anim.gif", save_all=True, append_images=frames[1:])
    r = run("compress", "anim.gif", "a.png", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 1 and "anim.gif: an animation of 3 frames" in r.stderr and "--first-frame" in r.stderr
    assert not (workdir / "anim.fzi").exists() and (workdir / "a.fzi").exists(), "the other file is coded"
    r = run("compress", "anim.gif", "--first-frame", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 0 and "3 frames, only the first is compressed" in r.stderr
    left, right = (frame.convert("RGB") for frame in frames[:2])
    left.save(workdir / "stereo.jpg", "MPO", save_all=True, append_images=[right])
    r = run("compress", "stereo.jpg", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 1 and "stereo.jpg: a multi-picture JPEG of 2 frames" in r.stderr
    r = run("compress", "stereo.jpg", "--first-frame", "--model", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 0 and "the size of the JPEG file" in r.stderr
    r = run("decompress", "anim.fzi", "--model", str(tiny_model_path), cwd=workdir)
    with Image.open(workdir / "anim.gif") as first:
        assert np.array_equal(_pixels(workdir / "anim.png")[1], np.asarray(first))


def test_errors_name_the_file_and_say_truncated(workdir: Path, tiny_model_path: Path) -> None:
    model = ["--model", str(tiny_model_path)]
    assert run("compress", "a.png", "b.png", *model, cwd=workdir).returncode == 0
    (workdir / "cut.fzi").write_bytes((workdir / "a.fzi").read_bytes()[:40])
    (workdir / "junk.fzi").write_bytes(b"FZ\x02\x00" + bytes(30))
    r = run("decompress", "cut.fzi", "junk.fzi", *model, cwd=workdir)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 3, r.stderr  # two errors and the summary
    assert lines[0].startswith("flowzip: cut.fzi: truncated file")
    assert lines[1].startswith("flowzip: junk.fzi: ")
    (workdir / "notes.txt").write_text("not an image")
    info = run("info", "notes.txt", "a.fzi", cwd=workdir)
    assert info.returncode == 1 and info.stderr.startswith("flowzip: notes.txt: not a flowzip file")
    assert b"a.fzi:" in info.stdout, "the other file is still described"
    (workdir / "deep").mkdir()
    Image.new("F", (4, 4)).save(workdir / "deep" / "float.tif")
    batch = run("compress", "-r", "deep", cwd=workdir)
    assert batch.returncode == 1 and f"flowzip: {Path('deep') / 'float.tif'}: unsupported image mode F" in batch.stderr
    piped = run("decompress", "-", cwd=workdir, stdin=b"FZ")
    assert piped.stderr.startswith("flowzip: <stdin>: truncated file")


def test_usage_errors(workdir: Path) -> None:
    both = run("compress", "a.png", "-c", "-o", "x.fzi", cwd=workdir)
    assert both.returncode == 2 and "exclude each other" in both.stderr and both.stdout == b""
    assert not (workdir / "x.fzi").exists()
    zero = run("compress", "a.png", "-j", "0", cwd=workdir)
    assert zero.returncode == 2 and "-j" in zero.stderr and not (workdir / "a.fzi").exists()


def test_info_reads_stdin_and_gives_sizes_as_width_x_height(workdir: Path, tiny_model_path: Path) -> None:
    Image.fromarray(make_image("noise", 24, 40)).save(workdir / "noise.png")  # raw tiles, kept in their grid
    data = run("compress", "-c", "noise.png", "--tile-size", "32", "--model", str(tiny_model_path), cwd=workdir).stdout
    info = run("info", "-", cwd=workdir, stdin=data)
    assert info.returncode == 0, info.stderr
    out = info.stdout.decode()
    assert out.startswith("<stdin>:") and "40x24 RGB" in out
    assert "tiles      2 of up to 32x32 pixels, 2 across and 1 down" in out
    assert (
        "model      none used (the header names" in out and "raw        2 tiles, 2882 bytes, 8.006 bits/subpixel" in out
    )


def test_transparency_survives_the_command_line(workdir: Path, tiny_model_path: Path) -> None:
    model = ["--model", str(tiny_model_path)]
    Image.open(workdir / "a.png").save(workdir / "key.png", transparency=(1, 2, 3))
    Image.open(workdir / "grey.webp").convert("L").save(workdir / "lkey.png", transparency=9)
    assert run("compress", "key.png", "lkey.png", *model, cwd=workdir).returncode == 0
    r = run("decompress", "key.fzi", "lkey.fzi", "-j", "1", "--model", str(tiny_model_path), "-f", cwd=workdir)
    assert r.returncode == 0, r.stderr
    with Image.open(workdir / "key.png") as rgb, Image.open(workdir / "lkey.png") as grey:
        assert rgb.info["transparency"] == (1, 2, 3) and grey.info["transparency"] == 9
    bmp = run("decompress", "key.fzi", "-o", "key.bmp", *model, cwd=workdir)
    assert bmp.returncode == 1 and "cannot store the transparency" in bmp.stderr
    assert not (workdir / "key.bmp").exists()


def _png_with_every_chunk(path: Path) -> None:
    """A PNG with metadata of every kind a PNG holds, some of which Pillow does not read (cICP, tIME, sBIT)."""
    from PIL import PngImagePlugin

    chunks = PngImagePlugin.PngInfo()
    chunks.add_text("Title", "a title")
    chunks.add_text("Comment", "zipped " * 20, zip=True)
    chunks.add_itxt("Description", "\u00e9t\u00e9 \u2603", lang="fr", tkey="Beschreibung")
    chunks.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta/>")
    for cid, data in ((b"gAMA", b"\0\0\xb1\x8f"), (b"cICP", b"\1\x0d\0\1"), (b"tIME", b"\x07\xea\x0c\x04\x0f\x10\x11")):
        chunks.add(cid, data)
    chunks.add(b"sBIT", b"\x08\x08\x08")
    chunks.add(b"prVt", b"a private chunk")
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "Maker"
    image = Image.fromarray(make_image("photo", 12, 20))
    image.save(path, pnginfo=chunks, dpi=(300, 300), exif=exif.tobytes(), icc_profile=b"profile " * 100)


def _ancillary_chunks(path: Path) -> list[tuple[bytes, bytes]]:
    from flowzip.metadata import read_png_chunks

    return sorted(c for c in read_png_chunks(path.read_bytes()) if c[0][:1].islower())


def test_metadata_come_back_byte_for_byte_and_info_lists_them(workdir: Path, tiny_model_path: Path) -> None:
    """Every ancillary chunk of a PNG comes back to a PNG as it was (in PNG's order of chunk kinds); other
    formats get what they hold, and a warning names the rest; --strip keeps only the ICC profile."""
    _png_with_every_chunk(workdir / "meta.png")
    model = ("--model", str(tiny_model_path))
    r = run("compress", "meta.png", *model, cwd=workdir)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    info = run("info", "meta.fzi", cwd=workdir).stdout.decode()
    for what in ("ICC profile (800 bytes)", "EXIF (", "orientation 6", "XMP (12 bytes)", "tEXt chunk", "zTXt chunk"):
        assert what in info, (what, info)
    (workdir / "meta.png").rename(workdir / "orig.png")
    r = run("decompress", "meta.fzi", *model, cwd=workdir)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    assert _ancillary_chunks(workdir / "meta.png") == _ancillary_chunks(workdir / "orig.png")
    assert _pixels(workdir / "meta.png")[1].tobytes() == _pixels(workdir / "orig.png")[1].tobytes()

    r = run("decompress", "meta.fzi", "-o", "meta.webp", *model, cwd=workdir)
    assert r.returncode == 0
    assert "warning: WEBP cannot hold its tEXt chunk, zTXt chunk, iTXt chunk, gAMA chunk, cICP chunk" in r.stderr
    with Image.open(workdir / "meta.webp") as webp, Image.open(workdir / "orig.png") as png:
        assert webp.info["icc_profile"] == png.info["icc_profile"] and webp.info["xmp"] == b"<x:xmpmeta/>"
        assert webp.getexif() == png.getexif()
    r = run("decompress", "meta.fzi", "-o", "meta.bmp", *model, cwd=workdir)
    assert r.returncode == 0 and "BMP cannot hold its ICC profile, EXIF, XMP, tEXt chunk" in r.stderr

    r = run("compress", "orig.png", "--strip", "-o", "stripped.fzi", *model, cwd=workdir)
    assert r.returncode == 0
    assert "metadata   ICC profile (800 bytes)\n" in run("info", "stripped.fzi", cwd=workdir).stdout.decode()


def test_jpeg_and_tiff_metadata_are_kept(workdir: Path, tiny_model_path: Path) -> None:
    """A JPEG's EXIF, XMP, comment, resolution and Photoshop resources (IPTC); a TIFF's descriptive tags,
    XMP, IPTC and resolution: each comes back in a TIFF output, which holds them all."""
    from PIL import TiffImagePlugin

    image = Image.fromarray(make_image("photo", 16, 16))
    exif = Image.Exif()
    exif[0x010F] = "Maker"
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x07\x1c\x02\x05\x00\x02Hi\x00"
    image.save(workdir / "in.jpg", exif=exif, xmp=b"<jpeg-xmp/>", comment=b"a comment", dpi=(200, 100), quality=95)
    jpeg = (workdir / "in.jpg").read_bytes()
    app13 = b"\xff\xed" + (len(iptc) + 2).to_bytes(2, "big") + iptc
    (workdir / "in.jpg").write_bytes(jpeg[:2] + app13 + jpeg[2:])
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[315], tags[33723] = "An Artist", b"\x1c\x02\x05\x00\x02Hi"
    tags.tagtype[33723] = 7
    image.save(workdir / "in.tif", tiffinfo=tags, dpi=(150, 150))
    model = ("--model", str(tiny_model_path))
    for name in ("jpg", "tif"):
        assert run("compress", f"in.{name}", "-o", f"{name}.fzi", *model, cwd=workdir).returncode == 0
    info = run("info", "jpg.fzi", cwd=workdir).stdout.decode()
    for what in ("EXIF (", "XMP (11 bytes)", "Photoshop resources (", "comment (9 bytes)", "resolution"):
        assert what in info, (what, info)
    r = run("decompress", "jpg.fzi", "-o", "jpg.tif", *model, cwd=workdir)
    assert r.returncode == 0 and "TIFF cannot hold its comment: not written" in r.stderr, r.stderr
    with Image.open(workdir / "jpg.tif") as out, Image.open(workdir / "in.jpg") as original:
        assert out.getexif()[0x010F] == "Maker" and out.info["xmp"] == b"<jpeg-xmp/>"
        assert out.info["dpi"] == (200, 100)
        assert out.tag_v2[34377] == iptc[len(b"Photoshop 3.0\0") :]
        assert np.array_equal(np.asarray(out), np.asarray(original))
    r = run("decompress", "tif.fzi", "-o", "tif.tif", *model, cwd=workdir)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    with Image.open(workdir / "tif.tif") as out:
        assert out.getexif()[315] == "An Artist" and bytes(out.tag_v2[33723]) == tags[33723]
        assert out.info["dpi"] == (150, 150)


def test_help_lists_every_command_and_bench_takes_m(workdir: Path, tiny_model_path: Path) -> None:
    top = run("--help", cwd=workdir).stdout.decode()
    assert all(f"flowzip {c} " in top for c in ("compress", "decompress", "info", "bench", "train"))
    assert "CPU cores to use" in run("compress", "--help", cwd=workdir).stdout.decode()
    r = run("bench", "a.png", "-m", str(tiny_model_path), cwd=workdir)
    assert r.returncode == 0 and "flowzip" in r.stdout.decode(), r.stderr


def test_16_bit_colour_png_keeps_its_samples_and_metadata(tmp_path: Path) -> None:
    """A 16-bit RGBA PNG with an ICC profile, EXIF and a text chunk: compressed, then written back as a 16-bit PNG
    with the same samples and chunks; other output formats are refused in one line."""
    import imagecodecs

    from flowzip.deep_files import write_png
    from flowzip.metadata import EXIF, ICC, Metadata, read_png_chunks

    samples = np.random.default_rng(5).integers(0, 65536, (6, 9, 4)).astype(np.uint16)
    exif = Image.Exif()
    exif[0x010F] = "maker"
    kept = Metadata(((ICC, b"a profile " * 30), (EXIF, exif.tobytes()[6:]), ("png:tEXt", b"Title\0sixteen bits")))
    (tmp_path / "in.png").write_bytes(write_png(samples, kept)[0])
    assert run("compress", "in.png", cwd=tmp_path).returncode == 0
    assert run("decompress", "in.fzi", "-o", "out.png", cwd=tmp_path).returncode == 0
    back = (tmp_path / "out.png").read_bytes()
    assert np.array_equal(imagecodecs.png_decode(back), samples)
    chunks = {cid: data for cid, data in read_png_chunks(back)}
    assert chunks[b"tEXt"] == b"Title\0sixteen bits" and chunks[b"eXIf"] == exif.tobytes()[6:]
    with Image.open(tmp_path / "out.png") as image:
        assert image.info["icc_profile"] == b"a profile " * 30
    refused = run("decompress", "in.fzi", "-o", "out.webp", cwd=tmp_path)
    assert refused.returncode == 1 and "16-bit colour is not supported; write .png" in refused.stderr
    assert not (tmp_path / "out.webp").exists()
