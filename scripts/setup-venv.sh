# Sourced by demo.sh and test.sh: create and activate .venv, with PyTorch installed first.
# PyTorch comes first and pinned: asked for indirectly with no torch present, pip would pull the newest build
# with gigabytes of CUDA packages. Install the torch you want beforehand to use another build.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
source .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -c "import torch" 2>/dev/null || python -m pip install --quiet torch==2.13.0
