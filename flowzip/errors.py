"""The one exception type flowzip raises for anything a user can cause, its warning, and the translation of
file errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class FlowzipError(Exception):
    """A problem with the user's input, files or models; its message is one line meant for the user."""

    def __init__(self, message: str):
        # one line whatever it quotes: the messages of errors it wraps (numba's, constriction's) may have several
        super().__init__(" ".join(str(message).split()))


class FlowzipWarning(UserWarning):
    """Something of the input that is not kept (a second frame, a gamma chunk); one line meant for the user."""


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
