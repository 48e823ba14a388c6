"""The ``flowzip`` command: compress, decompress, info, bench and train.

Files are written to a temporary file beside the target and moved into place only when complete; an
existing file is never replaced without ``-f``; inputs are never removed. Every failure a user can cause is
one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
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
from tqdm import tqdm

from flowzip import __version__
from flowzip.codec import DEFAULT_TILE_SIZE, available_cores, compress, decompress_image, read_header
from flowzip.container import DEFAULT_MAX_PIXELS, FILE_SUFFIX, MODES
from flowzip.errors import FlowzipError, FlowzipWarning, file_errors
from flowzip.images import IMAGE_SUFFIXES, find_files, open_image
from flowzip.zoo import DEFAULT_MODEL, shipped_model_name, shipped_model_names

# Pillow formats that store every mode flowzip decodes to without loss, and the options that make them so
_LOSSLESS_OUTPUTS = {
    ".png": ("PNG", {}),
    ".webp": ("WEBP", {"lossless": True, "exact": True}),
    ".tif": ("TIFF", {}),
    ".tiff": ("TIFF", {}),
    ".bmp": ("BMP", {}),
}


def write_atomic(path: Path, data: bytes, overwrite: bool) -> None:
    """Write ``data`` to ``path`` through a temporary file; never replace an existing file unless asked."""
    if path.exists() and not overwrite:
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
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the output the usual permissions
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the path appeared meanwhile, unlike a rename
            except FileExistsError:
                raise FlowzipError(f"{path} already exists (use -f to overwrite)") from None
            except OSError:  # no hard links on this file system
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _encode_output(image, path: Path) -> bytes:
    fmt, options = _LOSSLESS_OUTPUTS.get(path.suffix.lower(), (None, None))
    if fmt is None:
        raise FlowzipError(f"{path}: choose a lossless output format ({', '.join(_LOSSLESS_OUTPUTS)})")
    # Pillow drops the transparency of these formats' saves without a word, but for WebP's P -> RGBA
    if "transparency" in image.info and fmt != "PNG" and (fmt, image.mode) != ("WEBP", "P"):
        raise FlowzipError(f"{path}: {fmt} cannot store the transparency of this {image.mode} image; write .png")
    buf = io.BytesIO()
    try:
        image.save(buf, fmt, **options)
    except (OSError, ValueError) as e:
        raise FlowzipError(f"{path}: cannot store a {image.mode} image as {fmt} ({e})") from None
    return buf.getvalue()


def _read_bytes(name: str) -> bytes:
    """The bytes of a file, or of standard input for "-"."""
    if name == "-":
        return sys.stdin.buffer.read()
    with file_errors(name):
        return Path(name).read_bytes()


@dataclass
class _Task:
    """One file to code: where from, where to, and the options (picklable, for worker processes)."""

    source: str  # a path, or "-" for stdin
    target: str  # a path, or "-" for stdout
    force: bool
    model: str | None
    tile_size: int = DEFAULT_TILE_SIZE
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    tile_bar: bool = False  # show a progress bar over the tiles of this file (in-process runs only)
    tile_jobs: int = 1  # tiles of this file coded at once (threads); files in worker processes use one


@dataclass
class _Result:
    task: _Task
    bytes_in: int = 0
    bytes_out: int = 0
    coded_bytes: int = 0  # the size of the .fzi side
    subpixels: int = 0
    seconds: float = 0.0
    note: str = ""
    error: str | None = None


def _read_source(task: _Task) -> bytes:
    if "-" not in (task.source, task.target) and Path(task.target).resolve() == Path(task.source).resolve():
        raise FlowzipError(f"{task.target}: the output would replace the input")
    return _read_bytes(task.source)


def _write_target(target: str, data: bytes, force: bool) -> None:
    if target == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_atomic(Path(target), data, force)


def _compress_task(task: _Task) -> _Result:
    start = time.perf_counter()
    raw = _read_source(task)
    image = open_image(io.BytesIO(raw), _show(task.source))
    with _tile_bar(task) as progress, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FlowzipWarning)
        data = compress(
            image, model=task.model or DEFAULT_MODEL, tile_size=task.tile_size, progress=progress, jobs=task.tile_jobs
        )
    _write_target(task.target, data, task.force)
    subpixels = image.width * image.height * len(image.getbands())
    note = "; ".join(str(w.message) for w in caught if issubclass(w.category, FlowzipWarning))
    return _Result(task, len(raw), len(data), len(data), subpixels, time.perf_counter() - start, note)


def _decompress_task(task: _Task) -> _Result:
    start = time.perf_counter()
    raw = _read_source(task)
    with _tile_bar(task) as progress:
        image = decompress_image(
            raw, model=task.model, max_pixels=task.max_pixels, progress=progress, jobs=task.tile_jobs
        )
    data = _encode_output(image, Path(task.target if task.target != "-" else "stdout.png"))
    _write_target(task.target, data, task.force)
    subpixels = image.width * image.height * len(image.getbands())
    return _Result(task, len(raw), len(data), len(raw), subpixels, time.perf_counter() - start)


@contextlib.contextmanager
def _tile_bar(task: _Task) -> Iterator[Callable[[int, int], None]]:
    """A progress callback for the codec that shows a bar on a terminal when a file has many tiles."""
    bar: tqdm | None = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            show = task.tile_bar and total > 4
            bar = tqdm(
                total=total,
                unit="tile",
                desc=_show(task.source),
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


def _guarded(worker: Callable[[_Task], _Result], task: _Task) -> _Result:
    """Run one task; any failure becomes a one-line error that names the file, never a traceback."""
    try:
        return worker(task)
    except FlowzipError as e:
        return _Result(task, error=_naming(_show(task.source), str(e)))
    except MemoryError:
        return _Result(task, error=f"{_show(task.source)}: out of memory")
    except Exception as e:  # a bug: still one line, and the other files go on
        error = f"internal error ({type(e).__name__}: {e}); please report it"
        return _Result(task, error=f"{_show(task.source)}: {error}")


def _naming(name: str, message: str) -> str:
    """``message`` as a line that starts with the file it is about."""
    return message if message.startswith(f"{name}:") else f"{name}: {message}"


def _run(worker: Callable[[_Task], _Result], tasks: list[_Task], jobs: int, verbosity: int) -> None:
    """Run the tasks, report each, summarise several; exit 1 if any failed.

    Several files are coded in ``jobs`` processes, one file each; a single file (or files through pipes) in
    this process, with ``jobs`` of its tiles at once.
    """
    in_process = jobs <= 1 or len(tasks) <= 1 or any("-" in (t.source, t.target) for t in tasks)
    if in_process:
        tasks = [dataclasses.replace(t, tile_bar=verbosity >= 0, tile_jobs=max(1, jobs)) for t in tasks]
    bar = tqdm(
        total=len(tasks),
        unit="file",
        disable=None if len(tasks) > 1 and verbosity >= 0 else True,
        file=sys.stderr,
        leave=False,
    )
    results: list[_Result] = []
    with contextlib.ExitStack() as stack:
        if in_process:
            stream = (_guarded(worker, t) for t in tasks)
        else:
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=jobs))  # tasks code tiles on one thread
            stream = pool.map(partial(_guarded, worker), tasks)
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
        click.echo(
            f"{len(done)} files, {sum(r.bytes_in for r in done)} bytes in, {sum(r.bytes_out for r in done)} bytes "
            f"out, {bpsp}{failed} failed",
            err=True,
        )
    if failed:
        sys.exit(1)


def _report(r: _Result) -> str:
    source, target = _show(r.task.source), _show(r.task.target, "<stdout>")
    bpsp = 8 * r.coded_bytes / r.subpixels
    return f"{source} -> {target}: {r.bytes_in} -> {r.bytes_out} bytes, {bpsp:.3f} bits/subpixel"


def _show(name: str, stream: str = "<stdin>") -> str:
    """How messages name a file: "-" is a stream."""
    return stream if name == "-" else name


def _targets(files: list[str], output: Path | None, to_stdout: bool, name_target: Callable[[Path], Path]) -> list[str]:
    if output is not None and to_stdout:
        raise click.UsageError("-o/--output and -c/--stdout exclude each other: choose where the output goes")
    if (output is not None or to_stdout) and len(files) != 1:
        raise click.UsageError("-o/--output and -c/--stdout take a single input file")
    if to_stdout or (files == ["-"] and output is None):
        if sys.stdout.isatty():
            raise FlowzipError("not writing binary data to a terminal (redirect the output, or use -o)")
        return ["-"]
    if output is not None:
        return [str(output)]
    return [str(name_target(Path(f))) for f in files]


def _decompressed_name(path: Path) -> Path:
    if path.suffix != FILE_SUFFIX:
        raise FlowzipError(f"{path}: unknown suffix, expected {FILE_SUFFIX} (or give -o)")
    return path.with_suffix(".png")


def _common_options(func: Callable) -> Callable:
    options = [
        click.argument("inputs", nargs=-1, required=True),
        click.option("-o", "--output", type=click.Path(path_type=Path), help="Output file (one input only)."),
        click.option("-c", "--stdout", "to_stdout", is_flag=True, help="Write to standard output (one input)."),
        click.option("-f", "--force", is_flag=True, help="Overwrite existing output files."),
        click.option("-r", "--recursive", is_flag=True, help="Code the files in directories given as inputs."),
        click.option(
            "-j",
            "--jobs",
            type=click.IntRange(min=1),
            default=available_cores(),
            show_default="all cores",
            help="CPU cores to use: N files at once (separate processes), or for a single file N threads.",
        ),
        click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors."),
        click.option("-v", "--verbose", is_flag=True, help="Also print the time each file took."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _exit_on_error(body: Callable[[], None]) -> None:
    try:
        body()
    except FlowzipError as e:
        click.echo(f"flowzip: {e}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:  # temporary files are already removed by write_atomic
        click.echo("flowzip: interrupted", err=True)
        sys.exit(130)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowzip")
def main() -> None:
    """flowzip: lossless image compression with a learned integer flow.

    \b
    flowzip compress photo.png          writes photo.fzi
    flowzip decompress photo.fzi        writes photo.png
    flowzip info photo.fzi              describes a .fzi file
    flowzip bench photos/ --compare png,webp
                                        bits per subpixel beside other codecs
    flowzip train DATA --out RUN        trains a model
    """


@dataclass
class _CommonOptions:
    """The options compress and decompress share (see ``_common_options``)."""

    inputs: tuple[str, ...]
    output: Path | None
    to_stdout: bool
    force: bool
    recursive: bool
    jobs: int
    quiet: bool
    verbose: bool


def _code_files(
    worker: Callable[[_Task], _Result],
    common: _CommonOptions,
    suffixes: set[str],
    name_target: Callable[[Path], Path],
    **options: object,
) -> None:
    """Expand the inputs, name the outputs and run ``worker`` on every file; exit 1 on any failure."""

    def body() -> None:
        files = find_files(common.inputs, suffixes, common.recursive)
        targets = _targets(files, common.output, common.to_stdout, name_target)
        tasks = [_Task(f, t, common.force, **options) for f, t in zip(files, targets, strict=True)]
        _run(worker, tasks, common.jobs, -1 if common.quiet else int(common.verbose))

    _exit_on_error(body)


@main.command("compress")
@_common_options
@click.option(
    "-m",
    "--model",
    default=DEFAULT_MODEL,
    show_default=True,
    help=f"A shipped model ({', '.join(shipped_model_names()) or 'none installed'}) or a model file.",
)
@click.option("--tile-size", default=DEFAULT_TILE_SIZE, show_default=True, help="Tile side, a power of two.")
def compress_cmd(model: str, tile_size: int, **common: object) -> None:
    """Compress images (PNG, WebP, ... any format Pillow reads) to .fzi files; "-" reads standard input.

    \b
    flowzip compress photo.png               writes photo.fzi
    flowzip compress - < in.png > out.fzi    a pipe
    flowzip compress -r photos/              every image under photos/, next to its source
    """
    _code_files(
        _compress_task,
        _CommonOptions(**common),
        IMAGE_SUFFIXES,
        lambda p: p.with_suffix(FILE_SUFFIX),
        model=model,
        tile_size=tile_size,
    )


@main.command("decompress")
@_common_options
@click.option("-m", "--model", default=None, help="Model file to decode with, if not a shipped model.")
@click.option("--max-pixels", default=DEFAULT_MAX_PIXELS, show_default=True, help="Refuse larger images (0: no limit).")
def decompress_cmd(model: str | None, max_pixels: int, **common: object) -> None:
    """Decompress .fzi files to images (PNG unless -o names .webp, .tif or .bmp); "-" reads standard input.

    \b
    flowzip decompress photo.fzi             writes photo.png
    flowzip decompress - < in.fzi > out.png  a pipe
    flowzip decompress -r photos/            every .fzi file under photos/
    """
    _code_files(
        _decompress_task,
        _CommonOptions(**common),
        {FILE_SUFFIX},
        _decompressed_name,
        model=model,
        max_pixels=max_pixels or None,
    )


@main.command("info")
@click.argument("inputs", nargs=-1, required=True)
def info_cmd(inputs: tuple[str, ...]) -> None:
    """Describe .fzi files ("-": standard input): image size and mode, model, size, bits per subpixel, tiles."""

    def describe(name: str) -> None:
        data = _read_bytes(name)
        h = read_header(data)
        layout = MODES[h.mode]
        subpixels = h.width * h.height * layout.planes
        lines = [
            f"{_show(name)}:",
            f"  image      {h.width}x{h.height} {h.mode} (decodes to {_KIND_NAMES[h.kind]})",
            f"  size       {len(data)} bytes, {8 * len(data) / subpixels:.3f} bits/subpixel",
        ]
        if layout.rgb_planes:
            rows, cols = h.tile_grid
            lines += [
                f"  model      {h.model_id.hex()}{_model_name(h.model_id)}",
                f"  tiles      {cols}x{rows} of {h.tile_size}x{h.tile_size} (across x down, as the image size)",
            ]
        if h.colour_key is not None:
            lines.append(f"  colour key {', '.join(map(str, h.colour_key))} (shown transparent)")
        if h.icc_profile:
            lines.append(f"  ICC        {len(h.icc_profile)} bytes")
        click.echo("\n".join(lines))

    failed = False
    for name in inputs:
        try:
            describe(name)
        except FlowzipError as e:
            click.echo(f"flowzip: {_naming(_show(name), str(e))}", err=True)
            failed = True
    if failed:
        sys.exit(1)


_KIND_NAMES = {"image": "a PIL image", "array": "a numpy array (H, W, C)", "array2d": "a numpy array (H, W)"}


@main.command("bench")
@click.argument("paths", nargs=-1, required=True)
@click.option("-m", "--model", default=DEFAULT_MODEL, show_default=True, help="A shipped model's name or a model file.")
@click.option(
    "--compare",
    default="",
    metavar="CODECS",
    help="Also code every image with these, comma-separated: png, webp, jpegls, jxl (effort 7), jxl-eN.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N images.")
@click.option("--native", is_flag=True, help="Keep each image's mode (L, P, 1, RGBA...) instead of converting to RGB.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write every number to this file.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing --json file.")
def bench_cmd(
    paths: tuple[str, ...],
    model: str,
    compare: str,
    limit: int | None,
    native: bool,
    json_path: Path | None,
    force: bool,
) -> None:
    """Measure flowzip on PATHS: folders of images (converted to RGB, or with --native as they are) or .npy
    uint8 arrays (N, H, W, 3).

    For each image: the flow's bits per dimension (-log2 likelihood / subpixels, for images with RGB), the
    size of a complete .fzi file, encode and decode time, and a pixel-for-pixel check of the decode; with
    --compare, the same for classical codecs (jpegls and jxl need the optional imagecodecs package). Prints a
    markdown table of the totals (total bits / total subpixels) and, beside PNG, flowzip's worst ratio to it.

    \b
    flowzip bench ../shared/data/dev/cbsd68 --compare png,webp,jxl
    flowzip bench ../shared/data/dev/waterloo --native --compare png,webp
    flowzip bench cifar10-test.npy --limit 1000 --json cifar.json
    """
    from flowzip.bench import bench, classical_codec
    from flowzip.images import dataset_images
    from flowzip.zoo import load_model

    def run() -> None:
        if json_path is not None and json_path.exists() and not force:
            raise FlowzipError(f"{json_path} already exists (use -f to overwrite)")
        codecs = [classical_codec(name.strip()) for name in compare.split(",") if name.strip()]
        m = load_model(model)
        count, images = dataset_images(list(paths), limit, native)
        with tqdm(total=count, unit="image", file=sys.stderr, disable=None, leave=False) as bar:

            def progress(result) -> None:
                bar.update(1)
                bar.set_postfix(bpsp=f"{next(iter(result.codecs.values())).bits / result.subpixels:.3f}")

            result = bench(images, m, codecs, progress)
        click.echo(result.markdown())
        if json_path is not None:
            write_atomic(json_path, json.dumps(result.to_json(), indent=1).encode(), overwrite=force)

    _exit_on_error(run)


@main.command("train")
@click.argument("data", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (resumed if it exists).")
@click.option("--name", default="model", show_default=True, help="Name of the exported model.")
@click.option("--levels", default=3, show_default=True)
@click.option("--steps-per-level", "flow_steps", default=4, show_default=True)
@click.option("--hidden", default=48, show_default=True, help="Channels of the coupling networks.")
@click.option("--prior-hidden", default=48, show_default=True, help="Channels of the prior networks.")
@click.option("--blocks", default=1, show_default=True, help="Residual blocks per network.")
@click.option(
    "--prior-chunks", default=1, show_default=True, help="Channel chunks per prior, each conditioned on those before."
)
@click.option("--chunk-hidden", default=24, show_default=True, help="Channels of the chunk-conditioning networks.")
@click.option("--family", type=click.Choice(["gaussian", "laplace"]), default="gaussian", show_default=True)
@click.option("--crop", default=64, show_default=True)
@click.option("--batch", default=16, show_default=True)
@click.option("--steps", default=40_000, show_default=True, help="Length of the learning-rate schedule.")
@click.option("--lr", default=1e-3, show_default=True)
@click.option("--warmup", default=300, show_default=True)
@click.option("--val-every", default=250, show_default=True)
@click.option("--stop-at-step", type=int, help="End this run at this step (resume later).")
@click.option("--time-limit", type=float, help="End this run after this many seconds (resume later).")
@click.option("--threads", default=0, help="CPU threads (0: PyTorch's default).")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--init",
    help="Start from this model's weights (a name or .fzm file; same architecture, or more --prior-chunks).",
)
@click.option("--optimizer", type=click.Choice(["adam", "adamax"]), default="adam", show_default=True)
@click.option(
    "--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N (under torchrun: cuda = one GPU each)."
)
def train_cmd(
    data: tuple[str, ...],
    out: Path,
    name: str,
    levels: int,
    flow_steps: int,
    hidden: int,
    prior_hidden: int,
    blocks: int,
    prior_chunks: int,
    chunk_hidden: int,
    family: str,
    crop: int,
    batch: int,
    steps: int,
    lr: float,
    warmup: int,
    val_every: int,
    stop_at_step: int | None,
    time_limit: float | None,
    threads: int,
    seed: int,
    init: str | None,
    optimizer: str,
    device: str,
) -> None:
    """Train a model on DATA: folders of images or .npy uint8 arrays (N, H, W, 3).

    Writes OUT/checkpoint.pt, OUT/log.jsonl and OUT/NAME.fzm (the shippable EMA model); run the same command
    again to resume. For several processes (CPU: gloo; GPUs: NCCL, one per process), launch it with torchrun:

    \b
    torchrun --nproc_per_node 2 -m flowzip train DATA --out runs/x --batch 16
    (each process trains on --batch crops of every step: the global batch is 2 x 16)
    """
    from flowzip.model import FlowConfig
    from flowzip.train import TrainConfig, train

    flow = FlowConfig(
        levels=levels,
        steps=flow_steps,
        hidden=hidden,
        blocks=blocks,
        prior_hidden=prior_hidden,
        family=family,
        prior_chunks=prior_chunks,
        chunk_hidden=chunk_hidden,
    )
    cfg = TrainConfig(
        data=list(data),
        out=str(out),
        name=name,
        flow=flow,
        crop=crop,
        batch=batch,
        steps=steps,
        lr=lr,
        warmup=warmup,
        val_every=val_every,
        seed=seed,
        threads=threads,
        init=init,
        optimizer=optimizer,
        device=device,
    )
    _exit_on_error(lambda: click.echo(f"model written to {train(cfg, stop_at_step, time_limit)}"))


def _model_name(model_id: bytes) -> str:
    name = shipped_model_name(model_id)
    return f" (shipped model '{name}')" if name else " (not a shipped model)"


if __name__ == "__main__":
    main()
