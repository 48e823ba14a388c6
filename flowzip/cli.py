"""The ``flowzip`` command: compress, decompress, info and train.

Files are written to a temporary file beside the target and moved into place only when complete; an
existing file is never replaced without ``-f``; inputs are never removed. Every failure a user can cause is
one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from flowzip import __version__
from flowzip.codec import DEFAULT_TILE_SIZE, compress, decompress, read_header
from flowzip.container import MODES
from flowzip.errors import FlowzipError
from flowzip.images import open_image
from flowzip.zoo import DEFAULT_MODEL, shipped_model_names

SUFFIX = ".fzi"
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
    buf = io.BytesIO()
    try:
        image.save(buf, fmt, **options)
    except (OSError, ValueError) as e:
        raise FlowzipError(f"{path}: cannot store a {image.mode} image as {fmt} ({e})") from None
    return buf.getvalue()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FlowzipError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FlowzipError(f"{path}: is a directory") from None
    except PermissionError:
        raise FlowzipError(f"{path}: permission denied") from None


def _run_each(inputs: tuple[Path, ...], output: Path | None, job: Callable[[Path, Path | None], None]) -> None:
    """Run ``job`` on every input, reporting failures one line each; exit 1 if any failed."""
    if output is not None and len(inputs) > 1:
        raise click.UsageError("-o/--output takes a single input")
    failures = 0
    for path in inputs:
        try:
            job(path, output)
        except FlowzipError as e:
            failures += 1
            click.echo(f"flowzip: {e}", err=True)
    if failures:
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowzip")
def main() -> None:
    """flowzip: lossless image compression with a learned integer flow.

    \b
    flowzip compress photo.png          writes photo.fzi
    flowzip decompress photo.fzi        writes photo.png
    flowzip info photo.fzi              describes a .fzi file
    """


@main.command("compress")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Output file (one input only).")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing output files.")
@click.option(
    "-m",
    "--model",
    default=DEFAULT_MODEL,
    show_default=True,
    help=f"A shipped model ({', '.join(shipped_model_names()) or 'none installed'}) or a model file.",
)
@click.option("--tile-size", default=DEFAULT_TILE_SIZE, show_default=True, help="Tile side, a power of two.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def compress_cmd(
    inputs: tuple[Path, ...], output: Path | None, force: bool, model: str, tile_size: int, quiet: bool
) -> None:
    """Compress images (PNG, WebP, ... any format Pillow reads) to .fzi files."""

    def job(path: Path, out: Path | None) -> None:
        image = open_image(path)
        if getattr(image, "n_frames", 1) > 1:
            click.echo(f"flowzip: warning: {path} has {image.n_frames} frames; only the first is compressed", err=True)
        out = out or path.with_suffix(SUFFIX)
        data = compress(image, model=model, tile_size=tile_size)
        write_atomic(out, data, force)
        if not quiet:
            subpixels = image.width * image.height * len(image.getbands())
            click.echo(
                f"{path} -> {out}: {_size(path)} -> {len(data)} bytes, {8 * len(data) / subpixels:.3f} bits/subpixel"
            )

    _run_each(inputs, output, job)


@main.command("decompress")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output image (one input only); its suffix picks the format: .png, .webp, .tif, .bmp.",
)
@click.option("-f", "--force", is_flag=True, help="Overwrite existing output files.")
@click.option("-m", "--model", default=None, help="Model file to decode with, if not a shipped model.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def decompress_cmd(inputs: tuple[Path, ...], output: Path | None, force: bool, model: str | None, quiet: bool) -> None:
    """Decompress .fzi files to images (PNG unless -o says otherwise)."""

    def job(path: Path, out: Path | None) -> None:
        if out is None:
            if path.suffix != SUFFIX:
                raise FlowzipError(f"{path}: unknown suffix, expected {SUFFIX} (or give -o)")
            out = path.with_suffix(".png")
        image = decompress(_read_bytes(path), model=model)
        if not hasattr(image, "save"):  # compressed from a numpy array: it still saves as an image
            from PIL import Image

            image = Image.fromarray(image)
        write_atomic(out, _encode_output(image, out), force)
        if not quiet:
            click.echo(f"{path} -> {out}: {image.width}x{image.height} {image.mode}")

    _run_each(inputs, output, job)


@main.command("info")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
def info_cmd(inputs: tuple[Path, ...]) -> None:
    """Describe .fzi files: image size and mode, model, size, bits per subpixel, tiles."""

    def job(path: Path, _: Path | None) -> None:
        data = _read_bytes(path)
        h = read_header(data)
        _, flow_planes, extra = MODES[h.mode]
        subpixels = h.width * h.height * (flow_planes + extra)
        lines = [
            f"{path}:",
            f"  image      {h.width}x{h.height} {h.mode} (decodes to {_KIND_NAMES[h.kind]})",
            f"  size       {len(data)} bytes, {8 * len(data) / subpixels:.3f} bits/subpixel",
        ]
        if flow_planes:
            rows, cols = h.tile_grid
            lines += [
                f"  model      {h.model_id.hex()}{_model_name(h.model_id)}",
                f"  tiles      {rows}x{cols} of {h.tile_size}x{h.tile_size}",
            ]
        if h.icc_profile:
            lines.append(f"  ICC        {len(h.icc_profile)} bytes")
        click.echo("\n".join(lines))

    _run_each(inputs, None, job)


_KIND_NAMES = {"image": "a PIL image", "array": "a numpy array (H, W, C)", "array2d": "a numpy array (H, W)"}


@main.command("train")
@click.argument("data", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (resumed if it exists).")
@click.option("--name", default="model", show_default=True, help="Name of the exported model.")
@click.option("--levels", default=3, show_default=True)
@click.option("--steps-per-level", "flow_steps", default=4, show_default=True)
@click.option("--hidden", default=48, show_default=True, help="Channels of the coupling networks.")
@click.option("--prior-hidden", default=48, show_default=True, help="Channels of the prior networks.")
@click.option("--blocks", default=1, show_default=True, help="Residual blocks per network.")
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
def train_cmd(
    data: tuple[str, ...],
    out: Path,
    name: str,
    levels: int,
    flow_steps: int,
    hidden: int,
    prior_hidden: int,
    blocks: int,
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
) -> None:
    """Train a model on DATA: folders of images or .npy uint8 arrays (N, H, W, 3).

    Writes OUT/checkpoint.pt, OUT/log.jsonl and OUT/NAME.fzm (the shippable EMA model); run the same command
    again to resume.
    """
    from flowzip.model import FlowConfig
    from flowzip.train import TrainConfig, train

    flow = FlowConfig(
        levels=levels, steps=flow_steps, hidden=hidden, blocks=blocks, prior_hidden=prior_hidden, family=family
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
    )
    try:
        path = train(cfg, stop_at_step=stop_at_step, time_limit=time_limit)
    except FlowzipError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"model written to {path}")


def _model_name(model_id: bytes) -> str:
    from flowzip.zoo import load_model

    names = [n for n in shipped_model_names() if load_model(n).weights_hash.startswith(model_id)]
    return f" (shipped model '{names[0]}')" if names else " (not a shipped model)"


def _size(path: Path) -> int:
    return path.stat().st_size


if __name__ == "__main__":
    main()
