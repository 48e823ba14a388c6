"""Write examples/sample.png: a synthetic 256x192 landscape (fractal noise terrain, sky, sun), made here so the
project ships a demo image without redistributing anyone's photo. Deterministic: the same file every run."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


def fractal_noise(rng: np.random.Generator, h: int, w: int, octaves: int = 6) -> np.ndarray:
    out = np.zeros((h, w))
    for k in range(octaves):
        cells = 2 ** (k + 2)
        layer = Image.fromarray(rng.random((cells, cells)).astype(np.float32), "F").resize((w, h), Image.BICUBIC)
        out += np.asarray(layer) / 2**k
    return (out - out.min()) / (out.max() - out.min())


def main() -> None:
    rng = np.random.default_rng(2019)
    h, w = 192, 256
    yy, xx = np.mgrid[0:h, 0:w] / [h, w][0]
    sky = np.stack([90 + 100 * yy, 140 + 80 * yy, 230 - 30 * yy], axis=-1)
    sun = np.exp(-(((xx - 1.0) ** 2 + (yy - 0.25) ** 2) / 0.004))[..., None] * [120, 100, 40]
    terrain = fractal_noise(rng, h, w)
    ridge = 0.45 + 0.25 * fractal_noise(rng, 1, w, 5)[0]
    ground = yy > ridge[None, :]
    texture = fractal_noise(rng, h, w, 7)[..., None]
    land = np.stack([60 + 70 * terrain, 90 + 80 * terrain, 40 + 30 * terrain], axis=-1) * (0.7 + 0.6 * texture)
    img = np.where(ground[..., None], land, sky + sun) + rng.normal(0, 2.0, (h, w, 3))
    image = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).filter(ImageFilter.SMOOTH)
    image.save(Path(__file__).with_name("sample.png"), optimize=True)


if __name__ == "__main__":
    main()
