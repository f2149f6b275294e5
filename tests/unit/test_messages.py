"""Unit tests of the MQTT encoders (agent.publish.messages): every payload matches its schema."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest

from agent.publish import messages as m
from agent.publish.messages import OutboundMessage
from agent.publish.topics import Topics
from agent.records import FrameDetections
from agent.types import (
    Anomaly,
    BBox,
    CameraStats,
    Detection,
    DetectionResult,
    Event,
    EventKind,
    Frame,
    LineCrossing,
    PublisherStats,
    Severity,
    StatsSnapshot,
    Track,
    TrackState,
)
from tests.support.schemas import validate_payload

T = Topics("edge", "dev1")
TS = 1_732_530_000.123456
BOX = BBox(10.04, 20.06, 110.5, 220.449)
TRACK = Track(7, "person", BOX, 0.912345, TrackState.CONFIRMED, TS - 5, TS, 12)
EVENT_ID = "5f24b9a723634fd3835088a0d0abc34d"  # uuid4 hex, as the event engine makes them
ANOMALY_ID = "0c9e4f3b2a8d4e4f9a51c7d2b6e8f013"


def _frame() -> Frame:
    return Frame("door", 42, 1000.0, TS, np.zeros((48, 64, 3), dtype=np.uint8))


def _event(kind: EventKind) -> Event:
    end = TS + 1.5 if kind is EventKind.END else None
    return Event(kind, EVENT_ID, "door", TRACK, 0.95, ("porch",), ("porch",), TS - 3.0, TS, end, kind is EventKind.END)


def _anomaly(active: bool) -> Anomaly:
    return Anomaly(
        ANOMALY_ID,
        "loitering",
        "door",
        Severity.WARNING,
        active,
        TS - 60,
        None if active else TS,
        {"dwell_s": 61.23456, "zone": "porch", "nan": float("nan")},
        (EVENT_ID,),
        True,
    )


def _stats(p50: float | None) -> StatsSnapshot:
    camera = CameraStats(14.987, 4.99, 1000, 2, 1, 1, True, 0.0, p50, None if p50 is None else 22.4, 5, 0)
    publisher = PublisherStats(True, 2, 1.5, 0, 100, 0, 4, 1)
    return StatsSnapshot(
        "0.1.0", 3600.04, "ai-edge-litert", "ssd_mobilenet_v2", {"door": camera}, publisher, 1750000000.5
    )


DETECTIONS = DetectionResult(
    (Detection("person", 0, 0.876543, BOX), Detection("car", 2, 0.5, BBox(0, 0, 1, 1))), 12.3456
)

# name, encoder, schema, topic, qos, retain, durable
CASES: list[tuple[str, Callable[[], OutboundMessage], str, str, int, bool, bool]] = [
    (
        "detections",
        lambda: m.encode_detections(T, FrameDetections.of(_frame(), DETECTIONS)),
        "detections",
        "edge/dev1/door/detections",
        0,
        False,
        False,
    ),
    (
        "no detections",
        lambda: m.encode_detections(T, FrameDetections.of(_frame(), DetectionResult((), 3.0))),
        "detections",
        "edge/dev1/door/detections",
        0,
        False,
        False,
    ),
    ("stats", lambda: m.encode_stats(T, _stats(12.5)), "stats", "edge/dev1/stats", 0, True, False),
    ("stats without samples", lambda: m.encode_stats(T, _stats(None)), "stats", "edge/dev1/stats", 0, True, False),
    ("event start", lambda: m.encode_event(T, _event(EventKind.START)), "event", "edge/dev1/events", 1, False, True),
    ("event update", lambda: m.encode_event(T, _event(EventKind.UPDATE)), "event", "edge/dev1/events", 1, False, True),
    ("event end", lambda: m.encode_event(T, _event(EventKind.END)), "event", "edge/dev1/events", 1, False, True),
    (
        "line count",
        lambda: m.encode_line_count(T, "door", "gate", 3, 4),
        "line-count",
        "edge/dev1/door/lines/gate",
        1,
        True,
        False,
    ),
    (
        "line crossing",
        lambda: m.encode_line_crossing(T, LineCrossing("door", "gate", "a_to_b", 7, EVENT_ID, "person", TS)),
        "line-crossing",
        "edge/dev1/door/lines/gate/crossing",
        1,
        False,
        True,
    ),
    (
        "line crossing without event",
        lambda: m.encode_line_crossing(T, LineCrossing("door", "gate", "b_to_a", 7, None, "person", TS)),
        "line-crossing",
        "edge/dev1/door/lines/gate/crossing",
        1,
        False,
        True,
    ),
    ("anomaly active", lambda: m.encode_anomaly(T, _anomaly(True)), "anomaly", "edge/dev1/anomalies", 1, False, True),
    (
        "anomaly resolved",
        lambda: m.encode_anomaly(T, _anomaly(False)),
        "anomaly",
        "edge/dev1/anomalies",
        1,
        False,
        True,
    ),
    ("status online", lambda: m.encode_status(T, True), "status", "edge/dev1/status", 1, True, False),
    ("status offline", lambda: m.encode_status(T, False), "status", "edge/dev1/status", 1, True, False),
    (
        "camera offline",
        lambda: m.encode_camera_status(T, "door", False),
        "status",
        "edge/dev1/door/status",
        1,
        True,
        False,
    ),
    ("count", lambda: m.encode_count(T, "door", "person", 3), "count", "edge/dev1/door/person", 1, True, False),
    ("all count", lambda: m.encode_all_count(T, "door", 4), "count", "edge/dev1/door/all", 1, True, False),
    ("motion on", lambda: m.encode_motion(T, "door", True), "switch", "edge/dev1/door/motion", 1, True, False),
    ("motion off", lambda: m.encode_motion(T, "door", False), "switch", "edge/dev1/door/motion", 1, True, False),
    (
        "detect state",
        lambda: m.encode_toggle_state(T, "door", "detect", False),
        "switch",
        "edge/dev1/door/detect/state",
        1,
        True,
        False,
    ),
    (
        "snapshots state",
        lambda: m.encode_toggle_state(T, "door", "snapshots", True),
        "switch",
        "edge/dev1/door/snapshots/state",
        1,
        True,
        False,
    ),
    (
        "zone count",
        lambda: m.encode_zone_count(T, "door", "porch", "person", 0),
        "count",
        "edge/dev1/door/zones/porch/person",
        1,
        True,
        False,
    ),
]


@pytest.mark.parametrize(
    ("case", "encode", "schema", "topic", "qos", "retain", "durable"), CASES, ids=[c[0] for c in CASES]
)
def test_encoder_output_matches_schema_and_topic_contract(
    case: str, encode: Callable[[], OutboundMessage], schema: str, topic: str, qos: int, retain: bool, durable: bool
) -> None:
    """Each encoder produces a payload valid against its schema, on the documented topic with the documented flags."""
    msg = encode()
    validate_payload(schema, msg.payload)
    assert (msg.topic, msg.qos, msg.retain, msg.durable) == (topic, qos, retain, durable)


@pytest.mark.parametrize("case", [c for c in CASES if c[6]], ids=[c[0] for c in CASES if c[6]])
def test_durable_messages_carry_unique_msg_ids(
    case: tuple[str, Callable[[], OutboundMessage], str, str, int, bool, bool],
) -> None:
    """Two encodings of the same durable data get different msg_ids, so consumers can de-duplicate resends only."""
    first, second = json.loads(case[1]().payload), json.loads(case[1]().payload)
    assert first["msg_id"] != second["msg_id"]
    assert len(first["msg_id"]) == 32


def test_json_is_compact_and_rounded() -> None:
    """Payloads have no whitespace and floats are rounded to the documented precision."""
    msg = m.encode_detections(T, FrameDetections.of(_frame(), DETECTIONS))
    assert b" " not in msg.payload
    assert b"\n" not in msg.payload
    obj = json.loads(msg.payload)
    assert obj["ts"] == 1_732_530_000.123
    assert obj["inference_ms"] == 12.35
    assert obj["detections"][0] == {
        "label": "person",
        "class_id": 0,
        "score": 0.8765,
        "box": [10.0, 20.1, 110.5, 220.4],
    }
    assert (obj["width"], obj["height"], obj["seq"]) == (64, 48, 42)


def test_event_fields_come_from_the_track_and_event() -> None:
    """The event payload carries the track's label, box, id and the event's lifecycle times."""
    obj = json.loads(m.encode_event(T, _event(EventKind.END), msg_id="a" * 32).payload)
    assert obj["msg_id"] == "a" * 32
    assert (obj["type"], obj["label"], obj["track_id"], obj["score"]) == ("end", "person", 7, 0.9123)
    assert obj["end_ts"] == round(TS + 1.5, 3)
    assert obj["duration_s"] == 4.5
    assert obj["has_snapshot"] is True


def test_anomaly_details_non_finite_become_null() -> None:
    """A non-finite detail value is sent as null instead of producing invalid JSON."""
    obj = json.loads(m.encode_anomaly(T, _anomaly(True)).payload)
    assert obj["details"] == {"dwell_s": 61.2346, "zone": "porch", "nan": None}
    assert obj["state"] == "active"
    assert obj["ended_ts"] is None


def test_stats_report_nested_camera_and_publisher_counters() -> None:
    """The stats payload nests per-camera and publisher counters under their names."""
    obj = json.loads(m.encode_stats(T, _stats(None)).payload)
    assert obj["device_id"] == "dev1"
    assert obj["cameras"]["door"]["inference_ms_p50"] is None
    assert obj["cameras"]["door"]["capture_fps"] == 14.99
    assert (obj["cameras"]["door"]["rate_capped"], obj["cameras"]["door"]["overwritten"]) == (2, 1)
    assert obj["cameras"]["door"]["dropped"] == 3  # every frame the detector never took
    assert obj["publisher"]["fast_dropped"] == 4


def test_non_finite_required_number_is_refused() -> None:
    """A NaN where a number is required raises instead of publishing invalid JSON."""
    bad = DetectionResult((Detection("person", 0, float("nan"), BOX),), 1.0)
    with pytest.raises(ValueError, match="JSON"):
        m.encode_detections(T, FrameDetections.of(_frame(), bad))


def test_snapshot_must_be_jpeg_and_is_retained_bytes() -> None:
    """Snapshots are the JPEG bytes, retained at QoS 0; other data is refused."""
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 10
    msg = m.encode_snapshot(T, "door", "person", jpeg)
    assert (msg.topic, msg.payload, msg.qos, msg.retain, msg.durable) == (
        "edge/dev1/door/person/snapshot",
        jpeg,
        0,
        True,
        False,
    )
    with pytest.raises(ValueError, match="JPEG"):
        m.encode_snapshot(T, "door", "person", b"\x89PNG....")


def test_negative_count_and_bad_direction_are_refused() -> None:
    """Values outside the contract raise ValueError at the encoder."""
    with pytest.raises(ValueError, match=">= 0"):
        m.encode_count(T, "door", "person", -1)
    with pytest.raises(ValueError, match="direction"):
        m.encode_line_crossing(T, LineCrossing("door", "gate", "up", 1, None, "person", TS))


def test_switch_payloads_are_plain_on_off_and_clear_is_empty_retained() -> None:
    """Toggle states and motion are the bare texts ON/OFF; clearing a retained topic is an empty retained payload."""
    assert m.encode_toggle_state(T, "door", "detect", True).payload == b"ON"
    assert m.encode_motion(T, "door", False).payload == b"OFF"
    cleared = m.encode_retained_clear(T.toggle_state("door", "detect"))
    assert (cleared.topic, cleared.payload, cleared.retain, cleared.durable) == (
        "edge/dev1/door/detect/state",
        b"",
        True,
        False,
    )
