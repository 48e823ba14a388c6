"""Start-up: what a command loads, and where numba's compiled code goes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import flowzip

PACKAGE = Path(flowzip.__file__).parent


def _python(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    return r


def test_help_info_and_grey_images_do_not_load_the_flow(tmp_path: Path, tiny_model_path: Path) -> None:
    """PyTorch (and numba, for anything but coding planes) take seconds to import: only the flow needs them."""
    rgb = flowzip.compress(np.zeros((8, 8, 3), dtype=np.uint8), model=str(tiny_model_path))
    (tmp_path / "rgb.fzi").write_bytes(rgb)
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(tmp_path / "grey.png")
    code = """
import sys
from flowzip.frontends.cli import main
for args in (["--help"], ["info", sys.argv[1]]):
    try:
        main(args)
    except SystemExit as e:
        assert not e.code, e.code
print(sorted({"torch", "numba"} & set(sys.modules)))
main(["compress", sys.argv[2], "-q"], standalone_mode=False)
print(sorted({"torch", "numba"} & set(sys.modules)))
"""
    r = _python(code, str(tmp_path / "rgb.fzi"), str(tmp_path / "grey.png"))
    assert r.stdout.splitlines()[-2:] == ["[]", "['numba']"]
    assert (tmp_path / "grey.fzi").exists()


def test_numba_caches_in_the_user_cache_folder_not_in_the_package(tmp_path: Path) -> None:
    """numba's default, files beside the source, leaves a stray ``flowzip/__pycache__`` in site-packages when
    pip uninstalls flowzip; Python then imports that as an empty package instead of a later editable install."""
    before = set(PACKAGE.rglob("*.nbi"))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"} | {"XDG_CACHE_HOME": str(tmp_path)}
    _python("import numpy as np, flowzip; flowzip.compress(np.arange(64, dtype=np.uint8).reshape(8, 8))", env=env)
    assert list((tmp_path / "flowzip" / "numba").rglob("*.nbi")), "compiled code is cached for the next process"
    assert set(PACKAGE.rglob("*.nbi")) == before
