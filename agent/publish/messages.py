"""Encoders from the agent's typed data to MQTT messages: the only place JSON is produced.

Pure functions: typed dataclasses in, `OutboundMessage` out; no clock reads, no I/O.
Every JSON payload carries `schema_version` and matches docs/schemas/<name>.schema.json;
every durable payload carries a unique `msg_id` for consumer-side de-duplication.
Called by the analytics thread (detections, events, counts, motion) and the supervisor (stats,
toggle states)."""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from dataclasses import dataclass

from agent.publish.topics import Topics
from agent.records import FrameDetections, StateChange
from agent.types import Anomaly, CameraStats, Event, LineCrossing, PublisherStats, StatsSnapshot

SCHEMA_VERSION = 1
QOS_FAST = 0
QOS_STATE = 1
QOS_DURABLE = 1
JPEG_MAGIC = b"\xff\xd8"

# Decimal places: timestamps to the millisecond, scores to 1e-4, rates and milliseconds to 1e-2.
TS_DIGITS = 3
SCORE_DIGITS = 4
RATE_DIGITS = 2
STATUS_ONLINE = b"online"
STATUS_OFFLINE = b"offline"
SWITCH_ON = b"ON"
SWITCH_OFF = b"OFF"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One MQTT publish. `durable` messages go through the disk outbox (at-least-once)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    durable: bool


def new_msg_id() -> str:
    return uuid.uuid4().hex


def dumps(obj: object) -> bytes:
    """Compact UTF-8 JSON; NaN/Infinity are refused because they are not JSON."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _r(value: float, digits: int) -> float:
    return round(float(value), digits)


def _opt(value: float | None, digits: int) -> float | None:
    """Round an optional measurement; a missing or non-finite one becomes null."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _json(topic: str, obj: object, qos: int, retain: bool, durable: bool) -> OutboundMessage:
    return OutboundMessage(topic=topic, payload=dumps(obj), qos=qos, retain=retain, durable=durable)


def encode_status(topics: Topics, online: bool) -> OutboundMessage:
    """Device availability, retained; the publisher also registers `offline` as its LWT."""
    return OutboundMessage(topics.status(), STATUS_ONLINE if online else STATUS_OFFLINE, QOS_STATE, True, False)


def encode_camera_status(topics: Topics, camera: str, online: bool) -> OutboundMessage:
    payload = STATUS_ONLINE if online else STATUS_OFFLINE
    return OutboundMessage(topics.camera_status(camera), payload, QOS_STATE, True, False)


def encode_detections(topics: Topics, record: FrameDetections) -> OutboundMessage:
    """Per-frame detections: QoS 0, never queued (dropped and counted while disconnected)."""
    obj = {
        "schema_version": SCHEMA_VERSION,
        "camera": record.camera,
        "seq": int(record.seq),
        "ts": _r(record.ts_wall, TS_DIGITS),
        "clock": record.clock.value,
        "width": record.width,
        "height": record.height,
        "inference_ms": _r(record.inference_ms, RATE_DIGITS),
        "detections": [
            {"label": d.label, "class_id": int(d.class_id), "score": _r(d.score, SCORE_DIGITS), "box": d.box.as_list()}
            for d in record.detections
        ],
    }
    return _json(topics.detections(record.camera), obj, QOS_FAST, False, False)


def _camera_stats(stats: CameraStats) -> dict[str, object]:
    return {
        "capture_fps": _r(stats.capture_fps, RATE_DIGITS),
        "detect_fps": _r(stats.detect_fps, RATE_DIGITS),
        "frames": int(stats.frames),
        "dropped": int(stats.dropped),
        "rate_capped": int(stats.rate_capped),
        "overwritten": int(stats.overwritten),
        "reconnects": int(stats.reconnects),
        "online": bool(stats.online),
        "offline_s": _r(stats.offline_s, RATE_DIGITS),
        "online_s": _r(stats.online_s, RATE_DIGITS),
        "inference_ms_p50": _opt(stats.inference_ms_p50, RATE_DIGITS),
        "inference_ms_p95": _opt(stats.inference_ms_p95, RATE_DIGITS),
        "skipped": int(stats.skipped),
        "starved": int(stats.starved),
    }


def _publisher_stats(stats: PublisherStats) -> dict[str, object]:
    return {
        "connected": stats.connected,
        "outbox_depth": stats.outbox_depth,
        "outbox_oldest_age_s": _r(stats.outbox_oldest_age_s, RATE_DIGITS),
        "outbox_evicted": stats.outbox_evicted,
        "published": stats.published,
        "publish_failures": stats.publish_failures,
        "fast_dropped": stats.fast_dropped,
        "connect_attempts": stats.connect_attempts,
        "outbox_unstored": stats.outbox_unstored,
        "outbox_memory_only": stats.outbox_memory_only,
        "storage": {
            "free_bytes": stats.storage.free_bytes,
            "degraded": stats.storage.degraded,
            "write_failures": stats.storage.write_failures,
        },
    }


def encode_stats(topics: Topics, snapshot: StatsSnapshot) -> OutboundMessage:
    """Periodic health, retained so a dashboard shows the last values at once (see docs/mqtt.md)."""
    obj: dict[str, object] = {
        "schema_version": SCHEMA_VERSION,
        "device_id": topics.device_id,
        "version": snapshot.version,
        "ts": _r(snapshot.ts_wall, TS_DIGITS),
        "uptime_s": _r(snapshot.uptime_s, 1),
        "runtime": snapshot.runtime,
        "model": snapshot.model,
        "cameras": {name: _camera_stats(cam) for name, cam in snapshot.cameras.items()},
        "publisher": _publisher_stats(snapshot.publisher),
    }
    if snapshot.workers:
        obj["workers"] = {name: dataclasses.asdict(w) for name, w in snapshot.workers.items()}
    return _json(topics.stats(), obj, QOS_FAST, True, False)


def encode_event(topics: Topics, event: Event, msg_id: str | None = None) -> OutboundMessage:
    """An object's lifecycle message (start/update/end), durable through the outbox."""
    track = event.track
    obj = {
        "schema_version": SCHEMA_VERSION,
        "msg_id": msg_id or new_msg_id(),
        "type": event.kind.value,
        "event_id": event.event_id,
        "camera": event.camera,
        "label": track.label,
        "score": _r(track.score, SCORE_DIGITS),
        "top_score": _r(event.top_score, SCORE_DIGITS),
        "box": track.box.as_list(),
        "track_id": int(track.track_id),
        "current_zones": list(event.current_zones),
        "entered_zones": list(event.entered_zones),
        "ts": _r(event.ts_wall, TS_DIGITS),
        "start_ts": _r(event.start_ts, TS_DIGITS),
        "end_ts": _opt(event.end_ts, TS_DIGITS),
        "duration_s": _r(event.duration_s, TS_DIGITS),
        "clock": event.clock.value,
        "has_snapshot": event.has_snapshot,
        "sub_label": event.sub_label,
        "sub_label_score": _opt(event.sub_label_score, SCORE_DIGITS),
    }
    return _json(topics.events(), obj, QOS_DURABLE, False, True)


def encode_count(topics: Topics, camera: str, label: str, count: int) -> OutboundMessage:
    """Objects of `label` currently seen by `camera`: an integer as text, retained."""
    return _count(topics.count(camera, label), count)


def encode_all_count(topics: Topics, camera: str, count: int) -> OutboundMessage:
    """Objects of every label currently seen by `camera` (Frigate's `<camera>/all`), retained."""
    return _count(topics.all_count(camera), count)


def encode_zone_count(topics: Topics, camera: str, zone: str, label: str, count: int) -> OutboundMessage:
    return _count(topics.zone_count(camera, zone, label), count)


def _count(topic: str, count: int) -> OutboundMessage:
    if count < 0:
        raise ValueError(f"object count must be >= 0, got {count} for {topic}")
    return OutboundMessage(topic, str(int(count)).encode("ascii"), QOS_STATE, True, False)


def _switch(topic: str, on: bool) -> OutboundMessage:
    return OutboundMessage(topic, SWITCH_ON if on else SWITCH_OFF, QOS_STATE, True, False)


def encode_toggle_state(topics: Topics, camera: str, toggle: str, on: bool) -> OutboundMessage:
    """A runtime toggle's current value (`ON`/`OFF` text), retained: what Home Assistant's switch shows."""
    return _switch(topics.toggle_state(camera, toggle), on)


def encode_state(topics: Topics, change: StateChange) -> OutboundMessage:
    """A state classifier's answer on `<camera>/states/<state>`, retained, sent on change only."""
    obj = {
        "schema_version": SCHEMA_VERSION,
        "camera": change.camera,
        "state": change.state,
        "value": change.value,
        "score": _r(change.score, SCORE_DIGITS),
        "ts": _r(change.ts_wall, TS_DIGITS),
        "clock": change.clock.value,
    }
    return _json(topics.state(change.camera, change.state), obj, QOS_STATE, True, False)


def encode_motion(topics: Topics, camera: str, on: bool) -> OutboundMessage:
    """Whether the camera's motion gate sees motion (`ON`/`OFF` text), retained; sent on change only."""
    return _switch(topics.motion(camera), on)


def encode_retained_clear(topic: str) -> OutboundMessage:
    """An empty retained payload: the broker drops the topic's retained message (a camera that is gone)."""
    return OutboundMessage(topic, b"", QOS_STATE, True, False)


def encode_line_count(topics: Topics, camera: str, line: str, a_to_b: int, b_to_a: int) -> OutboundMessage:
    """Running totals of a count line, retained."""
    obj = {"schema_version": SCHEMA_VERSION, "a_to_b": int(a_to_b), "b_to_a": int(b_to_a)}
    return _json(topics.line_count(camera, line), obj, QOS_STATE, True, False)


def encode_line_crossing(topics: Topics, crossing: LineCrossing, msg_id: str | None = None) -> OutboundMessage:
    """One crossing of a count line, durable through the outbox."""
    if crossing.direction not in ("a_to_b", "b_to_a"):
        raise ValueError(f"line crossing direction must be a_to_b or b_to_a, got {crossing.direction!r}")
    obj = {
        "schema_version": SCHEMA_VERSION,
        "msg_id": msg_id or new_msg_id(),
        "camera": crossing.camera,
        "line": crossing.line,
        "direction": crossing.direction,
        "track_id": int(crossing.track_id),
        "event_id": crossing.event_id,
        "label": crossing.label,
        "ts": _r(crossing.ts_wall, TS_DIGITS),
        "clock": crossing.clock.value,
    }
    return _json(topics.line_crossing(crossing.camera, crossing.line), obj, QOS_DURABLE, False, True)


def encode_snapshot(topics: Topics, camera: str, label: str, jpeg: bytes) -> OutboundMessage:
    """Latest JPEG of `label` on `camera`, retained; QoS 0 so large pictures never pile up in memory."""
    if not jpeg.startswith(JPEG_MAGIC):
        raise ValueError(f"snapshot for {camera}/{label} is not a JPEG (starts with {jpeg[:4]!r})")
    return OutboundMessage(topics.snapshot(camera, label), bytes(jpeg), QOS_FAST, True, False)


def encode_anomaly(topics: Topics, anomaly: Anomaly, msg_id: str | None = None) -> OutboundMessage:
    """An anomaly becoming active or resolved, durable through the outbox."""
    details: dict[str, float | str | None] = {
        k: (_opt(v, SCORE_DIGITS) if isinstance(v, float | int) else v) for k, v in anomaly.details.items()
    }
    obj = {
        "schema_version": SCHEMA_VERSION,
        "msg_id": msg_id or new_msg_id(),
        "anomaly_id": anomaly.anomaly_id,
        "kind": anomaly.kind,
        "camera": anomaly.camera,
        "severity": anomaly.severity.value,
        "state": "active" if anomaly.active else "resolved",
        "started_ts": _r(anomaly.started_ts, TS_DIGITS),
        "ended_ts": _opt(anomaly.ended_ts, TS_DIGITS),
        "clock": anomaly.clock.value,
        "details": details,
        "event_ids": list(anomaly.event_ids),
        "has_snapshot": anomaly.has_snapshot,
    }
    return _json(topics.anomalies(), obj, QOS_DURABLE, False, True)
