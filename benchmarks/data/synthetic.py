"""Build the synthetic-content set: text, drawings, charts, palette images, UI-like screens, in every mode.

    python -m benchmarks.data.synthetic [--out runs/synthetic]

Writes PNG files (lossless, each in its own mode: RGB, RGBA, L, P, 1) drawn with Pillow from a fixed seed, so
the set is the same on every run with the same Pillow; the SHA-256 of every image's pixels is printed so that
two runs can be compared. Then measure it with ``flowzip bench runs/synthetic --native --compare png,webp,jxl``.
No photo is used: this is the content on which a photo model is off its training distribution.
"""

from __future__ import annotations

import argparse
import hashlib
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from benchmarks.paths import RUNS

WORDS = [
    "lossless",
    "image",
    "compression",
    "with",
    "a",
    "learned",
    "flow",
    "codes",
    "every",
    "pixel",
    "exactly",
    "the",
    "entropy",
    "coder",
    "turns",
    "probabilities",
    "into",
    "bits",
    "screenshots",
    "diagrams",
    "text",
    "and",
    "logos",
    "are",
    "kept",
    "as",
    "often",
    "as",
    "photos",
]


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _text(rng: np.random.Generator, words: int) -> str:
    lines, line = [], []
    for w in rng.choice(WORDS, words):
        line.append(str(w))
        if len(line) == 9:
            lines.append(" ".join(line))
            line = []
    return "\n".join([*lines, " ".join(line)])


def document(rng: np.random.Generator, size: tuple[int, int], mode: str) -> Image.Image:
    """Black text on white (a scanned-page-like document), antialiased unless bilevel."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    draw.multiline_text((12, 10), _text(rng, 160), fill=0, font=_font(15), spacing=6)
    return image.convert("1") if mode == "1" else image.convert(mode)


def code_editor(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A dark editor screenshot: coloured monospace-like text, line numbers, a highlighted line."""
    image = Image.new("RGB", size, (30, 32, 38))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 44, size[1]), fill=(37, 40, 47))
    colours = [(198, 120, 221), (152, 195, 121), (97, 175, 239), (229, 192, 123), (171, 178, 191)]
    y, n = 8, 1
    while y < size[1] - 16:
        if n == 7:
            draw.rectangle((45, y - 2, size[0], y + 15), fill=(44, 49, 58))
        draw.text((6, y), f"{n:3d}", fill=(99, 109, 131), font=_font(13))
        x = 56 + 16 * int(rng.integers(0, 4))
        for _ in range(int(rng.integers(1, 6))):
            word = str(rng.choice(WORDS))
            draw.text((x, y), word, fill=colours[int(rng.integers(len(colours)))], font=_font(13))
            x += 8 * len(word) + 8
        y, n = y + 19, n + 1
    return image


def shapes(rng: np.random.Generator, size: tuple[int, int], colours: int) -> Image.Image:
    """Flat-coloured rectangles, ellipses and lines (a diagram or logo), from a palette of ``colours``."""
    palette = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(colours)]
    image = Image.new("RGB", size, palette[0])
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x0, y0 = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        x1, y1 = x0 + int(rng.integers(10, size[0] // 3)), y0 + int(rng.integers(10, size[1] // 3))
        colour = palette[int(rng.integers(1, colours))] if colours > 1 else palette[0]
        kind = rng.integers(3)
        if kind == 0:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.ellipse((x0, y0, x1, y1), fill=colour, outline=palette[-1], width=2)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(1, 6)))
    return image


def chart(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A line and bar chart with axes, grid, ticks, labels and a legend."""
    w, h = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    left, bottom = 60, h - 40
    for k in range(6):
        y = bottom - k * (bottom - 20) // 5
        draw.line((left, y, w - 20, y), fill=(225, 225, 225))
        draw.text((12, y - 7), f"{k * 20}", fill="black", font=_font(12))
    draw.line((left, 20, left, bottom), fill="black", width=2)
    draw.line((left, bottom, w - 20, bottom), fill="black", width=2)
    n = 24
    step = (w - 20 - left) / n
    for i, v in enumerate(rng.uniform(0.1, 0.9, n)):
        x = left + i * step
        draw.rectangle((x + 3, bottom - v * (bottom - 20), x + step - 3, bottom), fill=(100, 149, 237))
    for colour, phase in (((220, 20, 60), 0.0), ((34, 139, 34), 1.3)):
        points = [
            (left + i * (w - 20 - left) / 99, bottom - (0.5 + 0.35 * math.sin(i / 12 + phase)) * (bottom - 20))
            for i in range(100)
        ]
        draw.line(points, fill=colour, width=2)
    draw.rectangle((w - 170, 30, w - 30, 80), outline="black", fill="white")
    draw.text((w - 160, 38), "sales\nforecast", fill="black", font=_font(13))
    return image


def ui_screen(rng: np.random.Generator, size: tuple[int, int], mode: str) -> Image.Image:
    """A window: title bar with a gradient, sidebar, buttons, text and a translucent panel (RGBA)."""
    w, h = size
    image = Image.new("RGBA", size, (245, 246, 248, 255))
    top = np.linspace([52, 101, 164], [114, 159, 207], w).astype(np.uint8)
    image.paste(Image.fromarray(np.repeat(top[None], 36, axis=0)), (0, 0))
    draw = ImageDraw.Draw(image)
    draw.text((12, 10), "flowzip settings", fill="white", font=_font(15))
    draw.rectangle((0, 36, 180, h), fill=(232, 234, 237, 255))
    for k in range(8):
        draw.text((16, 52 + 28 * k), str(rng.choice(WORDS)).title(), fill=(60, 64, 67, 255), font=_font(14))
    for k in range(4):
        x = 200 + 130 * k
        draw.rounded_rectangle((x, 60, x + 110, 92), radius=8, fill=(26, 115, 232, 255))
        draw.text((x + 18, 68), str(rng.choice(WORDS)), fill="white", font=_font(14))
    draw.multiline_text((200, 120), _text(rng, 60), fill=(32, 33, 36, 255), font=_font(14), spacing=5)
    if mode == "RGBA":
        image.putalpha(Image.new("L", size, 255))
        ImageDraw.Draw(image).rounded_rectangle((w - 260, h - 160, w - 20, h - 20), radius=12, fill=(0, 0, 0, 96))
        return image
    return image.convert(mode)


def gradient(size: tuple[int, int], radial: bool) -> Image.Image:
    """A smooth linear or radial colour gradient (a rendered background)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    t = np.hypot(xx - w / 2, yy - h / 2) / np.hypot(w / 2, h / 2) if radial else (xx / w + yy / h) / 2
    rgb = np.stack([40 + 200 * t, 180 - 120 * t, 90 + 140 * (1 - t) * t * 4], axis=2)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def palette_image(rng: np.random.Generator, size: tuple[int, int], colours: int, dither: bool) -> Image.Image:
    """A gradient with shapes, quantized to ``colours`` palette entries (mode P), dithered or not."""
    base = gradient(size, radial=True)
    base.paste(shapes(rng, (size[0] // 2, size[1] // 2), 6), (size[0] // 4, size[1] // 4))
    dithering = Image.Dither.FLOYDSTEINBERG if dither else Image.Dither.NONE
    return base.quantize(colors=colours, dither=dithering)


def noise(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """Uniform noise: incompressible, so the test is only that nothing grows."""
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def build(rng: np.random.Generator) -> dict[str, Image.Image]:
    """Every image of the set, by file name."""
    return {
        "document-l.png": document(rng, (640, 480), "L"),
        "document-1.png": document(rng, (640, 480), "1"),
        "document-rgb.png": document(rng, (480, 360), "RGB"),
        "code-editor.png": code_editor(rng, (800, 520)),
        "diagram-3-colours.png": shapes(rng, (600, 400), 3),
        "diagram-8-colours.png": shapes(rng, (512, 512), 8),
        "logo-2-colours-small.png": shapes(rng, (96, 96), 2),
        "icon-16-colours.png": shapes(rng, (48, 48), 16),
        "chart.png": chart(rng, (720, 440)),
        "ui-rgb.png": ui_screen(rng, (960, 600), "RGB"),
        "ui-rgba.png": ui_screen(rng, (720, 480), "RGBA"),
        "ui-p.png": ui_screen(rng, (640, 400), "P"),
        "gradient-linear.png": gradient((512, 384), radial=False),
        "gradient-radial.png": gradient((384, 384), radial=True),
        "palette-4.png": palette_image(rng, (400, 300), 4, dither=False),
        "palette-16-dither.png": palette_image(rng, (400, 300), 16, dither=True),
        "palette-64.png": palette_image(rng, (320, 320), 64, dither=False),
        "palette-256-dither.png": palette_image(rng, (320, 240), 256, dither=True),
        "noise-small.png": noise(rng, (64, 48)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RUNS / "synthetic")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, image in build(np.random.default_rng(args.seed)).items():
        image.save(args.out / name)
        digest = hashlib.sha256(np.asarray(image).tobytes()).hexdigest()[:16]
        print(f"{name:28s} {image.mode:4s} {image.width}x{image.height} {digest}")


if __name__ == "__main__":
    main()
