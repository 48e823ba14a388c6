"""Shipped arrays: the classical coder's learnt states and the tiny network, each a NamedTuple of numpy arrays
saved as a ``.npz`` in ``flowzip.models``, loaded without executing code and checked against the hash that the
format spec names it by (a changed file would decode files differently: a new one needs a new method)."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from flowzip.errors import FlowzipError

if TYPE_CHECKING:
    from importlib.abc import Traversable

Arrays = TypeVar("Arrays", bound=Any)  # a NamedTuple of numpy arrays


def arrays_hash(arrays: Any) -> str:
    """SHA-256 (hex) over the arrays in field order: for each, ``name|dtype|shape|`` then its bytes."""
    digest = hashlib.sha256()
    for name, array in zip(arrays._fields, arrays, strict=True):
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def save_arrays(arrays: Any, path: Path) -> None:
    """Write a NamedTuple of arrays to ``path`` as a compressed ``.npz`` (read back by ``load_arrays``)."""
    np.savez_compressed(path, **arrays._asdict())


def load_arrays(path: Path | Traversable, kind: type[Arrays]) -> Arrays:
    """Read a ``kind`` written by ``save_arrays`` (plain arrays: loading executes no code)."""
    with path.open("rb") as f, np.load(f, allow_pickle=False) as arrays:
        return kind(*(arrays[name] for name in kind._fields))


def shipped_arrays(name: str, kind: type[Arrays], sha256: str) -> Arrays:
    """The shipped file ``name`` of ``flowzip.models`` as a ``kind``, checked against ``sha256``."""
    arrays = load_arrays(resources.files("flowzip.models") / name, kind)
    if arrays_hash(arrays) != sha256:
        raise FlowzipError(f"the installed {name} is damaged (its hash does not match); reinstall flowzip")
    return arrays
