"""The one exception type flowzip raises for anything a user can cause, its warning, and the translation of
file errors."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import PIL

# frames in these folders are flowzip's or Pillow's own: a warning points past them, at the caller's line
_INTERNAL = (str(Path(__file__).resolve().parent), str(Path(PIL.__file__).resolve().parent))


class FlowzipError(Exception):
    """A problem with the user's input, files or models; its message is one line meant for the user."""

    def __init__(self, message: str):
        # one line whatever it quotes: the messages of errors it wraps (numba's, constriction's) may have several
        super().__init__(" ".join(str(message).split()))


class FlowzipWarning(UserWarning):
    """Something of the input that is not kept (a second frame, a gamma chunk); one line meant for the user."""


def naming(name: str, message: str) -> str:
    """``message`` as a line that starts with the file it is about."""
    return message if message.startswith(f"{name}:") else f"{name}: {message}"


def warn(message: str) -> None:
    """Issue a ``FlowzipWarning`` that points at the first line outside flowzip and Pillow: the caller's
    ``flowzip.compress(...)`` or ``image.save(...)``."""
    frame, level = sys._getframe(1), 2  # level 1 is this function
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, FlowzipWarning, stacklevel=level)


@contextlib.contextmanager
def file_errors(name: object) -> Iterator[None]:
    """Turn the OS errors of reading ``name`` into one-line FlowzipErrors."""
    try:
        yield
    except FileNotFoundError:
        raise FlowzipError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise FlowzipError(f"{name}: is a directory") from None
    except PermissionError:
        raise FlowzipError(f"{name}: permission denied") from None
    except OSError as e:  # a disk or network error (it has an errno; Pillow's "cannot identify" has none)
        if e.errno is None:
            raise
        raise FlowzipError(f"{name}: {e.strerror or e}") from None
