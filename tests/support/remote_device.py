"""A real agent process driven over its remote-config topics, for the remote configuration tests.

`RemoteDevice.start` writes a config, subscribes to everything under the test's prefix,
starts `python -m agent run` and waits for its first retained config/state. Requests are
published at QoS 1; answers are matched by request_id among the states that came after."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from agent.remote.protocol import ConfigTopics, RequestKind
from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.subscriber import Received, Subscriber

DEVICE = "dev1"
STATE_WAIT_S = 30.0
DETECTION_WAIT_S = 60.0


def camera(video_name: str, **settings: Any) -> dict[str, Any]:
    """A looping real-time camera on one of the shared videos."""
    return {"source": str(assets.video(video_name)), "loop": True, **settings}


def video_dir() -> Path:
    return assets.video(assets.TRAFFIC).parent


def model_dir() -> Path:
    return assets.model(assets.SSD_MODEL).parent


@dataclass
class RemoteDevice:
    agent: AgentProcess
    config_path: Path
    subscriber: Subscriber
    client: mqtt.Client
    topics: ConfigTopics
    last_state_mono: float = 0.0
    initial_version: str = ""
    initial_file: bytes = b""

    @classmethod
    def start(
        cls,
        tmp_path: Path,
        broker: MosquittoBroker,
        prefix: str,
        cameras: dict[str, Any],
        *,
        allowed_dirs: Sequence[Path] = (),
        groups: Sequence[str] = (),
        mqtt_settings: dict[str, Any] | None = None,
        remote: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> RemoteDevice:
        """Write the config, subscribe to `<prefix>/#`, start the agent and wait for its first state.

        `settings` are further top-level config keys; `env` is added to the agent's environment."""
        config = base_config(tmp_path, broker, prefix, cameras, **(settings or {}))
        # Several devices share the session broker: same client id would make them kick each other off.
        config["mqtt"].update({"client_id": f"edge-agent-{prefix}", **(mqtt_settings or {})})
        config["remote_config"] = {"allowed_dirs": [str(d) for d in allowed_dirs], **(remote or {})}
        if groups:
            config["groups"] = list(groups)
        config_path = write_config(tmp_path / "agent.yaml", config)
        subscriber = Subscriber(broker.host, broker.port, f"{prefix}/#")
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"admin-{uuid.uuid4().hex[:8]}")
        client.connect(broker.host, broker.port)
        client.loop_start()
        device = cls(AgentProcess(config_path, env), config_path, subscriber, client, ConfigTopics(prefix, DEVICE))
        device.next_state(0, None)
        return device

    # ----- requests and answers -----------------------------------------------------------

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(STATE_WAIT_S)
        assert info.is_published(), f"the broker did not acknowledge the publish to {topic}"

    def request(self, kind: RequestKind, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """Send `body` (JSON) to this device's config/<kind>; the answering state and seconds it took."""
        return self.request_on(self.topics.request(kind), json.dumps(body).encode(), body.get("request_id"))

    def request_on(self, topic: str, payload: bytes, request_id: str | None) -> tuple[dict[str, Any], float]:
        """Publish `payload` on `topic`; wait for the next state echoing `request_id` (None: no id)."""
        before = len(self.states())
        started = time.monotonic()
        self.publish(topic, payload)
        state = self.next_state(before, request_id)
        return state, self.last_state_mono - started

    def states(self) -> list[Received]:
        return [m for m in self.subscriber.snapshot() if m.topic == self.topics.state()]

    def next_state(self, after_index: int, request_id: str | None) -> dict[str, Any]:
        """The first config/state after the first `after_index` ones whose request_id is `request_id`."""

        def found() -> Received | None:
            return next((m for m in self.states()[after_index:] if m.json()["request_id"] == request_id), None)

        assert self.subscriber.wait_for(lambda _msgs: found() is not None, STATE_WAIT_S), (
            f"no config/state with request_id {request_id!r} within {STATE_WAIT_S} s; log:\n{self.agent.log[-3000:]}"
        )
        message = found()
        assert message is not None
        self.last_state_mono = message.ts_mono
        state: dict[str, Any] = message.json()
        return state

    @property
    def version(self) -> str:
        return str(self.states()[-1].json()["version"])

    def get_current(self, request_id: str) -> dict[str, Any]:
        """Ask config/get and return the config/current payload that echoes `request_id`."""
        self.publish(self.topics.request(RequestKind.GET), json.dumps({"request_id": request_id}).encode())

        def found() -> Received | None:
            current = [m for m in self.subscriber.snapshot() if m.topic == self.topics.current()]
            return next((m for m in current if m.json()["request_id"] == request_id), None)

        assert self.subscriber.wait_for(lambda _msgs: found() is not None, STATE_WAIT_S), "no config/current"
        message = found()
        assert message is not None
        current: dict[str, Any] = message.json()
        return current

    def current_config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.get_current(uuid.uuid4().hex)["config"]
        return config

    def file_document(self) -> dict[str, Any]:
        """The config file as the agent has it on disk now (persisted applies included)."""
        document: dict[str, Any] = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        return document

    def write_file(self, document: dict[str, Any]) -> None:
        """Replace the config file atomically, as an editor does, so the watcher never reads half a file."""
        temp = self.config_path.with_name(self.config_path.name + ".edit")
        write_config(temp, document)
        os.replace(temp, self.config_path)

    def sighup(self) -> None:
        self.agent.proc.send_signal(signal.SIGHUP)

    # ----- what the device publishes ------------------------------------------------------

    def detections(self, camera_name: str) -> list[Received]:
        suffix = f"/{DEVICE}/{camera_name}/detections"
        return [m for m in self.subscriber.snapshot() if m.topic.endswith(suffix)]

    def wait_messages(self, suffix: str, count: int, after_mono: float = 0.0) -> list[dict[str, Any]]:
        """At least `count` payloads on topics ending with `suffix` received after `after_mono`."""

        def fresh() -> list[Received]:
            return [m for m in self.subscriber.snapshot() if m.topic.endswith(suffix) and m.ts_mono > after_mono]

        assert self.subscriber.wait_for(lambda _msgs: len(fresh()) >= count, DETECTION_WAIT_S), (
            f"fewer than {count} messages on *{suffix} within {DETECTION_WAIT_S} s; log:\n{self.agent.log[-3000:]}"
        )
        return [m.json() for m in fresh()]

    def wait_detections(self, camera_name: str, count: int, after_mono: float = 0.0) -> list[dict[str, Any]]:
        return self.wait_messages(f"/{DEVICE}/{camera_name}/detections", count, after_mono)

    def seqs(self, camera_name: str) -> list[int]:
        return [int(m.json()["seq"]) for m in self.detections(camera_name)]

    def seq_resets(self, camera_name: str, after_mono: float = 0.0) -> list[tuple[float, int]]:
        """(arrival time, seq) of every detections message after `after_mono` whose seq is not above
        the previous one's: the camera was restarted (its ring counts from 1 again)."""
        return [
            (later.ts_mono, int(later.json()["seq"]))
            for earlier, later in itertools.pairwise(self.detections(camera_name))
            if later.ts_mono > after_mono and int(later.json()["seq"]) <= int(earlier.json()["seq"])
        ]

    def statuses(self) -> list[bytes]:
        return [m.payload for m in self.subscriber.snapshot() if m.topic == f"{self.topics.prefix}/{DEVICE}/status"]

    def close(self) -> None:
        try:
            if self.agent.proc.poll() is None:
                self.agent.terminate()
        finally:
            self.agent.close()
            self.subscriber.close()
            self.client.loop_stop()
            self.client.disconnect()
