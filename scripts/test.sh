#!/usr/bin/env bash
# Set up flowzip for development in .venv (if needed), lint, and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-venv.sh
python -m pip install --quiet -e ".[dev]"
ruff check flowzip tests benchmarks examples scripts
ruff format --check flowzip tests benchmarks examples scripts
python -m pytest -q "$@"
