"""A real paho subscriber that records every message it receives, for assertions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    ts_mono: float

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """Subscribes to `topic` (wildcards allowed) and keeps messages in arrival order."""

    def __init__(self, host: str, port: int, topic: str, **connect_kwargs: Any) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        # session_id: a persistent session (clean_session False) under that client id. With a broker
        # that persists sessions, QoS 1 messages published while this subscriber is away (the broker
        # restarting, the subscriber reconnecting) wait for it, so a test cannot lose the race.
        session_id = connect_kwargs.pop("session_id", None)
        if session_id is None:
            self._client = mqtt.Client(CallbackAPIVersion.VERSION2)
        else:
            self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=session_id, clean_session=False)
            self._client.reconnect_delay_set(0.2, 1.0)  # type: ignore[arg-type]  # paho annotates int; it takes seconds as float
        if "username" in connect_kwargs:
            self._client.username_pw_set(connect_kwargs.pop("username"), connect_kwargs.pop("password", None))
        if "tls_ca" in connect_kwargs:
            self._client.tls_set(ca_certs=connect_kwargs.pop("tls_ca"))
        self._client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(host, port)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError(f"could not subscribe to {topic} on {host}:{port}")

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos, time.monotonic()))

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def on(self, topic_suffix: str) -> list[Received]:
        return [m for m in self.snapshot() if m.topic.endswith(topic_suffix)]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout_s: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate(self.snapshot()):
                return True
            time.sleep(0.05)
        return predicate(self.snapshot())

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()
