"""flowzip: lossless image compression with an integer flow of emerging convolutions and ANS coding.

>>> import flowzip
>>> data = flowzip.compress(image)        # numpy uint8 (H, W[, C]) or PIL image -> bytes
>>> same = flowzip.decompress(data)       # the same kind back, pixel for pixel

PyTorch is loaded on the first use of the flow, not on ``import flowzip``.
"""

__version__ = "0.1.0"

from flowzip.codec import compress, decompress, decompress_image, model_code_length, read_header
from flowzip.errors import FlowzipError, FlowzipWarning
from flowzip.frontends.pillow_plugin import register as register_pillow_plugin
from flowzip.learned.zoo import default_model, load_model, shipped_model_names

register_pillow_plugin()

__all__ = [
    "FlowzipError",
    "FlowzipWarning",
    "__version__",
    "compress",
    "decompress",
    "decompress_image",
    "default_model",
    "load_model",
    "model_code_length",
    "read_header",
    "register_pillow_plugin",
    "shipped_model_names",
]
