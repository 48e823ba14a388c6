"""The encoder's settings: which tile tools it tries and where it stops searching. None of it is in the format,
so a decoder needs none of it; the defaults are the measured ones, and benchmarks vary them by passing other
settings to ``flowzip.compress``, never by changing module globals."""

from __future__ import annotations

import math
from dataclasses import dataclass

from flowzip.container import TILE_TOOLS
from flowzip.errors import FlowzipError


@dataclass(frozen=True)
class EncoderSettings:
    """What ``compress`` tries; frozen, so one object can be shared by every tile and thread."""

    # what each RGB tile may be coded with, the shortest winning: "flow" (a learned model), "classical", and
    # always "raw"; name one to measure it alone
    tools: tuple[str, ...] = TILE_TOOLS
    # the model is not tried on a tile the classical coder codes in this many bits a subpixel
    flow_skip_bits: float = 0.25
    # nor on any tile of an image of more pixels than this (64x64): on the dev sets and the synthetic set the flow
    # won tiles worth 0.034 % of CBSD68's bytes, 0.010 % of waterloo's and none elsewhere, for 1.3-2.7 times the
    # encode time (benchmarks/decisions/encoder_setting.py flow_max_pixels=inf); the pixel model below it saves
    # 6-13 % (README)
    flow_max_pixels: float = 1 << 12
    # The classical coder's try on the whole image after the tiles, kept where shorter (LZMA2 finds repeats
    # across tiles), for images up to this size; set when the try ran on photos too, where on 1.6 and 6.3 MP
    # mosaics it saved no byte and took 35-42 % of the encode time (benchmarks/decisions/encoder_setting.py).
    whole_image_max_pixels: int = 1 << 22
    # That try also where the context coder took every tile (a photo): 0.46 % smaller on CBSD68, 0.78 % on Set5,
    # 0.44 % on Set14, 0.12 % on waterloo, for 1.3-2.9 times the encode time and 1.3-1.8 times the decode time
    # (the one tile decodes on one core); on the speed mosaics no byte for 2.8-3.7 times the encode time
    # (benchmarks/decisions/encoder_setting.py whole_image_for_photos=1 --folders default --mosaics 0.4,1.5).
    whole_image_for_photos: bool = False
    # On three channels, LZMA2's strongest preset runs only where preset 3 came within this factor of the
    # context coder: elsewhere it gains less than that over preset 3 and takes three times longer
    # (benchmarks/decisions/encoder_setting.py).
    lzma_skip_ratio: float = 1.25

    def __post_init__(self) -> None:
        unknown = sorted(set(self.tools) - set(TILE_TOOLS))
        if unknown:
            raise FlowzipError(f"unknown tools {unknown}: choose from {TILE_TOOLS}")


DEFAULT_SETTINGS = EncoderSettings()


# ``flowzip compress --effort``: 1, the classical coder alone, no learned model (fastest); 2, the default; 3, the
# learned models tried on every tile of every image, however large, and the classical coder on the whole of a photo
EFFORTS = {
    1: EncoderSettings(tools=tuple(t for t in TILE_TOOLS if t != "flow")),
    2: DEFAULT_SETTINGS,
    3: EncoderSettings(flow_max_pixels=math.inf, whole_image_for_photos=True),
}
DEFAULT_EFFORT = 2
