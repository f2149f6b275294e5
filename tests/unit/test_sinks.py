"""Unit tests of the record sinks: the MQTT sink (agent.publish.sink), the fan-out (agent.pipeline.fanout)
and the snapshot worker as a sink; a real CameraProcessor's records reach every sink."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from agent.config.outputs import SnapshotConfig
from agent.config.schema import CameraConfig
from agent.pipeline.counters import DetectCounters
from agent.pipeline.fanout import FanOutSink
from agent.pipeline.processor import CameraProcessor, Snapshots
from agent.publish import messages
from agent.publish.messages import OutboundMessage
from agent.publish.sink import MqttSink, encode_record
from agent.publish.topics import Topics
from agent.records import (
    CameraStatus,
    CountChange,
    FrameDetections,
    LineTotals,
    MotionChange,
    Record,
    SnapshotJob,
)
from agent.snapshots.worker import SnapshotWorker
from agent.types import BBox, Detection, DetectionResult, Event, EventKind, Frame, LineCrossing, Track, TrackState

T = Topics("edge", "dev1")
TS = 1_750_000_000.0
BOX = BBox(100, 100, 200, 300)
PERSON = Detection("person", 0, 0.9, BOX)
TRACK = Track(3, "person", BOX, 0.9, TrackState.CONFIRMED, TS - 2, TS, 5)
CAMERA = CameraConfig.model_validate({"source": "x", "tracker": {"min_hits": 1}, "events": {"min_duration_s": 0.0}})


def event(kind: EventKind, event_id: str = "e1") -> Event:
    end = TS if kind is EventKind.END else None
    return Event(kind, event_id, "door", TRACK, 0.9, (), (), TS - 2, TS, end, kind is EventKind.END)


def frame(seq: int) -> Frame:
    return Frame("door", seq, 100.0 + seq, TS + seq, np.zeros((480, 640, 3), dtype=np.uint8))


class Outlet:
    """The publisher as the MQTT sink sees it: topics and a non-blocking send."""

    def __init__(self, topics: Topics = T) -> None:
        self.topics = topics
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> None:
        self.sent.append(message)


class Recorder:
    """A second consumer: keeps every record it is handed."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def accept(self, record: Record) -> None:
        self.records.append(record)


class Broken:
    def accept(self, record: Record) -> None:
        raise RuntimeError("disk on fire")


CROSSING = LineCrossing("door", "gate", "a_to_b", 3, "e1", "person", TS)


@pytest.mark.parametrize(
    ("record", "direct"),
    [
        (FrameDetections.of(frame(1), DetectionResult((PERSON,), 4.0)), None),
        (CountChange("door", "person", None, 2), messages.encode_count(T, "door", "person", 2)),
        (CountChange("door", None, None, 3), messages.encode_all_count(T, "door", 3)),
        (CountChange("door", "person", "porch", 1), messages.encode_zone_count(T, "door", "porch", "person", 1)),
        (LineTotals("door", "gate", 4, 1), messages.encode_line_count(T, "door", "gate", 4, 1)),
        (MotionChange("door", True), messages.encode_motion(T, "door", True)),
        (CameraStatus("door", False), messages.encode_camera_status(T, "door", False)),
    ],
)
def test_mqtt_sink_publishes_a_record_as_its_encoder_does(record: Record, direct: OutboundMessage | None) -> None:
    """Each record becomes exactly the message the encoder makes of it: topic, payload, QoS, retain, durability."""
    outlet = Outlet()
    MqttSink(outlet).accept(record)
    assert len(outlet.sent) == 1
    if direct is not None:
        assert outlet.sent[0] == direct
    else:
        assert outlet.sent[0].topic == T.detections("door")
        assert json.loads(outlet.sent[0].payload)["detections"][0]["label"] == "person"


def test_mqtt_sink_encodes_events_crossings_and_anomalies_with_their_ids() -> None:
    """Durable records keep their ids; only the per-message msg_id is new."""
    outlet = Outlet()
    sink = MqttSink(outlet)
    sink.accept(event(EventKind.START))
    sink.accept(CROSSING)
    start, crossing = (json.loads(m.payload) for m in outlet.sent)
    assert [m.topic for m in outlet.sent] == [T.events(), T.line_crossing("door", "gate")]
    assert all(m.durable for m in outlet.sent)
    assert (start["type"], start["event_id"]) == ("start", "e1")
    assert (crossing["direction"], crossing["event_id"]) == ("a_to_b", "e1")


def test_mqtt_sink_reads_the_outlets_topics_at_every_record() -> None:
    """A broker swap changes the prefix: the next record goes to the new topics."""
    outlet = Outlet()
    sink = MqttSink(outlet)
    sink.accept(MotionChange("door", True))
    outlet.topics = Topics("other", "dev2")
    sink.accept(MotionChange("door", False))
    assert [m.topic for m in outlet.sent] == [T.motion("door"), "other/dev2/door/motion"]


def test_snapshot_jobs_are_not_published_by_the_mqtt_sink() -> None:
    """The snapshot worker renders and publishes snapshots; the MQTT sink leaves the job alone."""
    job = SnapshotJob("door", "person", "e1", np.zeros((8, 8, 3), np.uint8), BOX, 0.9, TS)
    assert encode_record(T, job) is None


def test_fan_out_hands_every_record_to_each_sink_in_order() -> None:
    """A second sink sees the same records in the same order as the first."""
    first, second = Recorder(), Recorder()
    fan_out = FanOutSink({"first": first, "second": second})
    records: list[Record] = [MotionChange("door", True), event(EventKind.START), CountChange("door", "person", None, 1)]
    for record in records:
        fan_out.accept(record)
    assert first.records == records
    assert second.records == records
    assert fan_out.names == ("first", "second")


def test_a_failing_sink_is_counted_logged_and_the_others_still_get_the_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One consumer's fault does not starve the consumers after it."""
    after = Recorder()
    fan_out = FanOutSink({"broken": Broken(), "after": after})
    with caplog.at_level(logging.ERROR, logger="agent.pipeline.fanout"):
        fan_out.accept(MotionChange("door", True))
        fan_out.accept(MotionChange("door", False))
    assert len(after.records) == 2
    assert fan_out.errors() == {"broken": 2, "after": 0}
    assert "sink broken failed on a MotionChange record (2 failures so far)" in caplog.text


def test_snapshot_worker_as_a_sink_queues_jobs_and_forgets_at_the_event_end() -> None:
    """A SnapshotJob record is queued; an end record forgets the event's snapshot; other records are ignored."""
    sent: list[OutboundMessage] = []
    worker = SnapshotWorker(T, SnapshotConfig(), sent.append)
    worker.accept(SnapshotJob("door", "person", "e1", np.full((60, 80, 3), 90, np.uint8), BOX, 0.9, TS))
    worker.accept(MotionChange("door", True))
    assert worker.pending == 1
    worker.start()
    worker.stop()
    worker.join(10)
    assert [m.topic for m in sent] == [T.snapshot("door", "person")]
    assert worker.has_snapshot("e1")
    worker.accept(event(EventKind.UPDATE))
    assert worker.has_snapshot("e1")
    worker.accept(event(EventKind.END))
    assert not worker.has_snapshot("e1")


def test_a_processors_records_reach_the_mqtt_sink_and_a_second_sink_alike() -> None:
    """Every record of a real processor reaches both sinks; the MQTT sink publishes all but the snapshot jobs."""
    outlet, recorder = Outlet(), Recorder()
    worker = SnapshotWorker(T, SnapshotConfig(), Outlet().send)  # not started: jobs only queue
    fan_out = FanOutSink({"mqtt": MqttSink(outlet), "snapshots": worker, "recorder": recorder})
    processor = CameraProcessor("door", CAMERA, 0.5, DetectCounters(), snapshots=Snapshots(worker, SnapshotConfig()))
    for seq in (1, 2, 3):
        for record in processor.process(frame(seq), DetectionResult((PERSON,), 5.0)):
            fan_out.accept(record)
    for record in processor.finish(TS + 10):
        fan_out.accept(record)
    kinds = [type(r).__name__ for r in recorder.records]
    assert {"FrameDetections", "Event", "CountChange", "SnapshotJob"} <= set(kinds)
    published = [r for r in recorder.records if not isinstance(r, SnapshotJob)]
    assert len(outlet.sent) == len(published)
    assert worker.pending == 1  # one event, its best frame's job waiting
    ends = [json.loads(m.payload) for m in outlet.sent if m.topic == T.events()]
    assert ends[0]["type"] == "start"
    assert ends[-1]["type"] == "end"
    assert {e["event_id"] for e in ends} == {ends[0]["event_id"]}
