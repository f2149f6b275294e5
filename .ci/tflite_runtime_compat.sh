#!/usr/bin/env bash
# Runs the detector tests marked `runtime_compat` under tflite-runtime 2.14 (which needs numpy < 2)
# in a venv of their own, .venv-tflite-runtime, WITHOUT ai-edge-litert, and checks that the
# detector really used tflite_runtime. Idempotent: the venv is reused while its pins are unchanged.
# Usage: bash .ci/tflite_runtime_compat.sh [extra pytest args]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EDGE_AGENT_TFLITE_VENV:-$ROOT/.venv-tflite-runtime}"
PYTHON="${PYTHON:-python3}"

# tflite-runtime 2.14.0 has wheels for CPython 3.8-3.11 only and fails in Interpreter() under numpy 2.
# opencv-python-headless 4.12+ requires numpy >= 2; scikit-image 0.25 is the last one built for numpy 1.26
# and its wheel bundles the photos the tests use (astronaut, chelsea), so no download at test time.
# The project itself is NOT pip-installed: its dependencies would pull in ai-edge-litert.
PINS=(
    "tflite-runtime==2.14.0"
    "numpy==1.26.4"
    "opencv-python-headless==4.11.0.86"
    "scikit-image==0.25.2"
    "pyyaml>=6.0"
    "pydantic>=2.6,<3"
    "paho-mqtt>=2.0,<3"
    "pytest>=8"
    "pytest-timeout>=2.3"
)
STAMP="$VENV/.edge-agent-pins"
WANT="$(printf '%s\n' "$PYTHON" "${PINS[@]}")"

start_s=$SECONDS
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    echo "tflite_runtime_compat: reusing $VENV"
else
    echo "tflite_runtime_compat: creating $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
    printf '%s' "$WANT" >"$STAMP"
fi
echo "tflite_runtime_compat: environment ready in $((SECONDS - start_s)) s"

# The point of this run is the fallback runtime: ai-edge-litert must not be importable here.
"$VENV/bin/python" - <<'EOF'
import importlib.util
import sys

if importlib.util.find_spec("ai_edge_litert") is not None:
    sys.exit("tflite_runtime_compat: ai_edge_litert is installed in the compat venv; remove it")
EOF

cd "$ROOT"
export EDGE_AGENT_TFLITE_RUNTIME=tflite_runtime
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

# Assert the runtime the detector resolves to, independently of the tests.
"$VENV/bin/python" - <<'EOF'
import sys

from agent.detect.runtime import select_runtime

runtime = select_runtime()
print(f"tflite_runtime_compat: detector runtime = {runtime.name} {runtime.version}")
if runtime.name != "tflite_runtime":
    sys.exit(f"tflite_runtime_compat: expected tflite_runtime, got {runtime.name}")
EOF

# Only the modules that use the marker: the others may import dev tools this venv does not have.
mapfile -t COMPAT_TESTS < <(grep -l "mark.runtime_compat" tests/unit/test_*.py)
if [[ ${#COMPAT_TESTS[@]} -eq 0 ]]; then
    echo "tflite_runtime_compat: no test module in tests/unit uses @pytest.mark.runtime_compat" >&2
    exit 1
fi
"$VENV/bin/python" -m pytest -q -p no:cacheprovider -m runtime_compat "${COMPAT_TESTS[@]}" "$@"
echo "tflite_runtime_compat: done in $((SECONDS - start_s)) s"
