"""LZMA2 for the classical coder: raw streams (no container, so tiny arrays stay tiny) with a dictionary no
larger than the array, at a fast preset or the strongest."""

from __future__ import annotations

import lzma


def lzma_filters(size: int, preset: int = 9 | lzma.PRESET_EXTREME) -> list[dict]:
    """LZMA2 at its strongest preset (or ``preset``, which only the encoder sees), with a dictionary sized to
    the plane (a 64 MiB one costs time to set up)."""
    dict_size = min(max(size, 4096), 64 << 20)
    return [{"id": lzma.FILTER_LZMA2, "preset": preset, "dict_size": dict_size}]


FAST_PRESET = 3


def lzma_compress(data: bytes, size: int, preset: int = 9 | lzma.PRESET_EXTREME) -> bytes:
    """The raw LZMA2 stream of ``data`` (of an array of ``size`` bytes) at ``preset``."""
    return lzma.compress(data, format=lzma.FORMAT_RAW, filters=lzma_filters(size, preset))
