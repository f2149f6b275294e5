"""Unit tests of the topic contract (agent.publish.topics)."""

from __future__ import annotations

import pytest

from agent.publish.topics import Topics

T = Topics("edge", "dev1")


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (T.status(), "edge/dev1/status"),
        (T.stats(), "edge/dev1/stats"),
        (T.events(), "edge/dev1/events"),
        (T.anomalies(), "edge/dev1/anomalies"),
        (T.detections("door"), "edge/dev1/door/detections"),
        (T.camera_status("door"), "edge/dev1/door/status"),
        (T.count("door", "person"), "edge/dev1/door/person"),
        (T.count("door", "traffic light"), "edge/dev1/door/traffic light"),
        (T.zone_count("door", "porch", "person"), "edge/dev1/door/zones/porch/person"),
        (T.line_count("door", "gate"), "edge/dev1/door/lines/gate"),
        (T.line_crossing("door", "gate"), "edge/dev1/door/lines/gate/crossing"),
        (T.snapshot("door", "person"), "edge/dev1/door/person/snapshot"),
        (T.all_count("door"), "edge/dev1/door/all"),
        (T.motion("door"), "edge/dev1/door/motion"),
        (T.toggle_set("door", "detect"), "edge/dev1/door/detect/set"),
        (T.toggle_state("door", "snapshots"), "edge/dev1/door/snapshots/state"),
        (T.toggle_set_filter("detect"), "edge/dev1/+/detect/set"),
        (T.all(), "edge/dev1/#"),
    ],
)
def test_topic_layout(topic: str, expected: str) -> None:
    """Every topic follows the documented <prefix>/<device>/... layout."""
    assert topic == expected


def test_multi_level_prefix_is_allowed() -> None:
    """A prefix may itself have levels (site/building)."""
    assert Topics("site/b1", "dev").events() == "site/b1/dev/events"


@pytest.mark.parametrize("bad", ["a/b", "a+", "#", "", "x\x00y"])
def test_bad_camera_label_zone_line_names_are_rejected(bad: str) -> None:
    """Names with / + # NUL or empty would change the topic structure and are refused."""
    with pytest.raises(ValueError, match="name"):
        T.detections(bad)
    with pytest.raises(ValueError, match="name"):
        T.count("door", bad)
    with pytest.raises(ValueError, match="name"):
        T.zone_count("door", bad, "person")
    with pytest.raises(ValueError, match="name"):
        T.line_crossing("door", bad)


@pytest.mark.parametrize("label", ["status", "detections", "zones", "lines", "all", "motion", "detect", "snapshots"])
def test_reserved_labels_are_rejected(label: str) -> None:
    """A label that would collide with a fixed per-camera topic is refused."""
    with pytest.raises(ValueError, match="reserved"):
        T.count("door", label)


@pytest.mark.parametrize(
    ("prefix", "device"), [("a/+", "d"), ("a/#", "d"), ("/a", "d"), ("a/", "d"), ("a//b", "d"), ("a", "d/e"), ("a", "")]
)
def test_bad_prefix_or_device_is_rejected(prefix: str, device: str) -> None:
    """Prefix and device id are validated when the Topics object is built."""
    with pytest.raises(ValueError, match=r"prefix|device_id"):
        Topics(prefix, device)


def test_overlong_name_is_rejected() -> None:
    """A name longer than the limit is refused rather than producing a huge topic."""
    with pytest.raises(ValueError, match="longer"):
        T.count("door", "x" * 300)


@pytest.mark.parametrize(
    ("topic", "camera"),
    [
        ("edge/dev1/door/detect/set", "door"),
        ("edge/dev1/front yard/detect/set", "front yard"),
        ("edge/dev1/door/snapshots/set", None),  # another toggle
        ("edge/dev1/detect/set", None),  # no camera level
        ("edge/dev1/a/b/detect/set", None),  # two levels where the camera goes
        ("edge/dev2/door/detect/set", None),  # another device
        ("other/dev1/door/detect/set", None),  # another prefix
        ("edge/dev1/door/detect/state", None),
    ],
)
def test_camera_of_toggle_set(topic: str, camera: str | None) -> None:
    """Only this device's `<camera>/<toggle>/set` topics name a camera; anything else is not a command."""
    assert T.camera_of_toggle_set(topic, "detect") == camera
