"""A device's presence as the broker keeps it: the retained `<p>/<d>/status` (online/offline,
offline also being the LWT) and the `ts` of the retained `<p>/<d>/stats` as last seen.

Pure: `config status` (CLI main thread) feeds it the retained messages it received."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum

from agent.publish.messages import STATUS_OFFLINE, STATUS_ONLINE
from agent.publish.topics import Topics


class DeviceStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    UNKNOWN = "unknown"  # no retained availability: never connected, or the broker lost it


@dataclass(frozen=True, slots=True)
class Presence:
    status: DeviceStatus
    last_seen_ts: float | None  # Unix time of the last stats; None if none was retained


def presence_topics(prefix: str, device_id: str) -> tuple[str, str]:
    """The availability and stats topics of a device, in that order."""
    topics = Topics(prefix, device_id)
    return topics.status(), topics.stats()


def decode_status(payload: bytes) -> DeviceStatus:
    if payload == STATUS_ONLINE:
        return DeviceStatus.ONLINE
    if payload == STATUS_OFFLINE:
        return DeviceStatus.OFFLINE
    return DeviceStatus.UNKNOWN


def decode_last_seen(payload: bytes) -> float | None:
    """The stats message's `ts`; None for a payload without one (an older agent) or not JSON."""
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    ts = body.get("ts") if isinstance(body, dict) else None
    return float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else None


def presence_from(status_payload: bytes | None, stats_payload: bytes | None) -> Presence:
    status = DeviceStatus.UNKNOWN if status_payload is None else decode_status(status_payload)
    return Presence(status, None if stats_payload is None else decode_last_seen(stats_payload))


def describe(presence: Presence, status_topic: str) -> str:
    """One human line saying whether the state printed with it is current."""
    seen = "an unknown time" if presence.last_seen_ts is None else format_ts(presence.last_seen_ts)
    if presence.status is DeviceStatus.ONLINE:
        return f"device is online (last stats {seen})"
    if presence.status is DeviceStatus.OFFLINE:
        return f"device is offline since {seen}; the state below is the last it reported"
    return f"device status unknown (nothing retained on {status_topic}); the state below is the last it reported"


def format_ts(ts_wall: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts_wall))


__all__ = ["DeviceStatus", "Presence", "describe", "format_ts", "presence_from", "presence_topics"]
