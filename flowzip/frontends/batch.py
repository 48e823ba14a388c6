"""Coding files for the command line: one file is a ``Task``, run in this process or in a pool of processes.

Outputs go to a temporary file beside the target and are moved into place only when complete; an existing
file is never replaced unless asked; inputs are never removed. Every failure becomes one line that names the
file (``Result.error``), never a traceback, and the other files go on. Progress bars show on a terminal: over
the files, and over the tiles of a single large file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import stat
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import click
import numpy as np
from PIL import Image
from tqdm import tqdm

from flowzip.codec import DEFAULT_TILE_SIZE, compress, decompress, decompress_image, read_header
from flowzip.container import ARRAY_ONLY_MODES, DEFAULT_MAX_PIXELS, MAGIC
from flowzip.errors import FlowzipError, FlowzipWarning, file_errors, naming
from flowzip.images import ImageLike, open_samples
from flowzip.metadata import NO_METADATA, Metadata, insert_png_chunks, of_image, save_options
from flowzip.settings import DEFAULT_SETTINGS, EncoderSettings

# Pillow formats that store every mode flowzip decodes to without loss, and the options that make them so
_LOSSLESS_OUTPUTS = {
    ".png": ("PNG", {}),
    ".webp": ("WEBP", {"lossless": True, "exact": True}),
    ".tif": ("TIFF", {}),
    ".tiff": ("TIFF", {}),
    ".bmp": ("BMP", {}),
}


def write_atomic(path: Path, data: bytes, overwrite: bool, like: Path | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file; never replace an existing file unless asked. With
    ``like``, the file gets its permission bits and modification time (as gzip's output gets its input's). A
    file that holds ``data`` already is left as it is (a task run again after its worker died)."""
    if path.exists() and not overwrite:
        if _holds(path, data):
            return
        raise FlowzipError(f"{path} already exists (use -f to overwrite)")
    if path.is_dir():
        raise FlowzipError(f"{path} is a directory")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise FlowzipError(f"cannot write to {path.parent}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if like is not None:
            source = os.stat(like)
            os.chmod(tmp, stat.S_IMODE(source.st_mode))
            os.utime(tmp, ns=(source.st_atime_ns, source.st_mtime_ns))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the output the usual permissions
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the path appeared meanwhile, unlike a rename
            except FileExistsError:
                if not _holds(path, data):
                    raise FlowzipError(f"{path} already exists (use -f to overwrite)") from None
            except OSError:  # no hard links on this file system
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a file of exactly ``data``."""
    return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data


def encode_output(image: ImageLike, path: Path, metadata: Metadata = NO_METADATA) -> tuple[bytes, str]:
    """The bytes of ``image`` (a PIL image, or 16-bit colour samples (H, W, C)) with its ``metadata`` in the
    lossless format that ``path``'s suffix names, and a note that names what of the metadata that format cannot
    hold ("" if none)."""
    fmt, options = _LOSSLESS_OUTPUTS.get(path.suffix.lower(), (None, None))
    if fmt is None:
        raise FlowzipError(f"{path}: choose a lossless output format ({', '.join(_LOSSLESS_OUTPUTS)})")
    if isinstance(image, np.ndarray):
        if fmt != "PNG":
            raise FlowzipError(f"{path}: {fmt} output of 16-bit colour is not supported; write .png")
        from flowzip.deep_files import write_png  # with its PNG reader, which loads numba

        data, unkept = write_png(image, metadata)
        return data, f"PNG cannot hold its {', '.join(unkept)}: not written" if unkept else ""
    if image.mode == "I;16" and fmt not in ("PNG", "TIFF"):
        raise FlowzipError(f"{path}: {fmt} cannot hold 16-bit samples; write .png or .tif")
    # Pillow drops the transparency of these formats' saves without a word, but for WebP's P -> RGBA
    if "transparency" in image.info and fmt != "PNG" and (fmt, image.mode) != ("WEBP", "P"):
        raise FlowzipError(f"{path}: {fmt} cannot store the transparency of this {image.mode} image; write .png")
    held = save_options(metadata, fmt)
    buf = io.BytesIO()
    try:
        image.save(buf, fmt, **options, **held.options)
    except (OSError, ValueError) as e:
        raise FlowzipError(f"{path}: cannot store a {image.mode} image as {fmt} ({e})") from None
    data = insert_png_chunks(buf.getvalue(), held.png_chunks) if fmt == "PNG" else buf.getvalue()
    return data, f"{fmt} cannot hold its {', '.join(held.unkept)}: not written" if held.unkept else ""


def read_bytes(name: str) -> bytes:
    """The bytes of a file, or of standard input for "-"."""
    if name == "-":
        return sys.stdin.buffer.read()
    with file_errors(name):
        return Path(name).read_bytes()


@dataclass
class Task:
    """One file to code: where from, where to, and the options (picklable, for worker processes)."""

    source: str  # a path, or "-" for stdin
    target: str  # a path, or "-" for stdout
    force: bool
    model: str | None
    tile_size: int = DEFAULT_TILE_SIZE
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    tile_bar: bool = False  # show a progress bar over the tiles of this file (in-process runs only)
    tile_jobs: int = 1  # tiles of this file coded at once (threads); files in worker processes use one
    verify: bool = False  # compress: decode the file and compare it with the input before writing it
    settings: EncoderSettings = DEFAULT_SETTINGS  # compress: what the encoder tries (``--effort``)
    make_dirs: bool = False  # make the target's missing folders (outputs in a folder of their own)
    first_frame: bool = False  # compress: code the first frame of an animation, not refuse it
    strip: bool = False  # compress: keep no metadata but the ICC profile


@dataclass
class Result:
    """What coding one file did, or the one-line error that stopped it."""

    task: Task
    bytes_in: int = 0
    bytes_out: int = 0
    coded_bytes: int = 0  # the size of the .fzi side
    subpixels: int = 0
    seconds: float = 0.0
    note: str = ""
    error: str | None = None


def _write_target(task: Task, data: bytes) -> None:
    if task.target == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    if task.make_dirs:
        with file_errors(task.target):
            Path(task.target).parent.mkdir(parents=True, exist_ok=True)
    like = Path(task.source) if task.source != "-" else None
    write_atomic(Path(task.target), data, task.force, like)


def compress_file(task: Task) -> Result:
    """Compress an image file to a .fzi file; what flowzip does not keep of it goes to ``Result.note``."""
    start = time.perf_counter()
    raw = read_bytes(task.source)
    if raw.startswith(MAGIC):  # as gzip will not compress a .gz
        raise FlowzipError("already a flowzip file (decompress it to code it again)")
    image, pixels = open_samples(raw, shown_name(task.source))
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and not task.first_frame:
        kind = "a multi-picture JPEG" if image.format == "MPO" else "an animation"
        raise FlowzipError(f"{kind} of {frames} frames: flowzip keeps one image (--first-frame codes the first)")
    with _tile_bar(task) as progress, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FlowzipWarning)
        data = compress(
            pixels,
            model=task.model,
            tile_size=task.tile_size,
            progress=progress,
            jobs=task.tile_jobs,
            verify=task.verify,
            settings=task.settings,
            strip=task.strip,
            metadata=of_image(image, raw),
        )
    _write_target(task, data)
    subpixels = _subpixels(pixels)
    notes = [str(w.message) for w in caught if issubclass(w.category, FlowzipWarning)]
    lossy = lossy_format(raw, image)
    if lossy:
        notes.append(
            f"the .fzi is {len(data) / len(raw):.1f}x the size of the {lossy} file: flowzip keeps its decoded "
            f"pixels exactly, not the {lossy} file"
        )
    return Result(task, len(raw), len(data), len(data), subpixels, time.perf_counter() - start, "; ".join(notes))


def lossy_format(raw: bytes, image: Image.Image) -> str | None:
    """The name of the lossy format that ``raw`` (read as ``image``) is in, "JPEG" or "lossy WebP", or None: the
    pixels flowzip keeps are what such a file decodes to, which take more bytes than the file."""
    if image.format in ("JPEG", "MPO"):
        return "JPEG"
    if image.format == "WEBP":  # RIFF chunks: "VP8 " holds lossy data, "VP8L" lossless
        lossy, lossless = raw.find(b"VP8 ", 12), raw.find(b"VP8L", 12)
        if lossy >= 0 and (lossless < 0 or lossy < lossless):
            return "lossy WebP"
    return None


def _decoded(task: Task) -> tuple[bytes, ImageLike]:
    """The bytes of a task's .fzi file and the image they decode to: a PIL image, or 16-bit colour samples
    (H, W, C), which PIL has no mode for."""
    raw = read_bytes(task.source)
    mode = read_header(raw, task.max_pixels).mode
    with _tile_bar(task) as progress:
        if mode in ARRAY_ONLY_MODES:
            pixels = decompress(raw, task.model, task.max_pixels, progress, task.tile_jobs)
            return raw, pixels
        return raw, decompress_image(
            raw, model=task.model, max_pixels=task.max_pixels, progress=progress, jobs=task.tile_jobs
        )


def _subpixels(image: ImageLike) -> int:
    return image.size if isinstance(image, np.ndarray) else image.width * image.height * len(image.getbands())


def decompress_file(task: Task) -> Result:
    """Decompress a .fzi file to an image file in the lossless format the target's suffix names."""
    start = time.perf_counter()
    raw, image = _decoded(task)
    target = Path(task.target if task.target != "-" else "stdout.png")
    data, note = encode_output(image, target, read_header(raw).metadata)
    _write_target(task, data)
    return Result(task, len(raw), len(data), len(raw), _subpixels(image), time.perf_counter() - start, note)


def check_file(task: Task) -> Result:
    """Decode a .fzi file completely, as ``decompress_file`` would, and write nothing: the file is whole if its
    pixels come back with the checksum that was stored."""
    start = time.perf_counter()
    raw, image = _decoded(task)
    return Result(task, len(raw), len(raw), len(raw), _subpixels(image), time.perf_counter() - start, "")


@contextlib.contextmanager
def _tile_bar(task: Task) -> Iterator[Callable[[int, int], None]]:
    """A progress callback for the codec that shows a bar on a terminal when a file has many tiles."""
    bar: tqdm | None = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            show = task.tile_bar and total > 4
            bar = tqdm(
                total=total,
                unit="tile",
                desc=shown_name(task.source),
                leave=False,
                file=sys.stderr,
                disable=None if show else True,
            )
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def guarded(worker: Callable[[Task], Result], task: Task) -> Result:
    """Run one task; any failure becomes a one-line error that names the file, never a traceback."""
    try:
        return worker(task)
    except FlowzipError as e:
        return Result(task, error=naming(shown_name(task.source), str(e)))
    except MemoryError:
        return Result(task, error=f"{shown_name(task.source)}: out of memory")
    except OSError as e:  # a disk or network error while reading or writing: not a bug
        where = f"{e.filename}: " if e.filename and str(e.filename) != task.source else ""
        return Result(task, error=naming(shown_name(task.source), f"{where}{e.strerror or e}"))
    except Exception as e:  # a bug: still one line, and the other files go on
        error = f"internal error ({type(e).__name__}: {e}); please report it"
        return Result(task, error=f"{shown_name(task.source)}: {error}")


def _input_bytes(task: Task) -> int:
    """What coding a task's file costs, roughly: its size (0 if it cannot be read; its task says why)."""
    try:
        return os.path.getsize(task.source)
    except OSError:
        return 0


def _absolute(path: str) -> str:
    return os.path.abspath(path) if path else path


def _as_given(result: Result, task: Task) -> Result:
    """A worker's result about the absolute path of ``task``'s file, reported under the name the user gave."""
    error = result.error
    if error is not None and error.startswith(f"{result.task.source}:"):
        error = f"{task.source}{error[len(result.task.source) :]}"
    return dataclasses.replace(result, task=task, error=error)


def failed_result(task: Task, why: str) -> Result:
    return Result(task, error=naming(shown_name(task.source), why))


def _path_key(name: str) -> str:
    """What makes two paths one file: the same real path, in any case where the file system ignores it
    (macOS by default, and Windows)."""
    key = os.path.normcase(os.path.realpath(name))
    return key.casefold() if sys.platform == "darwin" else key


def refusals(tasks: list[Task]) -> dict[int, str]:
    """The tasks that must not run, by index, each with its one-line error, found before any file is coded: an
    output that is an input of the run, that another input would also write (whatever ``force`` says: one
    would overwrite the other), that exists already without ``force``, or whose folder is missing. Standard
    output and a test (no target) write no file."""
    writes = [t.target not in ("-", "") for t in tasks]
    writers: dict[str, list[int]] = {}
    for k, t in enumerate(tasks):
        if writes[k]:
            writers.setdefault(_path_key(t.target), []).append(k)
    inputs = {_path_key(t.source): t.source for t in tasks if t.source != "-"}
    refused: dict[int, str] = {}
    for k, task in enumerate(tasks):
        if not writes[k]:
            continue
        key = _path_key(task.target)
        others = [tasks[o].source for o in writers[key] if o != k]
        if key in inputs:
            other = "" if inputs[key] == task.source else f" {inputs[key]}"
            refused[k] = f"{task.target}: the output would replace the input{other}"
        elif others:
            refused[k] = (
                f"{task.target} would also be written for {', '.join(others)}: none of them was coded (code them "
                "one at a time, each with its own -o)"
            )
        elif not task.force and os.path.lexists(task.target):
            refused[k] = f"{task.target} already exists (use -f to overwrite, or -o or --out-dir to write elsewhere)"
        elif not task.make_dirs and not Path(task.target).parent.is_dir():
            refused[k] = f"{task.target}: no folder {Path(task.target).parent} to write it in"
    return refused


def run_tasks(
    worker: Callable[[Task], Result], tasks: list[Task], jobs: int, verbosity: int, scheduler: str | None = None
) -> int:
    """Run the tasks, report each on stderr (``verbosity`` -1: errors only, 1: with times), summarise several;
    return how many failed.

    What ``refusals`` finds fails first, before any file is coded. Several files are coded in ``jobs``
    processes, one file each, or with a ``scheduler`` address on that Dask cluster's workers
    (``flowzip.frontends.cluster``); a single file (or files through pipes) in this process, with ``jobs`` of its
    tiles at once.
    """
    refused = refusals(tasks)
    results = [Result(tasks[k], error=naming(shown_name(tasks[k].source), e)) for k, e in sorted(refused.items())]
    for r in results:
        click.echo(f"flowzip: {r.error}", err=True)
    tasks = [t for k, t in enumerate(tasks) if k not in refused]
    piped = any("-" in (t.source, t.target) for t in tasks)
    if scheduler and piped:
        raise FlowzipError("a pipe is coded in this process: --scheduler takes files")
    in_process = not scheduler and (jobs <= 1 or len(tasks) <= 1 or piped)
    if in_process:
        tasks = [dataclasses.replace(t, tile_bar=verbosity >= 0, tile_jobs=max(1, jobs)) for t in tasks]
    bar = tqdm(
        total=len(tasks),
        unit="file",
        disable=None if len(tasks) > 1 and verbosity >= 0 else True,
        file=sys.stderr,
        leave=False,
    )
    with contextlib.ExitStack() as stack:
        if in_process:
            stream = (guarded(worker, t) for t in tasks)
        elif scheduler:
            from flowzip.frontends.cluster import map_on_cluster

            # workers have other working folders: they get absolute paths, and the lines name files as given
            absolute = [dataclasses.replace(t, source=_absolute(t.source), target=_absolute(t.target)) for t in tasks]
            done = map_on_cluster(partial(guarded, worker), absolute, scheduler, failed_result, _input_bytes)
            stream = (_as_given(r, tasks[k]) for k, r in done)
        else:
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=jobs))  # tasks code tiles on one thread
            stream = pool.map(partial(guarded, worker), tasks)
        for r in stream:
            results.append(r)
            bar.update(1)
            if r.error:
                bar.write(f"flowzip: {r.error}", file=sys.stderr)
            elif verbosity >= 0:
                line = _report(r) + (f" ({r.seconds:.2f} s)" if verbosity > 0 else "")
                bar.write(line + (f"; warning: {r.note}" if r.note else ""), file=sys.stderr)
    bar.close()
    failed = sum(r.error is not None for r in results)
    done = [r for r in results if r.error is None]
    if len(results) > 1 and verbosity >= 0:
        subpixels = sum(r.subpixels for r in done)
        bpsp = f"{8 * sum(r.coded_bytes for r in done) / subpixels:.3f} bits/subpixel, " if subpixels else ""
        bytes_in, bytes_out = sum(r.bytes_in for r in done), sum(r.bytes_out for r in done)
        sizes = (
            f"{bytes_in} bytes decode exactly"
            if not results[0].task.target
            else f"{bytes_in} bytes in, {bytes_out} bytes out"
        )
        click.echo(f"{len(done)} files, {sizes}, {bpsp}{failed} failed", err=True)
    return failed


def _report(r: Result) -> str:
    source, target = shown_name(r.task.source), shown_name(r.task.target, "<stdout>")
    bpsp = 8 * r.coded_bytes / r.subpixels
    if not r.task.target:  # a test: nothing written
        return f"{source}: ok, {r.bytes_in} bytes decode exactly, {bpsp:.3f} bits/subpixel"
    return f"{source} -> {target}: {r.bytes_in} -> {r.bytes_out} bytes, {bpsp:.3f} bits/subpixel"


def shown_name(name: str, stream: str = "<stdin>") -> str:
    """How messages name a file: "-" is a stream."""
    return stream if name == "-" else name
