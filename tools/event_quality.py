"""Event quality on the real videos: events per object pass (vs. the hand counts in
tests/data/passes.yaml), id switches (fragments) and flapping, printed as a table.

Two ways to get the events, both on the real model and the real videos:
  --mode agent   the real agent subprocess, realtime file playback (events are in wall
                 seconds), both videos as two cameras, against a private mosquitto; ~85 s.
  --mode replay  the same CameraProcessor (motion gate, regions, detector, filter, tracker,
                 zones, events) fed in-process with the video's own timestamps at detect_fps;
                 no threads, no broker, ~10x faster; used for tuning sweeps.

Usage: .venv/bin/python tools/event_quality.py [--mode agent|replay] [--set tracker.min_hits=2 ...]
         [--model yolov8n_int8_416] [--model-set min_score=0.25 --model-set nms_iou=0.45]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import cv2
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.assets import PEDESTRIANS, SSD_MODEL, TRAFFIC, assets_dir  # noqa: E402

if TYPE_CHECKING:
    from agent.detect import Detector, InputBuffer, InvokeOutput
    from agent.publish.topics import Topics
    from agent.records import Record
    from agent.types import DetectionResult, Image

PASSES_FILE = REPO / "tests" / "data" / "passes.yaml"
CAMERAS = {"walkway": PEDESTRIANS, "crossing": TRAFFIC}
LABELS = ["person", "car"]
FLAP_S = 2.0  # an event shorter than this is flapping
FRAGMENT_GAP_S = 2.0  # a start this soon after an end of the same label ...
FRAGMENT_DIST_DIAG = 1.5  # ... within this many end-box diagonals of the end box is an id switch
CAMERA_DEFAULTS: dict[str, Any] = {"objects": LABELS, "min_score": 0.5}
MODEL_DEFAULTS: dict[str, Any] = {"path": SSD_MODEL.removesuffix(".tflite"), "min_score": 0.3}


@dataclass
class EventRecord:
    """One event_id's messages as received."""

    camera: str
    label: str
    start: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)


def apply_overrides(name: str, camera: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """`a.b=value` (value parsed as YAML) set into a copy of a camera config dict;
    `<camera>:a.b=value` only into that camera's."""
    result: dict[str, Any] = json.loads(json.dumps(camera))  # a deep copy of a dict is a dict
    for item in overrides:
        key, _, raw = item.partition("=")
        only, sep, rest = key.partition(":")
        if sep:
            if only != name:
                continue
            key = rest
        node = result
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(raw)
    return result


def model_config(name: str | None, overrides: list[str]) -> dict[str, Any]:
    """The `model:` section: MODEL_DEFAULTS with `path` = catalogue name or file, then `key=value` overrides."""
    base = {**MODEL_DEFAULTS, **({"path": name} if name else {})}
    return apply_overrides("model", base, overrides)


def camera_configs(overrides: list[str], realtime: bool) -> dict[str, dict[str, Any]]:
    videos = assets_dir() / "videos"
    return {
        name: apply_overrides(name, {"source": str(videos / video), "realtime": realtime, **CAMERA_DEFAULTS}, overrides)
        for name, video in CAMERAS.items()
    }


def group_events(payloads: Iterable[dict[str, Any]]) -> dict[str, EventRecord]:
    records: dict[str, EventRecord] = {}
    for p in payloads:
        rec = records.setdefault(p["event_id"], EventRecord(p["camera"], p["label"]))
        if p["type"] == "start":
            rec.start = p
        elif p["type"] == "end":
            rec.end = p
        else:
            rec.updates.append(p)
    return records


# --- the two ways of getting events ------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_agent_mode(cameras: dict[str, dict[str, Any]], model: dict[str, Any], workdir: Path) -> list[dict[str, Any]]:
    """The real agent subprocess against a private mosquitto; returns every event payload."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    port, prefix = _free_port(), f"evq-{uuid.uuid4().hex[:8]}"
    (workdir / "mosquitto.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker_bin = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    broker = subprocess.Popen([broker_bin, "-c", str(workdir / "mosquitto.conf")], stderr=subprocess.DEVNULL)
    received: list[dict[str, Any]] = []
    lock, subscribed = threading.Lock(), threading.Event()
    try:
        time.sleep(0.5)
        client = mqtt.Client(CallbackAPIVersion.VERSION2)
        client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/+/events", qos=1)
        client.on_subscribe = lambda *_: subscribed.set()

        def on_message(_c: Any, _u: Any, msg: Any) -> None:
            with lock:
                received.append(json.loads(msg.payload))

        client.on_message = on_message
        client.connect("127.0.0.1", port)
        client.loop_start()
        subscribed.wait(10)
        config = {
            "device_id": "evq",
            "state_dir": str(workdir / "state"),
            "model_dir": str(assets_dir() / "models"),
            "log_level": "WARNING",
            "mqtt": {"host": "127.0.0.1", "port": port, "topic_prefix": prefix},
            "model": model,
            "snapshots": {"enabled": False},
            "cameras": cameras,
        }
        (workdir / "agent.yaml").write_text(yaml.safe_dump(config))
        cmd = [sys.executable, "-m", "agent", "run", "--config", str(workdir / "agent.yaml")]
        subprocess.run(cmd, cwd=REPO, check=True, timeout=300)
        time.sleep(1.0)  # the last durable messages
        client.loop_stop()
        client.disconnect()
    finally:
        broker.terminate()
        broker.wait(5)
    with lock:
        return list(received)


class TimedDetector:
    """Passes detect() through to the real detector and keeps each result's inference_ms.
    DetectionStage.run() calls only detect(); the staged calls pass through untimed, so this is a Detector."""

    def __init__(self, inner: Detector) -> None:
        self._inner = inner
        self.invoke_ms: list[float] = []

    @property
    def input_size(self) -> tuple[int, int]:
        return self._inner.input_size

    def detect(self, image: Image, min_score: float | None = None) -> DetectionResult:
        result = self._inner.detect(image, min_score)
        self.invoke_ms.append(result.inference_ms)
        return result

    def new_input_buffer(self) -> InputBuffer:
        return self._inner.new_input_buffer()

    def prepare(self, image: Image, buffer: InputBuffer) -> None:
        self._inner.prepare(image, buffer)

    def invoke_prepared(self, buffer: InputBuffer) -> InvokeOutput:
        return self._inner.invoke_prepared(buffer)

    def decode(self, output: InvokeOutput, width: int, height: int, min_score: float | None = None) -> DetectionResult:
        return self._inner.decode(output, width, height, min_score)


def run_replay_mode(cameras: dict[str, dict[str, Any]], model: dict[str, Any]) -> list[dict[str, Any]]:
    """The agent's CameraProcessor in-process, frames stamped with the video's own time."""
    from agent.catalog.resolve import resolve_model
    from agent.config.loader import load_config_text
    from agent.daemon.cameras import build_embedder
    from agent.detect import ModelDetector
    from agent.pipeline.counters import DetectCounters
    from agent.pipeline.detection_stage import DetectionStage
    from agent.pipeline.processor import CameraProcessor
    from agent.publish.topics import Topics
    from agent.types import Frame

    doc = {
        "device_id": "evq",
        "model_dir": str(assets_dir() / "models"),
        "model": model,
        "cameras": cameras,
    }
    config = load_config_text(yaml.safe_dump(doc))
    resolved = resolve_model(config)
    detector = TimedDetector(ModelDetector(resolved.model_path, resolved.labels_path, config.model))
    topics = Topics("evq", "evq")
    payloads: list[dict[str, Any]] = []
    t0 = 1_750_000_000.0
    for name, cam in config.cameras.items():
        stage = DetectionStage(cam.motion, cam.regions, config.model.nms_iou)
        proc = CameraProcessor(
            name, cam, config.model.min_score, DetectCounters(), embedder=build_embedder(config, cam)
        )
        cap = cv2.VideoCapture(cam.source)
        fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
        seq, next_ts, ts = 0, 0.0, 0.0
        while True:
            ok, image = cap.read()
            if not ok:
                break
            seq += 1
            ts = (seq - 1) / fps
            if ts + 1e-9 < next_ts:
                continue
            next_ts = ts + 1.0 / cam.detect_fps
            frame = Frame(name, seq, ts, t0 + ts, cast("Image", image))  # 8-bit BGR, as decoded
            out = proc.process(frame, stage.run(frame, detector, proc.detector_floor, proc.active_boxes))
            payloads += event_payloads(topics, out)
        payloads += event_payloads(topics, proc.finish(t0 + ts))
    if detector.invoke_ms:
        ms = sorted(detector.invoke_ms)
        print(f"invoke ms: median {statistics.median(ms):.1f}, p90 {ms[int(0.9 * (len(ms) - 1))]:.1f}, n {len(ms)}")
    return payloads


def event_payloads(topics: Topics, records: list[Record]) -> list[dict[str, Any]]:
    """The events' JSON as the MQTT sink publishes it."""
    from agent.publish.sink import encode_record
    from agent.types import Event

    return [json.loads(m.payload) for r in records if isinstance(r, Event) and (m := encode_record(topics, r))]


# --- measures ------------------------------------------------------------------------------
def _centre(box: list[float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0


def _diag(box: list[float]) -> float:
    return math.hypot(box[2] - box[0], box[3] - box[1])


def count_fragments(records: list[EventRecord]) -> int:
    """Starts that continue an event which ended just before, close to where it ended (id switches)."""
    ends = sorted((r.end for r in records if r.end), key=lambda e: e["end_ts"])
    starts = sorted((r.start for r in records if r.start), key=lambda s: s["start_ts"])
    used: set[str] = set()
    fragments = 0
    for end in ends:
        for start in starts:
            gap = start["start_ts"] - end["end_ts"]
            if start["event_id"] in used or not 0.0 <= gap <= FRAGMENT_GAP_S:
                continue
            (ex, ey), (sx, sy) = _centre(end["box"]), _centre(start["box"])
            if math.hypot(sx - ex, sy - ey) <= FRAGMENT_DIST_DIAG * max(_diag(end["box"]), 1.0):
                used.add(start["event_id"])
                fragments += 1
                break
    return fragments


def table(payloads: list[dict[str, Any]], passes: dict[str, Any]) -> list[str]:
    records = group_events(payloads)
    by_key: dict[tuple[str, str], list[EventRecord]] = defaultdict(list)
    for rec in records.values():
        by_key[(rec.camera, rec.label)].append(rec)
    lines = [
        f"{'camera':9} {'label':7} {'events':>6} {'hand':>9} {'ev/pass':>7} {'frag':>4} "
        f"{'flap<2s':>7} {'<1s':>3} {'unended':>7} {'med dur s':>9}"
    ]
    for camera, video in CAMERAS.items():
        hand_labels = passes["videos"][video]["labels"]
        for label in sorted(set(hand_labels) | {lab for cam, lab in by_key if cam == camera}):
            recs = by_key.get((camera, label), [])
            hand = hand_labels.get(label)
            durations = [r.end["duration_s"] for r in recs if r.end]
            flap = sum(1 for d in durations if d < FLAP_S)
            short = sum(1 for d in durations if d < 1.0)
            ratio = f"{len(recs) / hand['count']:.2f}" if hand else "-"
            rng = f"{hand['count']} ({hand['min']}-{hand['max']})" if hand else "-"
            med = f"{statistics.median(durations):.1f}" if durations else "-"
            unended = sum(1 for r in recs if r.end is None)
            lines.append(
                f"{camera:9} {label:7} {len(recs):6d} {rng:>9} {ratio:>7} {count_fragments(recs):4d} "
                f"{flap:7d} {short:3d} {unended:7d} {med:>9}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("agent", "replay"), default="agent")
    parser.add_argument(
        "--set", action="append", default=[], help="camera setting, e.g. tracker.min_hits=2 or crossing:min_score=0.45"
    )
    parser.add_argument("--model", help="catalogue name (e.g. yolov8n_int8_416) or .tflite path; default the SSD")
    parser.add_argument(
        "--model-set", action="append", default=[], help="model setting, e.g. min_score=0.25 or nms_iou=0.45"
    )
    parser.add_argument("--dump", type=Path, help="write the event payloads to this JSON file")
    args = parser.parse_args(argv)
    passes = yaml.safe_load(PASSES_FILE.read_text())
    model = model_config(args.model, args.model_set)
    started = time.monotonic()
    if args.mode == "agent":
        with tempfile.TemporaryDirectory() as tmp:
            payloads = run_agent_mode(camera_configs(args.set, realtime=True), model, Path(tmp))
    else:
        payloads = run_replay_mode(camera_configs(args.set, realtime=False), model)
    if args.dump:
        args.dump.write_text(json.dumps(payloads))
    print(f"mode {args.mode}, model {model}, settings {args.set or 'defaults'}, {time.monotonic() - started:.0f} s")
    print("\n".join(table(payloads, passes)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
