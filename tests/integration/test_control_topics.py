"""Frigate-style control and state topics on the real agent, real model, real video and a real broker:
`<camera>/detect/set` stops and resumes detections, `<camera>/snapshots/set` stops snapshots, the
retained states survive a restart without touching the YAML, and a camera removed by remote
config drops its toggles. Waits are on messages (stats arrive once a second), never on sleeps."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.publish.topics import Topics
from agent.toggles.store import TOGGLES_FILE
from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.schemas import validate_payload
from tests.support.subscriber import Received, Subscriber

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

WAIT_S = 60.0
SETTLE_STATS = 2  # stats messages after a switch before counting: frames already in flight land first
WATCH_STATS = 4  # stats messages (about 4 s, some 20 frames at 5 fps) during which nothing may arrive


@dataclass
class Device:
    """The agent under test, everything it publishes, and an operator's client to command it."""

    broker: MosquittoBroker
    topics: Topics
    config_path: Path
    subscriber: Subscriber
    operator: mqtt.Client
    agent: AgentProcess

    def start_agent(self) -> float:
        """(Re)start the agent process; returns the monotonic time it was started."""
        started = time.monotonic()
        self.agent = AgentProcess(self.config_path)
        return started

    def stop_agent(self) -> None:
        code, _ = self.agent.terminate()
        assert code == 0, self.agent.log[-3000:]
        self.agent.close()

    def command(self, camera: str, toggle: str, payload: bytes, topic: str | None = None) -> None:
        info = self.operator.publish(topic or self.topics.toggle_set(camera, toggle), payload, qos=1)
        info.wait_for_publish(WAIT_S)
        assert info.is_published()

    def received(self, topic: str, after_mono: float = 0.0) -> list[Received]:
        return [m for m in self.subscriber.snapshot() if m.topic == topic and m.ts_mono > after_mono]

    def wait(self, what: str, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        assert self.subscriber.wait_for(lambda _msgs: condition(), timeout_s), (
            f"{what} within {timeout_s:.0f} s; agent log:\n{self.agent.log[-3000:]}"
        )

    def wait_payload(self, topic: str, payload: bytes, after_mono: float = 0.0) -> float:
        """Wait for `payload` on `topic` after `after_mono`; returns when it arrived."""
        self.wait(
            f"no {payload!r} on {topic}", lambda: any(m.payload == payload for m in self.received(topic, after_mono))
        )
        return next(m.ts_mono for m in self.received(topic, after_mono) if m.payload == payload)

    def wait_stats(self, count: int, after_mono: float) -> float:
        """Wait for `count` stats messages after `after_mono`; returns when the last arrived."""
        stats = self.topics.stats()
        self.wait(f"fewer than {count} stats", lambda: len(self.received(stats, after_mono)) >= count)
        return self.received(stats, after_mono)[count - 1].ts_mono

    def frames(self, camera: str) -> int:
        return int(self.received(self.topics.stats())[-1].json()["cameras"][camera]["frames"])

    def events(self, camera: str, kind: str, after_mono: float = 0.0) -> set[str]:
        found = (m.json() for m in self.received(self.topics.events(), after_mono))
        return {e["event_id"] for e in found if e["camera"] == camera and e["type"] == kind}

    def snapshots(self, camera: str, after_mono: float = 0.0) -> list[Received]:
        prefix = f"{self.topics.base}/{camera}/"
        found = self.subscriber.snapshot()
        return [
            m for m in found if m.ts_mono > after_mono and m.topic.startswith(prefix) and m.topic.endswith("/snapshot")
        ]

    def retained(self, topic: str) -> Received:
        """The broker's retained message on `topic`, as a subscriber arriving now gets it."""
        late = Subscriber(self.broker.host, self.broker.port, topic)
        try:
            assert late.wait_for(lambda msgs: bool(msgs), 10), f"nothing retained on {topic}"
            return late.snapshot()[0]
        finally:
            late.close()


@pytest.fixture
def device(tmp_path: Path, broker: MosquittoBroker, topic_prefix: str) -> Iterator[Device]:
    cameras = {
        "walkway": {"source": str(assets.video(assets.PEDESTRIANS)), "loop": True},
        "crossing": {"source": str(assets.video(assets.TRAFFIC)), "loop": True},
    }
    config = base_config(tmp_path, broker, topic_prefix, cameras)
    config["mqtt"]["client_id"] = f"edge-agent-{topic_prefix}"
    config["discovery"] = {"enabled": True, "discovery_prefix": f"{topic_prefix}/ha"}
    config["remote_config"] = {"allowed_dirs": [str(assets.video(assets.TRAFFIC).parent)]}
    config_path = write_config(tmp_path / "agent.yaml", config)
    subscriber = Subscriber(broker.host, broker.port, f"{topic_prefix}/#")
    operator = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"operator-{topic_prefix}")
    operator.connect(broker.host, broker.port)
    operator.loop_start()
    dev = Device(broker, Topics(topic_prefix, "dev1"), config_path, subscriber, operator, AgentProcess(config_path))
    try:
        yield dev
    finally:
        dev.agent.close()
        subscriber.close()
        operator.loop_stop()
        operator.disconnect()


def test_detect_and_snapshots_toggles_end_to_end(device: Device) -> None:
    """detect OFF stops detections (capture keeps running, events end), ON resumes them, states are
    retained and survive a restart with the YAML unchanged, snapshots OFF stops snapshots, and a camera
    removed by remote config drops its toggles."""
    t = device.topics
    yaml_before = device.config_path.read_bytes()
    for camera in ("walkway", "crossing"):
        for toggle in ("detect", "snapshots"):
            device.wait_payload(t.toggle_state(camera, toggle), b"ON")
    device.wait("no walkway detections", lambda: len(device.received(t.detections("walkway"))) >= 5)
    _detect_off_and_on(device)
    _invalid_payload_is_ignored(device)
    _states_survive_a_restart(device, yaml_before)
    _removed_camera_drops_its_toggles(device)


def _detect_off_and_on(device: Device) -> None:
    t = device.topics
    walkway = t.detections("walkway")
    switch = json.loads(_discovery_config(device, "switch", "walkway detect").payload)
    assert switch["state_topic"] == t.toggle_state("walkway", "detect")
    device.wait("no walkway event started", lambda: bool(device.events("walkway", "start")))
    device.command("walkway", "detect", b"off", topic=switch["command_topic"])  # as Home Assistant's switch does
    off_mono = device.wait_payload(t.toggle_state("walkway", "detect"), b"OFF")
    settled = device.wait_stats(SETTLE_STATS, off_mono)
    counted, frames_before = len(device.received(walkway)), device.frames("walkway")
    device.wait(
        "open walkway events did not end",
        lambda: device.events("walkway", "start") <= device.events("walkway", "end"),
    )
    watched = device.wait_stats(WATCH_STATS, settled)
    assert len(device.received(walkway)) == counted, "detections kept coming with detect OFF"
    assert device.events("walkway", "start", settled) == set(), "events started with detect OFF"
    assert device.frames("walkway") > frames_before, "capture stopped with detect OFF"
    assert len(device.received(t.detections("crossing"), settled)) > 0, "the other camera stopped detecting"
    all_counts = [m.payload for m in device.received(t.all_count("walkway"))]
    assert all_counts[-1] == b"0", "the all-objects count should drop to 0 when tracking pauses"
    assert any(count != b"0" for count in all_counts), "the pedestrian video always has people in view"
    retained = device.retained(t.toggle_state("walkway", "detect"))
    assert (retained.payload, retained.retain) == (b"OFF", True)
    validate_payload("switch", retained.payload)

    device.command("walkway", "detect", b"ON")
    on_mono = device.wait_payload(t.toggle_state("walkway", "detect"), b"ON", watched)
    device.wait("detections did not resume", lambda: len(device.received(walkway, on_mono)) >= 3)
    first = device.received(walkway, on_mono)[0].ts_mono
    print(f"\ndetect ON -> first detection: {(first - on_mono) * 1000:.0f} ms")
    for message in device.received(t.all_count("walkway")):
        validate_payload("count", message.payload)
    motion = device.received(t.motion("walkway"))
    assert b"ON" in [m.payload for m in motion], "the walkway video moves all the time"
    for message in motion:
        validate_payload("switch", message.payload)


def _invalid_payload_is_ignored(device: Device) -> None:
    t = device.topics
    device.command("walkway", "detect", b"maybe")
    topic = t.toggle_set("walkway", "detect")
    device.wait("no warning about the bad payload", lambda: f"ignoring b'maybe' on {topic}" in device.agent.log)
    assert device.retained(t.toggle_state("walkway", "detect")).payload == b"ON"


def _states_survive_a_restart(device: Device, yaml_before: bytes) -> None:
    t = device.topics
    device.wait("no crossing snapshot while snapshots are ON", lambda: bool(device.snapshots("crossing")))
    sent = time.monotonic()
    device.command("walkway", "detect", b"OFF")
    device.command("crossing", "snapshots", b"Off")
    device.wait_payload(t.toggle_state("walkway", "detect"), b"OFF", sent)
    device.wait_payload(t.toggle_state("crossing", "snapshots"), b"OFF", sent)
    device.stop_agent()
    assert device.config_path.read_bytes() == yaml_before, "a runtime toggle rewrote the YAML"
    stored = json.loads((device.config_path.parent / "state" / TOGGLES_FILE).read_text())
    assert stored["cameras"] == {"walkway": {"detect": False}, "crossing": {"snapshots": False}}

    restarted = device.start_agent()
    device.wait_payload(t.toggle_state("walkway", "detect"), b"OFF", restarted)
    device.wait_payload(t.toggle_state("crossing", "snapshots"), b"OFF", restarted)
    device.wait_payload(t.toggle_state("crossing", "detect"), b"ON", restarted)
    settled = device.wait_stats(SETTLE_STATS, restarted)
    device.wait(
        "fewer than 2 crossing events after the restart",
        lambda: len(device.events("crossing", "start", restarted)) >= 2,
    )
    device.wait_stats(WATCH_STATS, settled)
    assert device.received(t.detections("walkway"), restarted) == [], "walkway detected with detect OFF persisted"
    assert device.received(t.detections("crossing"), settled), "crossing stopped detecting"
    assert device.snapshots("crossing", restarted) == [], "snapshots came with snapshots OFF persisted"
    assert device.config_path.read_bytes() == yaml_before


def _removed_camera_drops_its_toggles(device: Device) -> None:
    t = device.topics
    removed = time.monotonic()
    patch = {"request_id": "drop-crossing", "cameras": {"crossing": None}}
    info = device.operator.publish(f"{t.base}/config/patch", json.dumps(patch).encode(), qos=1)
    info.wait_for_publish(WAIT_S)
    state_topic = f"{t.base}/config/state"
    device.wait(
        "the removal was not applied",
        lambda: any(m.json().get("request_id") == "drop-crossing" for m in device.received(state_topic, removed)),
    )
    state = next(m.json() for m in device.received(state_topic, removed) if m.json()["request_id"] == "drop-crossing")
    assert state["status"] == "applied", state
    for toggle in ("detect", "snapshots"):
        device.wait_payload(t.toggle_state("crossing", toggle), b"", removed)
    stored = json.loads((device.config_path.parent / "state" / TOGGLES_FILE).read_text())
    assert stored["cameras"] == {"walkway": {"detect": False}}
    # The discovery removal and config/state go out on different topics (and publish paths), so
    # their arrival order is not defined: wait for the removal instead of expecting it first.
    device.wait("HA switch not removed", lambda: _switch_removed(device, "crossing_detect", removed))


def _switch_removed(device: Device, entity: str, after_mono: float) -> bool:
    """True once an empty retained payload has cleared the Home Assistant switch `entity`."""
    return any(
        m.ts_mono > after_mono and m.payload == b"" and "/switch/" in m.topic and entity in m.topic
        for m in device.subscriber.snapshot()
    )


def _discovery_config(device: Device, component: str, name: str) -> Received:
    """The retained Home Assistant config of the entity called `name`."""
    prefix = f"{device.topics.prefix}/ha/{component}/"

    def found() -> Received | None:
        return next(
            (m for m in device.subscriber.snapshot() if m.topic.startswith(prefix) and m.payload and _name(m) == name),
            None,
        )

    device.wait(f"no {component} {name!r} announced", lambda: found() is not None)
    message = found()
    assert message is not None
    return message


def _name(message: Received) -> Any:
    return json.loads(message.payload).get("name")
