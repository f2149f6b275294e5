#!/usr/bin/env bash
# The README's test command and what CI runs: set up, lint, type-check, run the suite,
# then prove the detector under tflite-runtime in its own venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
.venv/bin/ruff check agent tests tools
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
bash .ci/tflite_runtime_compat.sh
