"""The classical coder: for what the learned models do not code well, and for every plane they never see.

Planes (grey, alpha, palette indices, bilevel) and RGB tiles that are not photographs (drawings, text, few
colours) are predicted pixel by pixel from their causal neighbours and coded by the shorter of LZMA2 on one
predictor's residuals and a context coder that mixes adaptive context models bit by bit; an RGB array may first
be transformed (subtract green, or a palette). Laid out like libjxl's ``modular/``, along the data path:

- ``methods``: the table of method and transform numbers, and their descriptions;
- ``transforms``: subtract green (plain, centred) and the palette, each with its inverse;
- ``predictors``: the fixed causal predictors and method 6's blend;
- ``lzma_coder``: raw LZMA2 streams;
- ``range_coder``, ``contexts``, ``mixer``, ``state``, ``context_coder``: the context coder (methods 5 to 8);
- ``predicted``: the choice between LZMA2 and the context coder, with the method byte;
- ``plane`` and ``rgb``: what the codec calls. Section layouts are in ``docs/format.md``.
"""

from flowzip.classical.methods import describe_predicted, describe_rgb
from flowzip.classical.plane import decode_indices, decode_plane, encode_indices, encode_plane
from flowzip.classical.rgb import decode_rgb, encode_rgb

__all__ = [
    "decode_indices",
    "decode_plane",
    "decode_rgb",
    "describe_predicted",
    "describe_rgb",
    "encode_indices",
    "encode_plane",
    "encode_rgb",
]
