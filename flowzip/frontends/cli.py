"""The ``flowzip`` command: compress, decompress, test, info, bench and train.

This module turns options into work; ``flowzip.frontends.batch`` codes the files (atomic outputs, worker processes,
progress). An existing file is never replaced without ``-f``; inputs are never removed. Every failure a user
can cause is one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from flowzip import __version__
from flowzip.codec import DEFAULT_TILE_SIZE, CodedSection, available_cores, coded_sections, read_header
from flowzip.container import DEFAULT_MAX_PIXELS, FILE_SUFFIX, MODES
from flowzip.errors import FlowzipError, naming
from flowzip.frontends.batch import (
    Result,
    Task,
    check_file,
    compress_file,
    decompress_file,
    read_bytes,
    run_tasks,
    shown_name,
    write_atomic,
)
from flowzip.images import IMAGE_SUFFIXES, FoundFile, find_files
from flowzip.learned.config import FlowConfig, TrainConfig
from flowzip.learned.zoo import (
    LARGE_IMAGE_MODEL,
    SMALL_IMAGE_MODEL,
    SMALL_IMAGE_SIDE,
    current_model_names,
    shipped_model_name,
)
from flowzip.settings import DEFAULT_EFFORT, EFFORTS


def _targets(
    files: list[FoundFile],
    output: Path | None,
    to_stdout: bool,
    out_dir: Path | None,
    name_target: Callable[[Path], Path],
) -> list[str]:
    """Each file's output: -o's, standard output (-c, or "-" in and no -o), in ``out_dir`` at the file's path
    below its input folder, or beside the file; named by ``name_target`` where not given."""
    if sum((output is not None, to_stdout, out_dir is not None)) > 1:
        raise click.UsageError("-o/--output, -c/--stdout and --out-dir exclude each other: choose where outputs go")
    if (output is not None or to_stdout) and len(files) != 1:
        raise click.UsageError("-o/--output and -c/--stdout take a single input file")
    if to_stdout or ([f.path for f in files] == ["-"] and output is None and out_dir is None):
        if sys.stdout.isatty():
            raise FlowzipError("not writing binary data to a terminal (redirect the output, or use -o)")
        return ["-"]
    if output is not None:
        return [str(output)]
    if out_dir is not None:
        if any(f.path == "-" for f in files):
            raise click.UsageError("--out-dir names outputs after their inputs: standard input has no name (use -o)")
        return [str(name_target(out_dir / f.below)) for f in files]
    return [str(name_target(Path(f.path))) for f in files]


def _decompressed_name(path: Path) -> Path:
    if path.suffix.lower() != FILE_SUFFIX:
        raise FlowzipError(f"{path}: unknown suffix, expected {FILE_SUFFIX} (or give -o)")
    return path.with_suffix(".png")


_scheduler_option = click.option(
    "--scheduler",
    envvar="DASK_SCHEDULER_ADDRESS",
    metavar="ADDRESS",
    help="Run on this Dask cluster (tcp://host:8786; default: $DASK_SCHEDULER_ADDRESS), whose workers read and "
    "write the files themselves. Needs pip install 'flowzip[dask]'.",
)


def _run_options(func: Callable) -> Callable:
    """The options of every command that works through files: which, how many at once, how much to say."""
    options = [
        click.argument("inputs", nargs=-1, required=True),
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
        _scheduler_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _output_options(func: Callable) -> Callable:
    """The options of compress and decompress: where the outputs go."""
    options = [
        click.option("-o", "--output", type=click.Path(path_type=Path), help="Output file (one input only)."),
        click.option("-c", "--stdout", "to_stdout", is_flag=True, help="Write to standard output (one input)."),
        click.option(
            "--out-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Write outputs to this folder (made if missing), at each file's path below the folder given as input.",
        ),
        click.option("-f", "--force", is_flag=True, help="Overwrite existing output files."),
        click.option(
            "--skip-existing", is_flag=True, help="Leave out inputs whose output exists already (incremental runs)."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return _run_options(func)


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
    flowzip test photo.fzi              checks that a .fzi file decodes exactly
    flowzip info photo.fzi              describes a .fzi file
    flowzip bench photos/ --compare png,webp
                                        bits per subpixel beside other codecs
    flowzip train DATA --out RUN        trains a model
    """


@dataclass
class _CommonOptions:
    """The options of the commands that work through files (``_run_options``, ``_output_options``)."""

    inputs: tuple[str, ...]
    recursive: bool
    jobs: int
    quiet: bool
    verbose: bool
    scheduler: str | None = None
    output: Path | None = None
    to_stdout: bool = False
    out_dir: Path | None = None
    force: bool = False
    skip_existing: bool = False


def _code_files(
    worker: Callable[[Task], Result],
    common: _CommonOptions,
    suffixes: set[str],
    name_target: Callable[[Path], Path] | None,
    left_out_kind: str = "",
    **options: object,
) -> None:
    """Expand the inputs, name the outputs (none without ``name_target``) and run ``worker`` on every file;
    exit 1 on any failure. Files that folders hold but ``suffixes`` leave out are listed if ``left_out_kind``
    says what they are."""

    def body() -> None:
        if common.force and common.skip_existing:
            raise click.UsageError("-f/--force and --skip-existing exclude each other: overwrite, or leave out")
        left_out: list[str] = []
        files = find_files(common.inputs, suffixes, common.recursive, left_out)
        if left_out and left_out_kind and not common.quiet:
            shown = ", ".join(left_out[:3]) + (f" and {len(left_out) - 3} more" if len(left_out) > 3 else "")
            count = f"{len(left_out)} file{'s' * (len(left_out) > 1)}"
            click.echo(f"flowzip: left out {count}, {left_out_kind}: {shown}", err=True)
        if name_target is None:
            targets = [""] * len(files)
        else:
            targets = _targets(files, common.output, common.to_stdout, common.out_dir, name_target)
        made = common.out_dir is not None
        tasks = [Task(f.path, t, common.force, make_dirs=made, **options) for f, t in zip(files, targets, strict=True)]
        if common.skip_existing:
            exists = [t.target not in ("", "-") and os.path.lexists(t.target) for t in tasks]
            for t in (t for t, e in zip(tasks, exists, strict=True) if e and not common.quiet):
                click.echo(f"flowzip: {t.source}: skipped, {t.target} exists", err=True)
            tasks = [t for t, e in zip(tasks, exists, strict=True) if not e]
        if run_tasks(worker, tasks, common.jobs, -1 if common.quiet else int(common.verbose), common.scheduler):
            sys.exit(1)

    _exit_on_error(body)


_effort_option = click.option(
    "-e",
    "--effort",
    type=click.IntRange(1, max(EFFORTS)),
    default=DEFAULT_EFFORT,
    show_default=True,
    help="1: the classical coder alone, no learned model (fastest); 2: learned models only where they can pay; "
    "3: learned models tried on every tile of every image, and photos also coded whole (slowest).",
)


@main.command("compress")
@_output_options
@click.option(
    "-m",
    "--model",
    default=None,
    help=f"A shipped model ({', '.join(current_model_names()) or 'none installed'}) or a model file.  [default: "
    f"{SMALL_IMAGE_MODEL} for images of at most {SMALL_IMAGE_SIDE}x{SMALL_IMAGE_SIDE} pixels, "
    f"else {LARGE_IMAGE_MODEL}]. Older models stay shipped only so that their files decode.",
)
@click.option(
    "--tile-size",
    default=DEFAULT_TILE_SIZE,
    show_default=True,
    help="Tile side, a power of two (the file may keep one tile for the whole image instead, where that is smaller).",
)
@_effort_option
@click.option(
    "--verify", is_flag=True, help="Decode each file and compare it with its input before writing it (slower)."
)
@click.option("--first-frame", is_flag=True, help="Code only the first frame of an animation (refused without this).")
@click.option(
    "--strip",
    is_flag=True,
    help="Keep no metadata (EXIF, XMP, IPTC, comments, PNG chunks) but the ICC profile (what the colours mean).",
)
def compress_cmd(
    model: str | None, tile_size: int, effort: int, verify: bool, first_frame: bool, strip: bool, **common: object
) -> None:
    """Compress images (PNG, WebP, ... any format Pillow reads) to .fzi files; "-" reads standard input.

    Each output keeps its input's metadata (ICC profile, EXIF, XMP, IPTC, comment, resolution, and a PNG's
    every ancillary chunk byte for byte; `flowzip info` lists them), and gets its input's permission bits and
    modification time. A JPEG or lossy WebP input is kept as the pixels it decodes to, exactly, which takes more
    bytes than the file itself: the report line says how many times more.

    \b
    flowzip compress photo.png               writes photo.fzi
    flowzip compress - < in.png > out.fzi    a pipe
    flowzip compress -r photos/              every image under photos/, next to its source
    """
    output = common["output"]
    if isinstance(output, Path) and output.suffix.lower() in IMAGE_SUFFIXES:
        raise click.UsageError(
            f"{output}: compress writes a {FILE_SUFFIX} file, not {output.suffix} (name it {FILE_SUFFIX})"
        )
    _code_files(
        compress_file,
        _CommonOptions(**common),
        IMAGE_SUFFIXES,
        lambda p: p.with_suffix(FILE_SUFFIX),
        "not images Pillow reads",
        model=model,
        tile_size=tile_size,
        verify=verify,
        settings=EFFORTS[effort],
        first_frame=first_frame,
        strip=strip,
    )


_decode_model_option = click.option(
    "-m", "--model", default=None, help="Model file to decode with, if not a shipped model."
)
_max_pixels_option = click.option(
    "--max-pixels", default=DEFAULT_MAX_PIXELS, show_default=True, help="Refuse larger images (0: no limit)."
)


@main.command("decompress")
@_output_options
@_decode_model_option
@_max_pixels_option
def decompress_cmd(model: str | None, max_pixels: int, **common: object) -> None:
    """Decompress .fzi files to images (PNG unless -o names .webp, .tif or .bmp); "-" reads standard input.

    Each output gets its .fzi file's permission bits and modification time, and the image's metadata as far as
    its format holds them (a PNG all, WebP the ICC profile, EXIF and XMP, TIFF all but PNG chunks and comments,
    BMP the resolution); what it cannot hold is named in a warning.

    \b
    flowzip decompress photo.fzi             writes photo.png
    flowzip decompress - < in.fzi > out.png  a pipe
    flowzip decompress -r photos/            every .fzi file under photos/
    """
    _code_files(
        decompress_file,
        _CommonOptions(**common),
        {FILE_SUFFIX},
        _decompressed_name,
        model=model,
        max_pixels=max_pixels or None,
    )


@main.command("test")
@_run_options
@_decode_model_option
@_max_pixels_option
def test_cmd(model: str | None, max_pixels: int, **common: object) -> None:
    """Check .fzi files: decode each one whole, compare its checksum, and write nothing ("-": standard input).

    \b
    flowzip test photo.fzi                   says whether photo.fzi decodes exactly
    flowzip test -r archive/                 every .fzi file under archive/; exit status 1 if any fails
    """
    _code_files(check_file, _CommonOptions(**common), {FILE_SUFFIX}, None, model=model, max_pixels=max_pixels or None)


@main.command("info")
@click.argument("inputs", nargs=-1, required=True)
def info_cmd(inputs: tuple[str, ...]) -> None:
    """Describe .fzi files ("-": standard input): image size and mode, model, size, bits per subpixel, tiles."""

    def describe(name: str) -> None:
        data = read_bytes(name)
        h = read_header(data)
        layout = MODES[h.mode]
        subpixels = h.width * h.height * layout.planes
        lines = [
            f"{shown_name(name)}:",
            f"  image      {h.width}x{h.height} {h.mode} (decodes to {_KIND_NAMES[h.kind]})",
            f"  size       {len(data)} bytes, {8 * len(data) / subpixels:.3f} bits/subpixel",
        ]
        sections = coded_sections(data)
        if layout.rgb_planes:
            rows, cols = h.tile_counts
            used = any(s.tool == "flow" for s in sections)
            model = f"{h.model_id.hex()}{_model_name(h.model_id)}"
            lines += [
                f"  model      {model}" if used else f"  model      none used (the header names {model})",
                f"  tiles      {rows * cols} of up to {h.tile_size}x{h.tile_size} pixels, {cols} across and {rows} down"
                if rows * cols > 1
                else "  tiles      1, the whole image",
            ]
        by_tool: dict[str, list[CodedSection]] = {}
        for s in sections:
            by_tool.setdefault(s.tool, []).append(s)
        for tool, group in by_tool.items():
            size, count = sum(s.size for s in group), len(group)
            unit = {"plane": "plane", "deep": "section"}.get(tool, "tile")
            what = f"{count} {unit}{'s' * (count > 1)}"
            if tool == "deep":
                what += f" ({'; '.join(s.path.removeprefix('deep: ') for s in group)})"
            bits = 8 * size / sum(s.subpixels for s in group)
            lines.append(f"  {tool:<10} {what}, {size} bytes, {bits:.3f} bits/subpixel")
        if h.colour_key is not None:
            lines.append(f"  colour key {', '.join(map(str, h.colour_key))} (shown transparent)")
        if h.metadata:
            lines.append(f"  metadata   {'; '.join(h.metadata.describe())}")
        click.echo("\n".join(lines))

    failed = False
    for name in inputs:
        try:
            describe(name)
        except FlowzipError as e:
            click.echo(f"flowzip: {naming(shown_name(name), str(e))}", err=True)
            failed = True
    if failed:
        sys.exit(1)


_KIND_NAMES = {"image": "a PIL image", "array": "a numpy array (H, W, C)", "array2d": "a numpy array (H, W)"}


_JSON_EVERY_S = 60.0  # bench --json rewrites its file this often, so that a stopped run can resume


@main.command("bench")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-m", "--model", default=None, help="A shipped model's name or a model file.  [default: as compress chooses]"
)
@_effort_option
@click.option(
    "--compare",
    default="",
    metavar="CODECS",
    help="Also code every image with these, comma-separated: png, webp, jpegls, jxl (effort 7), jxl-eN.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N images.")
@click.option("--native", is_flag=True, help="Keep each image's mode (L, P, 1, RGBA...) instead of converting to RGB.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path),
    help="Also write every number to this file (rewritten every minute as the run goes on).",
)
@click.option("--resume", is_flag=True, help="Go on with the run that --json's file holds: code only what it lacks.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing --json file.")
@_scheduler_option
def bench_cmd(
    paths: tuple[str, ...],
    model: str | None,
    effort: int,
    compare: str,
    limit: int | None,
    native: bool,
    json_path: Path | None,
    resume: bool,
    force: bool,
    scheduler: str | None,
) -> None:
    """Measure flowzip on PATHS: folders of images (converted to RGB, or with --native as they are) or .npy
    uint8 arrays (N, H, W, 3).

    For each image: the flow's bits per dimension (-log2 likelihood / subpixels, for images with RGB), the
    size of a complete .fzi file, encode and decode time, and a pixel-for-pixel check of the decode; with
    --compare, the same for classical codecs (jpegls and jxl need the optional imagecodecs package). Prints a
    markdown table of the totals (total bits / total subpixels) and, beside PNG, flowzip's worst ratio to it.
    Files that cannot be read are left out and listed. Progress is a bar on a terminal, else a line per image.

    \b
    flowzip bench photos/ --compare png,webp,jxl
    flowzip bench scans/ --native --compare png,webp
    flowzip bench images.npy --limit 1000 --json run.json      (again with --resume after a stop)
    """
    from flowzip.frontends.bench import BenchResult, bench, reference_codec
    from flowzip.images import dataset_images
    from flowzip.learned.zoo import load_model

    def run() -> None:
        if resume and json_path is None:
            raise click.UsageError("--resume goes on with the run in the --json file: name it")
        done = None
        if json_path is not None and json_path.exists():
            if resume:
                try:
                    done = BenchResult.from_json(json.loads(json_path.read_bytes()))
                except (ValueError, KeyError, TypeError) as e:
                    raise FlowzipError(f"{json_path}: not a bench result to resume ({e})") from None
                except FlowzipError as e:
                    raise FlowzipError(f"{json_path}: {e}") from None
            elif not force:
                raise FlowzipError(f"{json_path} already exists (use -f to overwrite, or --resume to go on with it)")
        codecs = [reference_codec(name.strip()) for name in compare.split(",") if name.strip()]
        m = load_model(model) if model else None
        unreadable: list[str] = []
        count, images = dataset_images(list(paths), limit, native, unreadable)
        saved = time.monotonic()

        def save(result: BenchResult) -> None:
            result.unreadable = unreadable if done is None else sorted(set(done.unreadable) | set(unreadable))
            if json_path is not None:
                write_atomic(json_path, json.dumps(result.to_json(), indent=1).encode(), overwrite=True)

        with tqdm(total=count, unit="image", file=sys.stderr, disable=None, leave=False) as bar:

            def progress(result: BenchResult) -> None:
                nonlocal saved
                row, flowzip_name = result.per_image[-1], next(iter(result.codecs))
                total = result.codecs[flowzip_name].bits / result.subpixels
                if bar.disable:  # a log, not a terminal: one line per image
                    click.echo(
                        f"[{result.images}/{count}] {row['name']}: "
                        f"{row[flowzip_name] / row['subpixels']:.3f} bits/subpixel (all so far {total:.3f})",
                        err=True,
                    )
                bar.update(result.images + len(unreadable) - bar.n)
                bar.set_postfix(bpsp=f"{total:.3f}")
                if time.monotonic() - saved > _JSON_EVERY_S:
                    save(result)
                    saved = time.monotonic()

            result = bench(images, m, codecs, progress, effort, done, scheduler)
        if not result.images:
            more = f" (and {len(unreadable) - 1} more files that could not be read)" if len(unreadable) > 1 else ""
            raise FlowzipError(f"{unreadable[0]}{more}")
        save(result)
        for line in unreadable:
            click.echo(f"flowzip: {line} (left out)", err=True)
        click.echo(result.markdown())

    _exit_on_error(run)


def _options_from(config: type, prefix: str = "") -> Callable[[Callable], Callable]:
    """Click options for the settings of a config dataclass (``flowzip.learned.config``): each field with a default
    becomes ``--field-name`` (or its ``flag``) with that default, its ``choices`` and its help; the command gets
    it as ``prefix + field name``."""

    def decorate(func: Callable) -> Callable:
        for f in reversed(dataclasses.fields(config)):
            if "help" not in f.metadata:
                continue
            flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
            kind = click.Choice(f.metadata["choices"]) if "choices" in f.metadata else None
            func = click.option(
                flag,
                prefix + f.name,
                type=kind or (str if f.default is None else None),
                default=f.default,
                show_default=f.default is not None,
                help=f.metadata["help"],
            )(func)
        return func

    return decorate


_FLOW_PREFIX = "flow_"


@main.command("train")
@click.argument("data", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (resumed if it exists).")
@_options_from(FlowConfig, _FLOW_PREFIX)
@_options_from(TrainConfig)
@click.option("--stop-at-step", type=int, help="End this run at this step (resume later).")
@click.option("--time-limit", type=float, help="End this run after this many seconds (resume later).")
def train_cmd(
    data: tuple[str, ...], out: Path, stop_at_step: int | None, time_limit: float | None, **settings: Any
) -> None:
    """Train a model on DATA: folders of images (searched at any depth) or .npy uint8 arrays (N, H, W, 3).

    Writes OUT/checkpoint.pt, OUT/log.jsonl and OUT/NAME.fzm (the shippable EMA model); run the same command
    again to resume. For several processes (CPU: gloo; GPUs: NCCL, one per process), launch it with torchrun:

    \b
    torchrun --nproc_per_node 2 -m flowzip train DATA --out runs/x --batch 16
    (each process trains on --batch crops of every step: the global batch is 2 x 16)
    """

    def run() -> None:
        from flowzip.learned.train import train

        flow = {k[len(_FLOW_PREFIX) :]: settings.pop(k) for k in list(settings) if k.startswith(_FLOW_PREFIX)}
        try:
            cfg = TrainConfig(data=list(data), out=str(out), flow=FlowConfig(**flow), **settings)
        except ValueError as e:
            raise FlowzipError(str(e)) from None
        click.echo(f"model written to {train(cfg, stop_at_step, time_limit)}")

    _exit_on_error(run)


def _model_name(model_id: bytes) -> str:
    name = shipped_model_name(model_id)
    return f" (shipped model '{name}')" if name else " (not a shipped model)"


if __name__ == "__main__":
    main()
