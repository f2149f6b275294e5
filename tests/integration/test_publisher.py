"""Integration tests of MqttPublisher against a real mosquitto: status/LWT, outages, restarts, subscriptions."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import psutil
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.config.schema import MqttConfig, OutboxConfig
from agent.publish import messages, takeover
from agent.publish.client import MqttPublisher
from agent.records import FrameDetections
from agent.types import BBox, DetectionResult, Event, EventKind, Frame, Track, TrackState
from tests.support.broker import MosquittoBroker, free_port
from tests.support.reply_gate import ReplyGate
from tests.support.schemas import validate_payload
from tests.support.subscriber import Received, Subscriber

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

REPO = Path(__file__).resolve().parents[2]
DEVICE = "dev1"


def mqtt_cfg(port: int, prefix: str, **extra: Any) -> MqttConfig:
    return MqttConfig(
        host="127.0.0.1", port=port, topic_prefix=prefix, reconnect_initial_s=0.2, reconnect_max_s=1.0, **extra
    )


def event(n: int) -> Event:
    track = Track(n, "person", BBox(1, 2, 3, 4), 0.9, TrackState.CONFIRMED, 100.0, 101.0, 3)
    return Event(EventKind.START, f"{n:032x}", "door", track, 0.9, (), (), 1_750_000_000.0, 1_750_000_000.0 + n)


def detections_msg(publisher: MqttPublisher, seq: int) -> messages.OutboundMessage:
    frame = Frame("door", seq, 0.0, 1_750_000_000.0, np.zeros((4, 4, 3), dtype=np.uint8))
    return messages.encode_detections(publisher.topics, FrameDetections.of(frame, DetectionResult((), 1.0)))


def wait_until(predicate: Any, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


@pytest.fixture
def started() -> Iterator[list[MqttPublisher]]:
    """Publishers the test starts; each is stopped at teardown."""
    running: list[MqttPublisher] = []
    yield running
    for publisher in running:
        publisher.stop(timeout_s=2.0)


def start(
    running: list[MqttPublisher], cfg: MqttConfig, state_dir: Path, outbox: OutboxConfig | None = None
) -> MqttPublisher:
    publisher = MqttPublisher(cfg, outbox or OutboxConfig(), DEVICE, state_dir)
    publisher.start()
    running.append(publisher)
    return publisher


class SessionSubscriber:
    """A subscriber with a persistent session (clean_session=False): the broker queues QoS 1 messages
    for it while it is away, so nothing published during its reconnect is missed."""

    def __init__(self, port: int, topic: str) -> None:
        self.received: list[bytes] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"sub-{uuid.uuid4().hex[:8]}", clean_session=False
        )
        self._client.reconnect_delay_set(0.2, 1.0)  # type: ignore[arg-type]  # paho annotates int; it takes seconds as float
        self._client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        assert self._subscribed.wait(10), "subscriber could not subscribe"

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append(bytes(msg.payload))

    def msg_ids(self) -> list[str]:
        """Unique msg_ids in first-arrival order (consumer-side de-duplication)."""
        with self._lock:
            ids = [json.loads(p)["msg_id"] for p in self.received]
        return list(dict.fromkeys(ids))

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def test_status_online_on_connect_and_offline_retained_on_clean_stop(
    broker: MosquittoBroker, topic_prefix: str, tmp_path: Path, started: list[MqttPublisher]
) -> None:
    """Connecting publishes retained `online`; stop() replaces it with retained `offline`."""
    publisher = start(started, mqtt_cfg(broker.port, topic_prefix), tmp_path)
    assert publisher.wait_connected(10)
    status = f"{topic_prefix}/{DEVICE}/status"
    late = Subscriber(broker.host, broker.port, status)
    try:
        assert late.wait_for(lambda ms: any(m.payload == b"online" and m.retain for m in ms), 10)
        publisher.stop(timeout_s=2.0)
        assert late.wait_for(lambda ms: ms[-1].payload == b"offline", 10)
        assert not publisher.connected
    finally:
        late.close()
    after = Subscriber(broker.host, broker.port, status)
    try:
        assert after.wait_for(lambda ms: len(ms) == 1, 10)
        assert (after.snapshot()[0].payload, after.snapshot()[0].retain) == (b"offline", True)
        validate_payload("status", after.snapshot()[0].payload)
    finally:
        after.close()


def test_connected_only_once_the_broker_has_acknowledged_online(
    broker: MosquittoBroker, topic_prefix: str, tmp_path: Path, started: list[MqttPublisher]
) -> None:
    """A publisher whose `online` has gone to the broker but is not yet acknowledged does not report connected."""
    with ReplyGate(broker.port) as gate:
        publisher = start(started, mqtt_cfg(gate.port, topic_prefix), tmp_path)
        assert gate.client_spoke_after_connack.wait(10), "the publisher sent nothing after the CONNACK"
        assert not publisher.connected  # the broker's PUBACK is held by the gate
        assert not publisher.stats().connected
        gate.release()
        assert publisher.wait_connected(10)
        late = Subscriber(broker.host, broker.port, f"{topic_prefix}/{DEVICE}/status")
        try:
            assert late.wait_for(lambda ms: len(ms) >= 1, 10)
            assert (late.snapshot()[0].payload, late.snapshot()[0].retain) == (b"online", True)
        finally:
            late.close()
        publisher.stop(timeout_s=2.0)  # while the gate still relays its `offline` and DISCONNECT


def test_durable_messages_sent_during_an_outage_arrive_once_in_order(
    private_broker: MosquittoBroker, topic_prefix: str, tmp_path: Path, started: list[MqttPublisher]
) -> None:
    """Events sent while the broker is down are all delivered after it returns, in order, none lost."""
    persistence = tmp_path / "broker-db"
    persistence.mkdir()
    private_broker.extra_config = f"user root\npersistence true\npersistence_location {persistence}/\n"
    private_broker.start()
    subscriber = SessionSubscriber(private_broker.port, f"{topic_prefix}/{DEVICE}/events")
    try:
        publisher = start(started, mqtt_cfg(private_broker.port, topic_prefix), tmp_path / "state")
        assert publisher.wait_connected(10)
        sent = [messages.encode_event(publisher.topics, event(n)) for n in range(40)]
        for msg in sent[:10]:
            publisher.send(msg)
        assert wait_until(lambda: len(subscriber.msg_ids()) == 10)

        private_broker.stop()
        assert wait_until(lambda: not publisher.connected)
        for msg in sent[10:]:
            publisher.send(msg)
        assert wait_until(lambda: publisher.stats().outbox_depth == 30)

        private_broker.start()
        assert wait_until(lambda: len(subscriber.msg_ids()) == 40, timeout_s=30)
        expected = [json.loads(m.payload)["msg_id"] for m in sent]
        assert subscriber.msg_ids() == expected
        assert wait_until(lambda: publisher.stats().outbox_depth == 0)
        for payload in subscriber.received:
            validate_payload("event", payload)
    finally:
        subscriber.close()


def test_fast_messages_are_dropped_and_counted_while_disconnected(tmp_path: Path, started: list[MqttPublisher]) -> None:
    """With no broker, detections are dropped and counted, while events wait in the outbox."""
    publisher = start(started, mqtt_cfg(free_port(), "t"), tmp_path)
    for seq in range(7):
        publisher.send(detections_msg(publisher, seq))
    publisher.send(messages.encode_event(publisher.topics, event(1)))
    assert wait_until(lambda: publisher.stats().outbox_depth == 1)
    stats = publisher.stats()
    assert (stats.connected, stats.fast_dropped, stats.published) == (False, 7, 0)
    assert stats.connect_attempts >= 1


def test_handoff_overflow_is_counted_as_eviction_and_survives_restart(
    tmp_path: Path, started: list[MqttPublisher], caplog: pytest.LogCaptureFixture
) -> None:
    """Durable messages beyond the handoff queue are lost loudly: logged, counted and persisted as evictions."""
    cfg = mqtt_cfg(free_port(), "t")
    publisher = MqttPublisher(cfg, OutboxConfig(handoff_queue_size=2), DEVICE, tmp_path)
    for n in range(5):  # not started yet: nothing drains the queue
        publisher.send(messages.encode_event(publisher.topics, event(n)))
    assert any("lost" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    publisher.start()
    started.append(publisher)
    assert wait_until(lambda: (publisher.stats().outbox_depth, publisher.stats().outbox_evicted) == (2, 3))
    publisher.stop(timeout_s=1.0)
    again = start(started, cfg, tmp_path)
    assert (again.stats().outbox_depth, again.stats().outbox_evicted) == (2, 3)


def test_retained_state_sent_while_down_is_published_on_connect(
    private_broker: MosquittoBroker, topic_prefix: str, tmp_path: Path, started: list[MqttPublisher]
) -> None:
    """The latest value of a retained state topic set while disconnected reaches the broker on connect."""
    publisher = start(started, mqtt_cfg(private_broker.port, topic_prefix), tmp_path)
    for count in (3, 4, 5):
        publisher.send(messages.encode_count(publisher.topics, "door", "person", count))
    private_broker.start()
    assert publisher.wait_connected(10)
    topic = publisher.topics.count("door", "person")
    # "connected" covers `online` only, so the count may still be on its way: once a first subscriber
    # has it (retained, or live if it came later), the broker holds it, and a later one gets it retained.
    first = Subscriber(private_broker.host, private_broker.port, topic)
    try:
        assert first.wait_for(lambda ms: len(ms) >= 1, 10)
        assert [m.payload for m in first.snapshot()] == [b"5"]
    finally:
        first.close()
    late = Subscriber(private_broker.host, private_broker.port, topic)
    try:
        assert late.wait_for(lambda ms: len(ms) >= 1, 10)
        assert [(m.payload, m.retain) for m in late.snapshot()] == [(b"5", True)]
    finally:
        late.close()
    assert publisher.stats().fast_dropped == 0


def test_pending_rows_are_resent_after_a_process_restart(
    private_broker: MosquittoBroker, topic_prefix: str, tmp_path: Path, started: list[MqttPublisher]
) -> None:
    """Events stored by a publisher that stopped before reaching the broker are sent by the next one."""
    state = tmp_path / "state"
    first = MqttPublisher(mqtt_cfg(private_broker.port, topic_prefix), OutboxConfig(), DEVICE, state)
    first.start()
    sent = [messages.encode_event(first.topics, event(n)) for n in range(10)]
    for msg in sent:
        first.send(msg)
    first.stop(timeout_s=1.0)

    private_broker.start()
    subscriber = Subscriber(private_broker.host, private_broker.port, f"{topic_prefix}/{DEVICE}/events")
    try:
        second = start(started, mqtt_cfg(private_broker.port, topic_prefix), state)
        assert second.stats().outbox_depth == 10
        assert subscriber.wait_for(lambda ms: len(ms) >= 10, 20)
        got = [m.json()["msg_id"] for m in subscriber.snapshot()]
        assert got == [json.loads(m.payload)["msg_id"] for m in sent]
        assert wait_until(lambda: second.stats().outbox_depth == 0)
    finally:
        subscriber.close()


CHILD = """
import sys, time
from pathlib import Path
from agent.config.schema import MqttConfig, OutboxConfig
from agent.publish.client import MqttPublisher
cfg = MqttConfig(host="127.0.0.1", port=int(sys.argv[1]), topic_prefix=sys.argv[2], keepalive_s=5)
publisher = MqttPublisher(cfg, OutboxConfig(), "dev1", Path(sys.argv[3]))
publisher.start()
print("ready" if publisher.wait_connected(10) else "no-connection", flush=True)
time.sleep(60)
"""


def test_killed_process_leaves_retained_offline_through_the_last_will(
    broker: MosquittoBroker, topic_prefix: str, tmp_path: Path
) -> None:
    """A publisher process killed with SIGKILL gets `offline` retained on its status topic from the LWT."""
    status = f"{topic_prefix}/{DEVICE}/status"
    watcher = Subscriber(broker.host, broker.port, status)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(broker.port), topic_prefix, str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        assert watcher.wait_for(lambda ms: any(m.payload == b"online" for m in ms), 10)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert watcher.wait_for(lambda ms: ms[-1].payload == b"offline", 20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        watcher.close()
    late = Subscriber(broker.host, broker.port, status)
    try:
        assert late.wait_for(lambda ms: len(ms) == 1, 10)
        assert (late.snapshot()[0].payload, late.snapshot()[0].retain) == (b"offline", True)
    finally:
        late.close()


def test_subscriptions_survive_reconnects_and_handler_errors(
    private_broker: MosquittoBroker, topic_prefix: str, tmp_path: Path, started: list[MqttPublisher]
) -> None:
    """A subscription keeps delivering after a broker restart, and a failing handler does not stop it."""
    private_broker.start()
    got: list[tuple[str, bytes]] = []

    def handler(topic: str, payload: bytes) -> None:
        got.append((topic, payload))
        if payload == b"boom":
            raise RuntimeError("handler bug")

    publisher = start(started, mqtt_cfg(private_broker.port, topic_prefix), tmp_path)
    publisher.subscribe(f"{topic_prefix}/cmd/#", handler)
    assert publisher.wait_connected(10)

    def delivered(payload: bytes) -> bool:
        """Publish from another client (again on each poll, in case the subscription was not active yet)."""
        client = mqtt.Client(CallbackAPIVersion.VERSION2)
        client.connect("127.0.0.1", private_broker.port)
        client.loop_start()
        client.publish(f"{topic_prefix}/cmd/x", payload, qos=1).wait_for_publish(5)
        client.loop_stop()
        client.disconnect()
        time.sleep(0.2)
        return (f"{topic_prefix}/cmd/x", payload) in got

    assert wait_until(lambda: delivered(b"boom"), timeout_s=10)
    private_broker.stop()
    assert wait_until(lambda: not publisher.connected)
    private_broker.start()
    assert publisher.wait_connected(10)
    assert wait_until(lambda: delivered(b"after"), timeout_s=10)
    assert publisher.connected


def test_broker_connection_sends_without_nagle_delay(
    private_broker: MosquittoBroker, topic_prefix: str, tmp_path: Path, started: list[MqttPublisher]
) -> None:
    """The socket to the broker has TCP_NODELAY: a small publish is never held back behind an unacknowledged one
    (with Nagle's algorithm that cost up to 40 ms, the broker's delayed ACK, on a few frames in a hundred)."""
    private_broker.start()
    publisher = start(started, mqtt_cfg(private_broker.port, topic_prefix), tmp_path)
    assert publisher.wait_connected(10)
    ours = [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == private_broker.port and c.status == psutil.CONN_ESTABLISHED
    ]
    assert len(ours) == 1, ours  # only the publisher talks to this broker
    with socket.socket(fileno=os.dup(ours[0].fd)) as sock:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


DEPLOY_DOC = REPO / "docs" / "deploy.md"
DOC_PASSWORD_FILE = "/etc/mosquitto/passwd"
TIED_IDS = "use_username_as_clientid true"


class Impostor:
    """A paho client using another client's id, reconnecting (paho's 1 s delay) each time it is knocked off."""

    def __init__(self, port: int, client_id: str) -> None:
        self.connects = 0
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self._client.on_connect = self._on_connect
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()

    def _on_connect(self, *_args: Any) -> None:
        self.connects += 1

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def test_client_id_takeover_is_reported_in_one_error_not_a_warning_per_drop(
    broker: MosquittoBroker,
    topic_prefix: str,
    tmp_path: Path,
    started: list[MqttPublisher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another client taking the agent's client id over and over gets one ERROR naming the takeover after
    SUSPECT_DROPS drops; the drops after it are logged at DEBUG, and further reports are rate-limited."""
    caplog.set_level(logging.DEBUG, logger="agent.publish.client")
    client_id = f"agent-{topic_prefix}"
    publisher = start(started, mqtt_cfg(broker.port, topic_prefix, client_id=client_id), tmp_path)
    assert publisher.wait_connected(10)
    impostor = Impostor(broker.port, client_id)
    try:
        assert wait_until(lambda: publisher.stats().connect_attempts >= takeover.SUSPECT_DROPS + 5, timeout_s=60)
    finally:
        impostor.close()
    publisher.stop(timeout_s=2.0)
    records = [r for r in caplog.records if r.name == "agent.publish.client"]
    reports = [r for r in records if "same client id" in r.getMessage()]
    assert reports, "no takeover report"
    assert all(r.levelno == logging.ERROR for r in reports)
    assert client_id in reports[0].getMessage()
    assert "use_username_as_clientid" in reports[0].getMessage()
    assert all(b.created - a.created >= takeover.REPORT_INTERVAL_S for a, b in itertools.pairwise(reports))
    lost = [r for r in records if r.getMessage().startswith("lost connection")]
    before = [r for r in lost if r.created <= reports[0].created]
    assert [r.levelno for r in before] == [logging.WARNING] * (takeover.SUSPECT_DROPS - 1)
    after = [r for r in lost if r.created > reports[0].created]
    assert len(after) >= 4
    assert {r.levelno for r in after} == {logging.DEBUG}
    assert impostor.connects >= takeover.SUSPECT_DROPS


def documented_broker_setup(password_file: Path, tied_ids: bool) -> str:
    """The `# mosquitto.conf:` block of docs/deploy.md with the test's password file (and, for the
    control case, without use_username_as_clientid)."""
    found = re.search(
        r"^(# mosquitto\.conf:.*?)^```", DEPLOY_DOC.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE
    )
    assert found is not None, f"no '# mosquitto.conf:' block in {DEPLOY_DOC}"
    block = found.group(1)
    assert DOC_PASSWORD_FILE in block
    assert TIED_IDS in block
    block = block.replace(DOC_PASSWORD_FILE, str(password_file))
    return block if tied_ids else block.replace(TIED_IDS, "")


def connect_and_mark(port: int, client_id: str, login: tuple[str, str], marker_topic: str) -> None:
    """Connect with `client_id` as another user, publish one marker (QoS 1, acknowledged), disconnect."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.username_pw_set(*login)
    accepted = threading.Event()
    client.on_connect = lambda *_a: accepted.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert accepted.wait(10), "the broker did not accept the intruder"
        client.publish(marker_topic, b"marker", qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


@pytest.mark.parametrize("tied_ids", [True, False], ids=["documented", "without-use_username_as_clientid"])
def test_documented_broker_setup_stops_a_client_of_another_user_taking_the_agents_id(
    tied_ids: bool, private_broker: MosquittoBroker, topic_prefix: str, tmp_path: Path, started: list[MqttPublisher]
) -> None:
    """With the broker setup of docs/deploy.md, a client of another user sending the agent's client id
    leaves the agent connected; without use_username_as_clientid the same client knocks it off."""
    password_file = tmp_path / "passwd"
    users = {DEVICE: "dev1-pw", "intruder": "intruder-pw", "watcher": "watcher-pw"}
    for user, password in users.items():
        flags = ["-c"] if not password_file.exists() else []
        subprocess.run(["mosquitto_passwd", *flags, "-b", str(password_file), user, password], check=True)
    private_broker.anonymous = False
    private_broker.extra_config = "user root\n" + documented_broker_setup(password_file, tied_ids)
    private_broker.start()
    cfg = mqtt_cfg(private_broker.port, topic_prefix, username=DEVICE, password=users[DEVICE])
    client_id = f"edge-agent-{DEVICE}"
    publisher = start(started, cfg, tmp_path / "state")
    assert publisher.wait_connected(10)
    watcher = Subscriber(
        private_broker.host, private_broker.port, f"{topic_prefix}/#", username="watcher", password=users["watcher"]
    )
    try:
        for n in range(1, 4):
            connect_and_mark(private_broker.port, client_id, ("intruder", users["intruder"]), f"{topic_prefix}/marker")

            # The broker sent a knocked-off agent's will before the marker, down the same connection to the watcher.
            def marked(ms: list[Received], n: int = n) -> bool:
                return len([m for m in ms if m.topic.endswith("/marker")]) == n

            assert watcher.wait_for(marked, 10)
        knocked_off = any(m.payload == b"offline" for m in watcher.on(f"{DEVICE}/status"))
    finally:
        watcher.close()
    assert knocked_off is not tied_ids
    if tied_ids:
        assert publisher.connected
        assert publisher.stats().connect_attempts == 1
