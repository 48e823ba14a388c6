"""numba's compiler for flowzip's pixel loops, with its cache in the user's cache folder, not in the package.

numba caches compiled code beside the source by default: inside site-packages for an installed flowzip, files
pip does not know of. Uninstalling then leaves ``flowzip/__pycache__`` behind, which Python imports as an empty
namespace package in place of a later editable install. So the cache goes to
``$XDG_CACHE_HOME/flowzip/numba`` (default ``~/.cache/flowzip/numba``), where every later process finds the
compiled code, unless NUMBA_CACHE_DIR says otherwise or numba was imported before flowzip (numba reads its
settings once, on import).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if "numba" not in sys.modules:
    _cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    os.environ.setdefault("NUMBA_CACHE_DIR", str(_cache_home / "flowzip" / "numba"))

import numba  # after the cache folder is set


def njit(**options: object):
    """``numba.njit`` with the on-disk cache on: compiled once per machine, not once per process."""
    return numba.njit(cache=True, **options)
