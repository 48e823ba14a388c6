"""The set-up installs PyTorch's CPU build: from PyTorch's CPU index where it answers, else as pip is configured."""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "torch_install_args.py"


def _install_args(index: str) -> list[str]:
    env = {**os.environ, "FLOWZIP_TORCH_CPU_INDEX": index}
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, check=True)
    return out.stdout.split()


def test_an_index_that_does_not_answer_leaves_torch_to_pip() -> None:
    assert _install_args("http://127.0.0.1:9/simple") == ["torch==2.13.0"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the CPU index is used on Linux only")
def test_pip_resolves_the_cpu_build_from_an_index_that_answers(tmp_path: Path) -> None:
    """A dry run of the set-up's pip install against a local PyTorch-style index: torch comes from it, as the CPU
    build, with no NVIDIA package among its requirements."""
    import torch

    wheel_name = f"torch-{torch.__version__}"
    wheels = [p for d in ("/opt/wheels",) if Path(d).is_dir() for p in Path(d).glob(f"{wheel_name}-*.whl")]
    if not wheels or "+cpu" not in torch.__version__:
        pytest.skip("needs a local wheel of the installed CPU torch to serve (this machine's /opt/wheels)")
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / wheels[0].name).symlink_to(wheels[0])
    link = wheels[0].name.replace("+", "%2B")
    (tmp_path / "torch" / "index.html").write_text(f'<a href="{link}">{wheels[0].name}</a>')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        index = f"http://127.0.0.1:{server.server_address[1]}"
        args = _install_args(index)
        assert args[:3] == ["torch==2.13.0", "--index-url", index]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}  # this machine's mirrors out
        env["PIP_CONFIG_FILE"] = os.devnull
        report = tmp_path / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed", "--no-deps"]
        subprocess.run([*command, "--report", str(report), *args[:3]], env=env, check=True, timeout=300)
    finally:
        server.shutdown()
    (installed,) = json.loads(report.read_text())["install"]
    assert installed["metadata"]["version"].endswith("+cpu")
    assert not [r for r in installed["metadata"].get("requires_dist", []) if r.lower().startswith("nvidia")]
