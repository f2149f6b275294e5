"""The MQTT publisher as a Sink: each domain record becomes its topic and JSON payload here.

Runs on the thread that produced the record (analytics or capture), as the encoders did when
the pipeline called them itself: encoding is a few microseconds and `send` never blocks (the
publisher queues). Snapshot jobs are not encoded here: the snapshot worker renders and sends them."""

from __future__ import annotations

from typing import Protocol

from agent.publish import messages
from agent.publish.messages import OutboundMessage
from agent.publish.topics import Topics
from agent.records import (
    BestCrop,
    CameraStatus,
    CountChange,
    FrameDetections,
    LineTotals,
    MotionChange,
    Record,
    RegionCrop,
    SnapshotJob,
    StateChange,
)
from agent.types import Anomaly, Event, LineCrossing


class MessageOutlet(Protocol):
    """Where encoded messages go: the running publisher (the daemon swaps it on a broker change,
    and the topics with it), so the sink asks for the topics at every record."""

    @property
    def topics(self) -> Topics: ...

    def send(self, message: OutboundMessage) -> None: ...


class MqttSink:
    """Encodes records to MQTT messages and hands them to the outlet."""

    def __init__(self, outlet: MessageOutlet) -> None:
        self._outlet = outlet

    def accept(self, record: Record) -> None:
        message = encode_record(self._outlet.topics, record)
        if message is not None:
            self._outlet.send(message)


def encode_record(topics: Topics, record: Record) -> OutboundMessage | None:
    """The message a record is published as; None for records other sinks handle (snapshot jobs, crops)."""
    match record:
        case FrameDetections():
            return messages.encode_detections(topics, record)
        case Event():
            return messages.encode_event(topics, record)
        case Anomaly():
            return messages.encode_anomaly(topics, record)
        case CountChange():
            return _encode_count(topics, record)
        case LineCrossing():
            return messages.encode_line_crossing(topics, record)
        case LineTotals():
            return messages.encode_line_count(topics, record.camera, record.line, record.a_to_b, record.b_to_a)
        case MotionChange():
            return messages.encode_motion(topics, record.camera, record.on)
        case CameraStatus():
            return messages.encode_camera_status(topics, record.camera, record.online)
        case StateChange():
            return messages.encode_state(topics, record)
        case SnapshotJob() | BestCrop() | RegionCrop():
            return None


def _encode_count(topics: Topics, change: CountChange) -> OutboundMessage:
    if change.label is None:  # agent.core.counts.ALL_OBJECTS: every object the camera tracks
        return messages.encode_all_count(topics, change.camera, change.count)
    if change.zone is None:
        return messages.encode_count(topics, change.camera, change.label, change.count)
    return messages.encode_zone_count(topics, change.camera, change.zone, change.label, change.count)
