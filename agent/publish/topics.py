"""The MQTT topic contract: one method per topic the agent publishes or subscribes to.

Pure and immutable; every name placed in a topic level is checked so that a camera,
label, zone or line name can never inject a level separator or a wildcard. Called by
the message encoders (any thread) and the publisher."""

from __future__ import annotations

from dataclasses import dataclass

FORBIDDEN_CHARS = ("/", "+", "#", "\x00")
MAX_NAME_BYTES = 256

# A label equal to one of these would put a per-label topic on the same path as a
# fixed camera topic (<camera>/status, <camera>/detections, <camera>/lines/<line>, <camera>/all,
# <camera>/motion, <camera>/detect/set...).
RESERVED_LABELS = frozenset({"status", "detections", "zones", "lines", "all", "motion", "detect", "snapshots"})
SET_LEVEL = "set"
STATE_LEVEL = "state"


def check_level(kind: str, name: str) -> str:
    """Return `name` if it is usable as one topic level; raise ValueError saying why not."""
    if not name:
        raise ValueError(f"{kind} name is empty; it would create an empty MQTT topic level")
    bad = [c for c in FORBIDDEN_CHARS if c in name]
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise ValueError(f"{kind} name {name!r} contains {shown}; MQTT topic levels cannot contain / + # or NUL")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValueError(f"{kind} name {name[:32]!r}... is longer than {MAX_NAME_BYTES} bytes")
    return name


def check_label(label: str) -> str:
    """A label is a topic level that must also not collide with a fixed per-camera topic."""
    check_level("label", label)
    if label in RESERVED_LABELS:
        raise ValueError(f"label {label!r} is reserved in the topic layout ({', '.join(sorted(RESERVED_LABELS))})")
    return label


@dataclass(frozen=True, slots=True)
class Topics:
    """Topics of one device: `<prefix>/<device_id>/...`. See docs/mqtt.md."""

    prefix: str
    device_id: str

    def __post_init__(self) -> None:
        if not self.prefix or any(c in self.prefix for c in ("+", "#", "\x00")):
            raise ValueError(f"topic prefix {self.prefix!r} must be non-empty without + # or NUL")
        if self.prefix.startswith("/") or self.prefix.endswith("/") or "//" in self.prefix:
            raise ValueError(f"topic prefix {self.prefix!r} must not start or end with / or contain empty levels")
        check_level("device_id", self.device_id)

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device_id}"

    def all(self) -> str:
        """Filter matching every topic of this device (for tests and tools)."""
        return f"{self.base}/#"

    def status(self) -> str:
        return f"{self.base}/status"

    def stats(self) -> str:
        return f"{self.base}/stats"

    def events(self) -> str:
        return f"{self.base}/events"

    def anomalies(self) -> str:
        return f"{self.base}/anomalies"

    def _camera(self, camera: str) -> str:
        return f"{self.base}/{check_level('camera', camera)}"

    def detections(self, camera: str) -> str:
        return f"{self._camera(camera)}/detections"

    def camera_status(self, camera: str) -> str:
        return f"{self._camera(camera)}/status"

    def count(self, camera: str, label: str) -> str:
        return f"{self._camera(camera)}/{check_label(label)}"

    def zone_count(self, camera: str, zone: str, label: str) -> str:
        return f"{self._camera(camera)}/zones/{check_level('zone', zone)}/{check_label(label)}"

    def line_count(self, camera: str, line: str) -> str:
        return f"{self._camera(camera)}/lines/{check_level('line', line)}"

    def line_crossing(self, camera: str, line: str) -> str:
        return f"{self.line_count(camera, line)}/crossing"

    def snapshot(self, camera: str, label: str) -> str:
        return f"{self._camera(camera)}/{check_label(label)}/snapshot"

    def all_count(self, camera: str) -> str:
        """Every object the camera tracks, whatever its label (Frigate's `<camera>/all`)."""
        return f"{self._camera(camera)}/all"

    def state(self, camera: str, state: str) -> str:
        """A state classifier's answer (cameras.<camera>.states.<state>), retained."""
        return f"{self._camera(camera)}/states/{check_level('state', state)}"

    def motion(self, camera: str) -> str:
        return f"{self._camera(camera)}/motion"

    def toggle_set(self, camera: str, toggle: str) -> str:
        """Where an operator switches a runtime toggle (`detect`, `snapshots`) ON or OFF."""
        return f"{self._camera(camera)}/{check_level('toggle', toggle)}/{SET_LEVEL}"

    def toggle_state(self, camera: str, toggle: str) -> str:
        return f"{self._camera(camera)}/{check_level('toggle', toggle)}/{STATE_LEVEL}"

    def toggle_set_filter(self, toggle: str) -> str:
        """Subscription filter matching `toggle_set(camera, toggle)` for every camera."""
        return f"{self.base}/+/{check_level('toggle', toggle)}/{SET_LEVEL}"

    def camera_of_toggle_set(self, topic: str, toggle: str) -> str | None:
        """The camera named by a `toggle_set` topic of this device, or None if `topic` is not one."""
        head, tail = f"{self.base}/", f"/{toggle}/{SET_LEVEL}"
        if not (topic.startswith(head) and topic.endswith(tail)):
            return None
        camera = topic[len(head) : len(topic) - len(tail)]
        return camera if camera and "/" not in camera else None
