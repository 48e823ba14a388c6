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
- ``photo_coder``: its method 9, with the learned network of ``flowzip.learned.tiny_net``;
- ``predicted``: the choice between LZMA2 and the context coder, with the method byte;
- ``deep``: samples of more than 8 bits (16-bit images), through the 8-bit coder where they hold 8 bits;
- ``plane``, ``rgb`` and ``deep``: what the codec calls. Section layouts are in ``docs/format.md``.
"""

from importlib import import_module

# What the codec calls, by module; imported on first use (PEP 562), so that reading a file's methods
# (``methods``, as ``flowzip info`` does) loads neither numba nor the coders.
_EXPORTS = {
    "describe_predicted": "methods",
    "describe_rgb": "methods",
    "describe_deep": "methods",
    "context_coded_rgb": "methods",
    "encode_plane": "plane",
    "decode_plane": "plane",
    "encode_indices": "plane",
    "decode_indices": "plane",
    "encode_rgb": "rgb",
    "encode_deep": "deep",
    "decode_deep": "deep",
    "decode_rgb": "rgb",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        return getattr(import_module(f"flowzip.classical.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'flowzip.classical' has no attribute {name!r}")
