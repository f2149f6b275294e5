"""Prints what a dashboard would receive from an agent: one line per MQTT message.

Usage: python tools/watch.py [--host H] [--port P] [--topic 'edge-agent/#'] [--count N]
                             [--summary] [--until-offline]
Used by the README demo; handy on a device to see what the agent publishes. With --summary
(topic <prefix>/<device>/#) it ends with agent.cli.summary's totals of what it received."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.cli.summary import SummaryBuilder, render


def summarize(topic: str, payload: bytes) -> str:
    if topic.endswith("/snapshot"):
        return f"<jpeg {len(payload)} bytes>"
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return payload[:200].decode("utf-8", "replace")
    if isinstance(body, dict) and "detections" in body:
        objects = ", ".join(f"{d['label']} {d['score']:.2f}" for d in body["detections"])
        return f"frame {body.get('seq')} ({body.get('inference_ms', 0):.1f} ms): {objects}"
    if isinstance(body, dict) and "type" in body and "event_id" in body:
        return f"event {body['type']:<6} {body['label']} id={body['event_id'][:8]} score={body.get('top_score', 0):.2f} zones={body.get('current_zones')}"
    return json.dumps(body, separators=(",", ":"))[:300]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--topic", default="edge-agent/#")
    parser.add_argument("--count", type=int, default=0, help="exit after this many messages (0: never)")
    parser.add_argument("--summary", action="store_true", help="print a summary at the end (topic: <p>/<d>/#)")
    parser.add_argument("--until-offline", action="store_true", help="exit when the device publishes offline")
    parser.add_argument("--ready-file", type=Path, help="create this file once subscribed (for scripts and tests)")
    args = parser.parse_args()
    base = args.topic.removesuffix("/#")
    if (args.summary or args.until_offline) and (base == args.topic or "+" in base or "#" in base):
        parser.error(f"--summary and --until-offline need --topic <prefix>/<device>/#, not {args.topic!r}")

    done = threading.Event()
    received = 0
    builder = SummaryBuilder(base)

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        nonlocal received
        received += 1
        flag = " (retained)" if msg.retain else ""
        print(f"{msg.topic}{flag}: {summarize(msg.topic, bytes(msg.payload))}", flush=True)
        builder.add(msg.topic, bytes(msg.payload), bool(msg.retain))
        if (args.count and received >= args.count) or (args.until_offline and builder.offline):
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="")
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(args.topic, qos=1)
    if args.ready_file is not None:
        client.on_subscribe = lambda *_: args.ready_file.touch()
    client.on_message = on_message
    client.connect(args.host, args.port)
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    client.loop_start()
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    client.loop_stop()
    client.disconnect()
    if args.summary:
        print(render(builder.summary(), args.host, args.port), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
