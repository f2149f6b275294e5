#!/usr/bin/env bash
# Runs the CI command (.ci/run) N times in a row with stress-ng keeping CPU workers busy beside it,
# to flush out races that only show on a loaded machine (issue 13: "5 runs out of 5 under load").
# Usage: bash tools/suite_under_load.sh [RUNS=5] [CPU_WORKERS=1]; logs in bench-out/under-load/.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
workers=${2:-1}
command -v stress-ng >/dev/null || bash tools/apt-get-wait.sh install -y -q stress-ng >&2
out=bench-out/under-load
mkdir -p "$out"
stress-ng --cpu "$workers" --timeout 0 >/dev/null 2>&1 &
stress=$!
trap 'kill "$stress" 2>/dev/null || true' EXIT
passed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if CI=true bash .ci/run >"$out/run-$i.log" 2>&1; then rc=0; passed=$((passed + 1)); else rc=$?; fi
  echo "run $i: rc=$rc in $(( $(date +%s) - start )) s: $(grep -E '[0-9]+ (passed|failed)' "$out/run-$i.log" | tr '\n' ' ')"
done
echo "$passed of $runs runs passed under stress-ng --cpu $workers"
[ "$passed" -eq "$runs" ]
