# Sourced by demo.sh and test.sh: create and activate .venv, with PyTorch installed first.
# PyTorch comes first and pinned: asked for indirectly with no torch present, pip would pull the newest build
# with gigabytes of CUDA packages. On Linux its CPU build comes from PyTorch's index where that answers
# (scripts/torch_install_args.py). Install the torch you want beforehand to use another build.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
source .venv/bin/activate
python -m pip install --quiet --upgrade pip
# shellcheck disable=SC2046  # the arguments are words on purpose
python -c "import torch" 2>/dev/null || python -m pip install --quiet $(python scripts/torch_install_args.py)
