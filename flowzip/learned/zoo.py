"""The model zoo: shipped models by name, model files by path, and the weights hash that files refer to.

A model file is a ``torch.save`` of plain data (config dict, tensors, strings), always read with
``torch.load(weights_only=True)``, so loading one never executes code. A compressed file names its model by
the first bytes of the weights hash: SHA-256 over every tensor's name, dtype, shape and bytes, in name order,
so it does not depend on how the file was serialised. The shipped models' hashes are also listed in
``models/index.json`` (checked against the files by the tests), so finding the model a file names, or saying
which it is (``flowzip info``), loads no model but that one. PyTorch is imported only when a model is loaded
or saved, so that ``flowzip --help`` and ``flowzip info`` stay fast.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from flowzip.container import MODEL_ID_BYTES
from flowzip.errors import FlowzipError

if TYPE_CHECKING:
    import torch

    from flowzip.learned.config import FlowConfig
    from flowzip.learned.flow import IntegerFlow
    from flowzip.learned.pixel_model import PixelModel

LARGE_IMAGE_MODEL = "photo"
SMALL_IMAGE_MODEL = "cifar10"
SMALL_IMAGE_SIDE = 64  # images of at most this many pixels a side are coded with SMALL_IMAGE_MODEL
MODEL_FILE_FORMAT = "flowzip-model-1"
MODEL_SUFFIX = ".fzm"
SHIPPED_INDEX = "index.json"  # name -> weights hash (hex) of every shipped model


@dataclass(frozen=True)
class Model:
    """A loaded model with its name and weights hash: a flow, or the pixel model (``build_network``)."""

    name: str
    flow: IntegerFlow | PixelModel
    weights_hash: bytes

    @property
    def short_id(self) -> str:
        """The hash prefix that compressed files store, in hex."""
        return self.weights_hash[:MODEL_ID_BYTES].hex()


ModelSource = Callable[[], Model]  # gives a model, loading it on the first call (``ModelOnUse``)


class ModelOnUse:
    """A ``ModelSource`` that loads its model (and PyTorch) the first time any thread asks for it, once."""

    def __init__(self, load: Callable[[], Model]):
        self._load, self._model, self._lock = load, None, threading.Lock()

    def __call__(self) -> Model:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model


def default_model(width: int, height: int) -> str:
    """The model ``compress`` codes an image with where none is named: ``photo``, or for images of at most 64x64
    pixels ``cifar10``, the pixel model, which codes CIFAR-10 images and crops of photos in 2 to 11 % fewer bits
    than ``photo`` (so that trying ``photo`` as well would save 0.01 % at most, for twice the encode time: measured
    in models/README.md, "Which model by default"); its decoder's time per pixel keeps it to small images. The
    file records the model, so decoding needs no rule."""
    return SMALL_IMAGE_MODEL if max(width, height) <= SMALL_IMAGE_SIDE else LARGE_IMAGE_MODEL


def weights_hash(state_dict: dict[str, torch.Tensor]) -> bytes:
    """SHA-256 of the weights, independent of the file they came from."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes())
    return h.digest()


def build_network(config: FlowConfig) -> IntegerFlow | PixelModel:
    """The network that ``config`` describes, with fresh weights: the pixel model for the logistic-mixture family
    (which codes pixels with no flow), else a flow."""
    from flowzip.learned.config import MIXTURE
    from flowzip.learned.flow import IntegerFlow
    from flowzip.learned.pixel_model import PixelModel

    return PixelModel(config) if config.family == MIXTURE else IntegerFlow(config)


def save_model(path: Path, flow: IntegerFlow | PixelModel, name: str, info: dict | None = None) -> bytes:
    """Write a model file; return its weights hash."""
    import torch

    state = {k: v.detach().cpu().float().clone() for k, v in flow.state_dict().items()}
    torch.save(
        {
            "format": MODEL_FILE_FORMAT,
            "name": name,
            "config": asdict(flow.config),
            "state_dict": state,
            "info": info or {},
        },
        path,
    )
    return weights_hash(state)


def load_model_file(path: Path) -> Model:
    """Load a model file without executing code; raise ``FlowzipError`` if it is not one."""
    import torch

    from flowzip.learned.config import FlowConfig

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FlowzipError(f"model file not found: {path}") from None
    except Exception as e:  # a torch.load failure on a non-model file can be any exception type
        raise FlowzipError(f"{path} is not a flowzip model file ({type(e).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != MODEL_FILE_FORMAT:
        raise FlowzipError(f"{path} is not a flowzip model file")
    try:
        flow = build_network(FlowConfig(**blob["config"]))
        flow.load_state_dict(blob["state_dict"])
    except (TypeError, ValueError, RuntimeError, KeyError) as e:
        raise FlowzipError(f"{path}: model file does not match its configuration ({e})") from None
    flow.eval().requires_grad_(False)
    return Model(str(blob.get("name", Path(path).stem)), flow, weights_hash(blob["state_dict"]))


def shipped_model_names() -> list[str]:
    """Names of the models installed with flowzip."""
    folder = resources.files("flowzip.models")
    return sorted(p.name[: -len(MODEL_SUFFIX)] for p in folder.iterdir() if p.name.endswith(MODEL_SUFFIX))


def current_model_names() -> list[str]:
    """The shipped models to choose from: those not superseded. A superseded model keeps its name with its id
    appended ("photo-ac451c9d") and stays shipped only so that files written with it decode."""
    return [name for name in shipped_model_names() if not re.fullmatch(rf".+-[0-9a-f]{{{2 * MODEL_ID_BYTES}}}", name)]


@cache
def shipped_model_hashes() -> dict[str, bytes]:
    """The weights hash of every shipped model, by name, from the index (without loading a model)."""
    index = json.loads((resources.files("flowzip.models") / SHIPPED_INDEX).read_text())
    return {name: bytes.fromhex(digest) for name, digest in index.items()}


def shipped_model_name(short_id: bytes) -> str | None:
    """The name of the shipped model whose hash starts with ``short_id``, or None."""
    return next((name for name, h in shipped_model_hashes().items() if h.startswith(short_id)), None)


@cache
def load_model(name_or_path: str) -> Model:
    """A shipped model by name (``photo``), or a model file by path."""
    if name_or_path in shipped_model_names():
        with resources.as_file(resources.files("flowzip.models") / (name_or_path + MODEL_SUFFIX)) as p:
            return load_model_file(p)
    path = Path(name_or_path)
    if path.suffix == MODEL_SUFFIX or path.exists():
        return load_model_file(path)
    raise FlowzipError(f"unknown model {name_or_path!r}; shipped models: {', '.join(shipped_model_names())}")


def model_id(model: str | Model) -> bytes:
    """The id a file stores for ``model`` (the first bytes of its weights hash), for a shipped model from the
    index without loading it."""
    if isinstance(model, Model):
        return model.weights_hash[:MODEL_ID_BYTES]
    shipped = shipped_model_hashes().get(model) if model in shipped_model_names() else None
    return (shipped or load_model(model).weights_hash)[:MODEL_ID_BYTES]


def find_model(short_id: bytes, requested: str | Model | None) -> Model:
    """The model a file was written with: the requested one if given (checked), else a shipped one."""
    if requested is not None:
        model = requested if isinstance(requested, Model) else load_model(requested)
        if model.weights_hash[: len(short_id)] != short_id:
            raise FlowzipError(f"this file needs model {short_id.hex()}, but {model.name!r} is model {model.short_id}")
        return model
    name = shipped_model_name(short_id)
    if name is not None:
        return find_model(short_id, name)  # checks the model file against its index entry
    raise FlowzipError(
        f"this file needs model {short_id.hex()}, which is not a shipped model; pass --model PATH to its file"
    )
