"""The documentation's examples run and pass their own assertions."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_library_guide_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _python_blocks(ROOT / "docs" / "library.md")
    assert len(blocks) >= 6
    shutil.copy(ROOT / "examples" / "sample.png", tmp_path / "sample.png")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, block in enumerate(blocks):
        if "import zarr" in block and importlib.util.find_spec("zarr") is None:
            continue  # the zarr extra, not installed (it needs Python 3.11)
        if "dask.distributed" in block and importlib.util.find_spec("distributed") is None:
            continue  # the dask extra, not installed
        exec(compile(block, f"docs/library.md block {i + 1}", "exec"), namespace)
