"""Print the arguments of the `pip install` that sets up PyTorch for flowzip (sourced setup-venv.sh runs it).

On Linux, PyPI's torch is the CUDA build, with about twenty NVIDIA packages (several GB); flowzip codes on the
CPU, so there the CPU build comes from PyTorch's own wheel index, where that index answers. Where it does not
(a machine with no internet but a package mirror), or on macOS and Windows, whose PyPI builds are for the CPU,
pip installs the pinned torch as its configuration says. FLOWZIP_TORCH_CPU_INDEX names another CPU index.
"""

from __future__ import annotations

import os
import platform
import sys
import urllib.request

TORCH = "torch==2.13.0"
CPU_INDEX = os.environ.get("FLOWZIP_TORCH_CPU_INDEX", "https://download.pytorch.org/whl/cpu")


def answers(index: str) -> bool:
    """Whether the index lists torch within a few seconds."""
    try:
        with urllib.request.urlopen(f"{index.rstrip('/')}/torch/", timeout=10) as reply:
            return reply.status == 200
    except (OSError, ValueError):
        return False


def main() -> None:
    if platform.system() == "Linux":
        if answers(CPU_INDEX):
            print(TORCH, "--index-url", CPU_INDEX, "--extra-index-url", "https://pypi.org/simple")
            return
        print(f"note: {CPU_INDEX} does not answer: torch as pip's configuration gives it", file=sys.stderr)
    print(TORCH)


if __name__ == "__main__":
    main()
