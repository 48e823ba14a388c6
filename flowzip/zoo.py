"""The model zoo: shipped models by name, model files by path, and the weights hash that files refer to.

A model file is a ``torch.save`` of plain data (config dict, tensors, strings), always read with
``torch.load(weights_only=True)``, so loading one never executes code. A compressed file names its model by
the first bytes of the weights hash: SHA-256 over every tensor's name, dtype, shape and bytes, in name order,
so it does not depend on how the file was serialised.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import torch

from flowzip.errors import FlowzipError
from flowzip.model import FlowConfig, IntegerFlow

DEFAULT_MODEL = "photo"
MODEL_FILE_FORMAT = "flowzip-model-1"
MODEL_SUFFIX = ".fzm"


@dataclass(frozen=True)
class Model:
    """A loaded flow with its name and weights hash."""

    name: str
    flow: IntegerFlow
    weights_hash: bytes

    @property
    def short_id(self) -> str:
        """The hash prefix that compressed files store, in hex."""
        return self.weights_hash[:4].hex()


def weights_hash(state_dict: dict[str, torch.Tensor]) -> bytes:
    """SHA-256 of the weights, independent of the file they came from."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes())
    return h.digest()


def save_model(path: Path, flow: IntegerFlow, name: str, info: dict | None = None) -> bytes:
    """Write a model file; return its weights hash."""
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
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FlowzipError(f"model file not found: {path}") from None
    except Exception as e:  # a torch.load failure on a non-model file can be any exception type
        raise FlowzipError(f"{path} is not a flowzip model file ({type(e).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != MODEL_FILE_FORMAT:
        raise FlowzipError(f"{path} is not a flowzip model file")
    try:
        flow = IntegerFlow(FlowConfig(**blob["config"]))
        flow.load_state_dict(blob["state_dict"])
    except (TypeError, ValueError, RuntimeError, KeyError) as e:
        raise FlowzipError(f"{path}: model file does not match its configuration ({e})") from None
    flow.eval().requires_grad_(False)
    return Model(str(blob.get("name", Path(path).stem)), flow, weights_hash(blob["state_dict"]))


def shipped_model_names() -> list[str]:
    """Names of the models installed with flowzip."""
    folder = resources.files("flowzip.models")
    return sorted(p.name[: -len(MODEL_SUFFIX)] for p in folder.iterdir() if p.name.endswith(MODEL_SUFFIX))


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


def find_model(short_id: bytes, requested: str | None) -> Model:
    """The model a file was written with: the requested one if given (checked), else a shipped one."""
    if requested is not None:
        model = load_model(requested)
        if model.weights_hash[: len(short_id)] != short_id:
            raise FlowzipError(f"this file needs model {short_id.hex()}, but {requested!r} is model {model.short_id}")
        return model
    for name in shipped_model_names():
        model = load_model(name)
        if model.weights_hash[: len(short_id)] == short_id:
            return model
    raise FlowzipError(
        f"this file needs model {short_id.hex()}, which is not a shipped model; pass --model PATH to its file"
    )
