#!/usr/bin/env bash
# The README's demo: set up, fetch the model (from the local mirror), make sure a
# broker is listening on 127.0.0.1:1883 (a private mosquitto is started if none is),
# run the agent on real surveillance video with its web page on, and print what a
# subscriber receives.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh

export EDGE_AGENT_MODEL_MIRROR=${EDGE_AGENT_MODEL_MIRROR:-$(cd .. && pwd)/shared/assets/models}
CONFIG=${CONFIG:-config/demo.yaml}
mkdir -p state/models
.venv/bin/edge-agent models pull ssd_mobilenet_v1_coco_uint8_300 --dest state/models

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  echo "demo: no broker on 127.0.0.1:1883; starting a private mosquitto" >&2
  printf 'listener 1883 127.0.0.1\nallow_anonymous true\n' > state/demo-mosquitto.conf
  mosquitto -c state/demo-mosquitto.conf >state/demo-mosquitto.log 2>&1 &
  pids+=($!)
  sleep 1
fi

# The watcher prints each message, and a summary of them once the agent has said `offline`.
rm -f state/demo-watch.ready
.venv/bin/python tools/watch.py --topic 'edge-agent/demo/#' --summary --until-offline \
  --ready-file state/demo-watch.ready &
watcher=$!
pids+=("$watcher")
for _ in $(seq 100); do [ -e state/demo-watch.ready ] && break; sleep 0.1; done
PAGE_PORT=${PAGE_PORT:-8080}  # config/demo.yaml's http.port
if (exec 3<>/dev/tcp/127.0.0.1/"$PAGE_PORT") 2>/dev/null; then
  echo "demo: port $PAGE_PORT is taken; free it or change http.port in $CONFIG (and PAGE_PORT)" >&2
  exit 1
fi
echo "demo: running the agent on the sample video (Ctrl-C to stop early)" >&2
echo "demo: web page: http://127.0.0.1:$PAGE_PORT/ (live view, events with snapshots and clips; while the agent runs)" >&2
.venv/bin/edge-agent run --config "$CONFIG" || echo "demo: the agent exited with $?" >&2
echo "demo: events, snapshots and clips stay in state/store; the next run's page shows them too" >&2
# A clean stop (or the broker's LWT) publishes `offline`, which ends the watcher; if neither
# arrives within 15 s, SIGTERM makes it print the summary of what it has.
( sleep 15; kill -TERM "$watcher" 2>/dev/null || true ) &
pids+=($!)
wait "$watcher" || true
