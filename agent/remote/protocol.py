"""The remote-config wire contract: topic names, the request envelope and the reply payloads.

Pure: no clock reads (the caller passes `ts_wall`), no I/O. Payloads match
docs/schemas/config-state.schema.json and config-current.schema.json. Called by the
config controller (paho's network thread classifies, the config thread answers) and by agent.cli.fleet."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from agent.publish.messages import OutboundMessage
from agent.publish.topics import Topics, check_level

SCHEMA_VERSION = 1
QOS_CONFIG = 1
REQUEST_ID_KEY = "request_id"
REQUEST_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces
MAX_GET_REQUEST_BYTES = 4096
TS_DIGITS = 3
CONFIG_LEVEL = "config"  # a camera with this name would publish under the config topics
GROUPS_LEVEL = "groups"  # a device with this id would receive every group's patches
ENVELOPE_LOC = "<document>"
SALVAGE_SCAN_BYTES = 64 * 1024
SALVAGE_PATTERN = re.compile(rb"""["']?request_id["']?\s*:\s*["']?([\x21-\x7e]{1,128}?)["',}\s]""")


class ApplyStatus(StrEnum):
    """Outcome of the last remote-config request, reported on the retained state topic."""

    APPLIED = "applied"
    REJECTED = "rejected"  # never applied: unparsable, invalid or against policy; old config kept
    ROLLED_BACK = "rolled_back"  # applied, failed while starting, the previous config restored
    APPLIED_RESTART_REQUIRED = "applied_restart_required"  # applied; `restart_required` fields wait for a restart
    SUPERSEDED = "superseded"  # absorbed into a later queued request (`superseded_by`), which was applied

    @property
    def succeeded(self) -> bool:
        """The one rule tools use: the request's settings are in force (or folded into one that is)."""
        return self in SUCCESS_STATUSES


SUCCESS_STATUSES = frozenset({ApplyStatus.APPLIED, ApplyStatus.APPLIED_RESTART_REQUIRED, ApplyStatus.SUPERSEDED})


class RequestKind(StrEnum):
    SET = "set"
    PATCH = "patch"
    GET = "get"


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem with a remote document: `loc` is a dotted field path (or <document>), `msg` says why."""

    loc: str
    msg: str


@dataclass(frozen=True, slots=True)
class ConfigState:
    """Payload of the retained `<p>/<d>/config/state`: the running config's version and the last outcome."""

    version: str
    applied_at: float
    status: ApplyStatus
    errors: tuple[ConfigIssue, ...]
    request_id: str | None
    superseded_by: str | None = None  # SUPERSEDED: the request_id of the request that was applied
    restart_required: tuple[str, ...] = ()  # APPLIED_RESTART_REQUIRED: dotted fields read only at start


@dataclass(frozen=True, slots=True)
class Envelope:
    """A request split into its optional request_id and the body that is validated."""

    request_id: str | None
    body: dict[str, Any]
    errors: tuple[ConfigIssue, ...]


@dataclass(frozen=True, slots=True)
class ConfigTopics:
    """Config topics of one device: `<prefix>/<device_id>/config/...` and its groups' patch topics."""

    prefix: str
    device_id: str
    groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        Topics(self.prefix, self.device_id)  # raises ValueError naming a bad prefix or device id
        if self.device_id == GROUPS_LEVEL:
            raise ValueError(f"device_id {GROUPS_LEVEL!r} is reserved: <prefix>/{GROUPS_LEVEL}/ holds group topics")
        for group in self.groups:
            check_level("group", group)

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device_id}/{CONFIG_LEVEL}"

    def request(self, kind: RequestKind) -> str:
        return f"{self.base}/{kind.value}"

    def state(self) -> str:
        return f"{self.base}/state"

    def current(self) -> str:
        return f"{self.base}/current"

    def group_patch(self, group: str) -> str:
        return group_patch_topic(self.prefix, group)

    def subscriptions(self) -> tuple[str, ...]:
        """Every topic the device subscribes to: its set, patch and get, and each group's patch."""
        own = tuple(self.request(kind) for kind in RequestKind)
        return own + tuple(self.group_patch(group) for group in self.groups)

    def classify(self, topic: str) -> RequestKind | None:
        """Which request a received topic carries (a group patch is a PATCH); None if not ours."""
        for kind in RequestKind:
            if topic == self.request(kind):
                return kind
        if any(topic == self.group_patch(group) for group in self.groups):
            return RequestKind.PATCH
        return None


def group_patch_topic(prefix: str, group: str) -> str:
    """`<prefix>/groups/<group>/config/patch`: applied by every device listing `group` in `groups`."""
    return f"{prefix}/{GROUPS_LEVEL}/{check_level('group', group)}/{CONFIG_LEVEL}/{RequestKind.PATCH.value}"


def all_states_filter(prefix: str) -> str:
    """Subscription filter matching every device's config/state topic."""
    return f"{prefix}/+/{CONFIG_LEVEL}/state"


def check_request_id(value: Any) -> str | None:
    """`value` if it is a usable request id (1-128 printable ASCII characters, no spaces), else None."""
    if isinstance(value, str) and REQUEST_ID_PATTERN.fullmatch(value):
        return value
    return None


def split_envelope(document: Mapping[str, Any]) -> Envelope:
    """Take the optional top-level `request_id` out of a parsed set/patch document."""
    body = {key: value for key, value in document.items() if key != REQUEST_ID_KEY}
    if REQUEST_ID_KEY not in document:
        return Envelope(None, body, ())
    request_id = check_request_id(document[REQUEST_ID_KEY])
    if request_id is None:
        issue = ConfigIssue(REQUEST_ID_KEY, "must be 1-128 printable ASCII characters without spaces")
        return Envelope(None, body, (issue,))
    return Envelope(request_id, body, ())


def parse_get_request(payload: bytes) -> Envelope:
    """A config/get payload: empty, or a JSON object with an optional request_id (nothing else is read)."""
    if not payload.strip():
        return Envelope(None, {}, ())
    if len(payload) > MAX_GET_REQUEST_BYTES:
        issue = ConfigIssue(ENVELOPE_LOC, f"get request is larger than {MAX_GET_REQUEST_BYTES} bytes")
        return Envelope(None, {}, (issue,))
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Envelope(None, {}, (ConfigIssue(ENVELOPE_LOC, f"get request is not JSON: {exc}"),))
    if not isinstance(document, dict):
        return Envelope(None, {}, (ConfigIssue(ENVELOPE_LOC, "get request must be a JSON object or empty"),))
    return split_envelope(document)


def salvage_request_id(payload: bytes) -> str | None:
    """Best effort for a payload that did not parse: the first `"request_id": "<id>"` (JSON) or
    `request_id: <id>` (YAML) in its first bytes, so the rejection still names the request."""
    match = SALVAGE_PATTERN.search(payload[:SALVAGE_SCAN_BYTES])
    return check_request_id(match.group(1).decode("ascii")) if match else None


def state_payload(state: ConfigState) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "version": state.version,
        "applied_at": round(state.applied_at, TS_DIGITS),
        "status": state.status.value,
        "errors": [{"loc": issue.loc, "msg": issue.msg} for issue in state.errors],
        "request_id": state.request_id,
    }
    if state.status is ApplyStatus.SUPERSEDED:
        payload["superseded_by"] = state.superseded_by
    if state.status is ApplyStatus.APPLIED_RESTART_REQUIRED:
        payload["restart_required"] = list(state.restart_required)
    return payload


def encode_state(state: ConfigState) -> bytes:
    return json.dumps(state_payload(state), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_state(payload: bytes) -> ConfigState | None:
    """Parse a config/state payload (for tools); None when it is not one this version understands."""
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(obj, dict) or obj.get("schema_version") != SCHEMA_VERSION:
        return None
    errors = obj.get("errors")
    status = obj.get("status")
    if not isinstance(errors, list) or status not in {s.value for s in ApplyStatus}:
        return None
    issues = tuple(ConfigIssue(str(e.get("loc")), str(e.get("msg"))) for e in errors if isinstance(e, dict))
    applied_at = obj.get("applied_at")
    restart = obj.get("restart_required")
    return ConfigState(
        version=str(obj.get("version")),
        applied_at=float(applied_at) if isinstance(applied_at, int | float) else 0.0,
        status=ApplyStatus(status),
        errors=issues,
        request_id=check_request_id(obj.get("request_id")),
        superseded_by=check_request_id(obj.get("superseded_by")),
        restart_required=tuple(str(name) for name in restart) if isinstance(restart, list) else (),
    )


def state_message(topics: ConfigTopics, state: ConfigState) -> OutboundMessage:
    """Retained, QoS 1, not durable: the publisher re-sends the latest retained state after a reconnect."""
    return OutboundMessage(topics.state(), encode_state(state), qos=QOS_CONFIG, retain=True, durable=False)


def encode_current(redacted: Mapping[str, Any], version: str, request_id: str | None, ts_wall: float) -> bytes:
    """The config/current reply. `redacted` must come from agent.remote.document.redact (no secrets)."""
    payload = {
        "schema_version": SCHEMA_VERSION,
        "version": version,
        "ts": round(ts_wall, TS_DIGITS),
        "request_id": request_id,
        "config": dict(redacted),
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode("utf-8")


def current_message(
    topics: ConfigTopics, redacted: Mapping[str, Any], version: str, request_id: str | None, ts_wall: float
) -> OutboundMessage:
    """Not retained: the configuration is only sent to whoever asked, while they listen."""
    payload = encode_current(redacted, version, request_id, ts_wall)
    return OutboundMessage(topics.current(), payload, qos=QOS_CONFIG, retain=False, durable=False)


__all__ = [
    "ApplyStatus",
    "ConfigIssue",
    "ConfigState",
    "ConfigTopics",
    "Envelope",
    "RequestKind",
    "all_states_filter",
    "current_message",
    "decode_state",
    "encode_current",
    "encode_state",
    "group_patch_topic",
    "parse_get_request",
    "salvage_request_id",
    "split_envelope",
    "state_message",
]
