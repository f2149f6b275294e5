"""The recommended mosquitto ACL (read from docs/remote-config.md) lets only the admin send config
requests, and `edge-agent config push|status` round-trips with devices through it."""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.cli import fleet as fleet_cli
from agent.config.loader import load_config
from agent.config.schema import AgentConfig, MqttConfig
from agent.remote.document import RemotePolicy, config_version, parse_patch, parse_set
from agent.remote.protocol import ApplyStatus, ConfigState, ConfigTopics, RequestKind, state_message
from tests.support.broker import MosquittoBroker
from tests.support.subscriber import Subscriber

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "remote-config.md"
DOC_PREFIX = "edge-agent"
USERS = {"admin": "admin-pw", "dev1": "dev1-pw", "dev2": "dev2-pw", "viewer": "viewer-pw"}
WAIT_S = 20.0
DEVICE_CONFIG = """\
device_id: {device}
groups: [north]
mqtt:
  topic_prefix: {prefix}
model:
  path: ssd-mobilenet
cameras:
  front:
    source: /dev/video0
"""


def documented_acl(prefix: str) -> str:
    """The acl_file block of docs/remote-config.md, for `prefix` instead of edge-agent."""
    found = re.search(r"^(# acl_file:.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)
    assert found is not None, f"no '# acl_file:' block in {DOC}"
    acl = found.group(1)
    return acl.replace(f"{DOC_PREFIX}/", f"{prefix}/")


@pytest.fixture
def acl_broker(private_broker: MosquittoBroker, tmp_path: Path, topic_prefix: str) -> MosquittoBroker:
    """A private mosquitto with passwords, anonymous access off, and the documented ACL."""
    passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(passwd).exists():
        pytest.fail("mosquitto_passwd not found (apt-get install mosquitto)")
    password_file = tmp_path / "passwd"
    for user, password in USERS.items():
        flags = ["-c"] if not password_file.exists() else []
        subprocess.run([passwd, *flags, "-b", str(password_file), user, password], check=True, capture_output=True)
    acl_file = tmp_path / "acl"
    acl_file.write_text(documented_acl(topic_prefix))
    private_broker.anonymous = False
    private_broker.extra_config = "\n".join(
        [
            "user root",  # read the files below from the test's private temp dir
            f"password_file {password_file}",
            f"acl_file {acl_file}",
        ]
    )
    private_broker.start()
    return private_broker


def _subscriber(broker: MosquittoBroker, user: str, topic: str) -> Subscriber:
    return Subscriber(broker.host, broker.port, topic, username=user, password=USERS[user])


def _publish(broker: MosquittoBroker, user: str, topic: str, payload: bytes, retain: bool = False) -> None:
    """Publish at QoS 1 and wait for PUBACK: the broker has then fully handled (or dropped) it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.username_pw_set(user, USERS[user])
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(WAIT_S)
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def _payloads(sub: Subscriber) -> list[bytes]:
    return [m.payload for m in sub.snapshot()]


def _sentinel_seen(broker: MosquittoBroker, sub: Subscriber, topic: str) -> bool:
    """Admin publishes a sentinel after the forbidden message; once it arrives, the earlier one would have too."""
    _publish(broker, "admin", topic, b"sentinel")
    return sub.wait_for(lambda msgs: any(m.payload == b"sentinel" for m in msgs), WAIT_S)


def test_admin_request_reaches_device(acl_broker: MosquittoBroker, topic_prefix: str) -> None:
    """An admin's publish to a device's config/set and to its group's patch topic reaches the device."""
    topics = ConfigTopics(topic_prefix, "dev1", ("north",))
    sub = _subscriber(acl_broker, "dev1", f"{topic_prefix}/#")
    try:
        _publish(acl_broker, "admin", topics.request(RequestKind.SET), b"device_id: dev1")
        _publish(acl_broker, "admin", topics.group_patch("north"), b"{}")
        assert sub.wait_for(lambda msgs: len(msgs) == 2, WAIT_S)
        assert sorted(m.topic for m in sub.snapshot()) == sorted(
            [topics.request(RequestKind.SET), topics.group_patch("north")]
        )
    finally:
        sub.close()


@pytest.mark.parametrize(
    ("user", "target"),
    [
        ("viewer", "dev1/config/set"),
        ("dev2", "dev1/config/set"),
        ("dev2", "dev1/config/patch"),
        ("dev2", "groups/north/config/patch"),
        ("dev1", "groups/north/config/patch"),
    ],
)
def test_non_admin_request_never_arrives(
    acl_broker: MosquittoBroker, topic_prefix: str, user: str, target: str
) -> None:
    """A publish by anyone but the admin to another device's or a group's config topic is dropped."""
    topic = f"{topic_prefix}/{target}"
    sub = _subscriber(acl_broker, "admin", topic)
    try:
        _publish(acl_broker, user, topic, b"device_id: hijacked")
        assert _sentinel_seen(acl_broker, sub, topic)
        assert _payloads(sub) == [b"sentinel"]
    finally:
        sub.close()


def test_device_cannot_read_another_devices_requests(acl_broker: MosquittoBroker, topic_prefix: str) -> None:
    """dev2 subscribed to dev1's config topics receives nothing, while its own requests arrive."""
    spy = _subscriber(acl_broker, "dev2", f"{topic_prefix}/+/config/#")
    try:
        _publish(acl_broker, "admin", f"{topic_prefix}/dev1/config/set", b"mqtt: {password: secret}")
        _publish(acl_broker, "admin", f"{topic_prefix}/dev2/config/set", b"own")
        assert spy.wait_for(lambda msgs: len(msgs) >= 1, WAIT_S)
        assert _payloads(spy) == [b"own"]
    finally:
        spy.close()


def test_device_state_is_published_and_retained(acl_broker: MosquittoBroker, topic_prefix: str) -> None:
    """A device may write its own retained config/state, which the admin then reads."""
    state = ConfigState("ab" * 32, 1.0, ApplyStatus.APPLIED, (), "r1")
    msg = state_message(ConfigTopics(topic_prefix, "dev1"), state)
    _publish(acl_broker, "dev1", msg.topic, msg.payload, retain=True)
    sub = _subscriber(acl_broker, "admin", msg.topic)
    try:
        assert sub.wait_for(lambda msgs: len(msgs) == 1, WAIT_S)
        assert sub.snapshot()[0].retain
        assert sub.snapshot()[0].json()["request_id"] == "r1"
    finally:
        sub.close()


# ----- edge-agent config push / status through the ACL ---------------------------------------


@dataclass
class DeviceSim:
    """A device's config endpoint built from agent.remote (what the supervisor does, without cameras)."""

    client: mqtt.Client
    topics: ConfigTopics
    running: AgentConfig
    policy: RemotePolicy
    lock: threading.Lock

    def on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        kind = self.topics.classify(msg.topic)
        with self.lock:
            if kind is RequestKind.SET:
                result = parse_set(bytes(msg.payload), self.running, self.policy)
            elif kind is RequestKind.PATCH:
                result = parse_patch(bytes(msg.payload), self.running, self.policy)
            else:
                return
            if result.config is not None:
                self.running = result.config
            status = ApplyStatus.APPLIED if result.config is not None else ApplyStatus.REJECTED
            state = ConfigState(config_version(self.running), 1.0, status, result.errors, result.request_id)
            out = state_message(self.topics, state)
            self.client.publish(out.topic, out.payload, qos=out.qos, retain=out.retain)


@pytest.fixture
def devices(acl_broker: MosquittoBroker, topic_prefix: str, tmp_path: Path) -> Iterator[dict[str, DeviceSim]]:
    sims: dict[str, DeviceSim] = {}
    for device in ("dev1", "dev2"):
        path = tmp_path / f"{device}.yaml"
        path.write_text(DEVICE_CONFIG.format(device=device, prefix=topic_prefix))
        cfg = load_config(path)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        client.username_pw_set(device, USERS[device])
        subscribed = threading.Event()
        sim = DeviceSim(
            client,
            ConfigTopics(topic_prefix, device, tuple(cfg.groups)),
            cfg,
            RemotePolicy.for_running(path, cfg),
            threading.Lock(),
        )
        client.on_message = sim.on_message
        client.on_connect = lambda c, _u, _f, _rc, _p, s=sim: c.subscribe([(t, 1) for t in s.topics.subscriptions()])
        client.on_subscribe = lambda *_args, ev=subscribed: ev.set()
        client.connect(acl_broker.host, acl_broker.port)
        client.loop_start()
        assert subscribed.wait(WAIT_S)
        sims[device] = sim
    yield sims
    for sim in sims.values():
        sim.client.disconnect()
        sim.client.loop_stop()


def _admin() -> MqttConfig:
    return MqttConfig(username="admin", password=USERS["admin"])


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_push_set_and_status(
    acl_broker: MosquittoBroker, topic_prefix: str, devices: dict[str, DeviceSim], tmp_path: Path
) -> None:
    """push of a valid config exits 0 with the device's matching state; status prints it again."""
    doc = tmp_path / "new.yaml"
    doc.write_text(DEVICE_CONFIG.format(device="dev1", prefix=topic_prefix) + "log_level: DEBUG\n")
    out = io.StringIO()
    code = fleet_cli.push(
        acl_broker.host, acl_broker.port, topic_prefix, "dev1", doc, WAIT_S, mqtt_cfg=_admin(), out=out
    )
    assert code == fleet_cli.EXIT_APPLIED
    [answer] = _lines(out)
    assert answer["status"] == "applied"
    assert answer["version"] == config_version(devices["dev1"].running)
    assert devices["dev1"].running.log_level == "DEBUG"
    status_out = io.StringIO()
    code = fleet_cli.status(
        acl_broker.host, acl_broker.port, topic_prefix, "dev1", WAIT_S, mqtt_cfg=_admin(), out=status_out
    )
    assert code == fleet_cli.EXIT_APPLIED
    assert _lines(status_out)[0]["request_id"] == answer["request_id"]


def test_cli_status_takes_broker_and_credentials_from_config(
    acl_broker: MosquittoBroker,
    topic_prefix: str,
    devices: dict[str, DeviceSim],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`config push` then `config status` via argparse read host, port, prefix and a relative password_file."""
    (tmp_path / "admin.pw").write_text(USERS["admin"] + "\n")
    admin = tmp_path / "admin.yaml"
    admin.write_text(
        f"mqtt:\n  host: {acl_broker.host}\n  port: {acl_broker.port}\n  topic_prefix: {topic_prefix}\n"
        "  username: admin\n  password_file: admin.pw\n"
    )
    patch = tmp_path / "p.json"
    patch.write_text('{"log_level": "WARNING"}')
    parser = argparse.ArgumentParser(prog="edge-agent")
    fleet_cli.register(parser.add_subparsers(dest="command", required=True))
    push_args = parser.parse_args(["config", "push", str(patch), "--patch", "--device", "dev2", "--config", str(admin)])
    assert push_args.handler(push_args) == fleet_cli.EXIT_APPLIED
    pushed = json.loads(capsys.readouterr().out)
    status_args = parser.parse_args(["config", "status", "--device", "dev2", "--config", str(admin)])
    assert status_args.handler(status_args) == fleet_cli.EXIT_APPLIED
    # The state as pushed, plus the device's presence: this simulated device publishes no
    # availability or stats, so its status is unknown and it was never seen.
    assert json.loads(capsys.readouterr().out) == {**pushed, "device_status": "unknown", "last_seen_ts": None}
    assert devices["dev2"].running.log_level == "WARNING"


def test_push_invalid_patch_is_rejected(
    acl_broker: MosquittoBroker, topic_prefix: str, devices: dict[str, DeviceSim], tmp_path: Path
) -> None:
    """push --patch of an invalid change exits 1 and prints the device's located errors."""
    before = config_version(devices["dev1"].running)
    patch = tmp_path / "bad.json"
    patch.write_text(json.dumps({"cameras": {"front": {"detect_fps": -3}}}))
    out = io.StringIO()
    code = fleet_cli.push(
        acl_broker.host, acl_broker.port, topic_prefix, "dev1", patch, WAIT_S, patch=True, mqtt_cfg=_admin(), out=out
    )
    assert code == fleet_cli.EXIT_FAILED
    [answer] = _lines(out)
    assert answer["status"] == "rejected"
    assert [e["loc"] for e in answer["errors"]] == ["cameras.front.detect_fps"]
    assert answer["version"] == before


def test_push_group_patch_answers_from_every_member(
    acl_broker: MosquittoBroker, topic_prefix: str, devices: dict[str, DeviceSim], tmp_path: Path
) -> None:
    """A group patch is applied by both devices of the group; push collects both answers."""
    patch = tmp_path / "fps.yaml"
    patch.write_text("cameras:\n  front:\n    detect_fps: 1.5\n")
    out = io.StringIO()
    code = fleet_cli.push(
        acl_broker.host,
        acl_broker.port,
        topic_prefix,
        None,
        patch,
        WAIT_S,
        group="north",
        expect=2,
        mqtt_cfg=_admin(),
        out=out,
    )
    assert code == fleet_cli.EXIT_APPLIED
    assert sorted(a["device_id"] for a in _lines(out)) == ["dev1", "dev2"]
    assert all(sim.running.cameras["front"].detect_fps == 1.5 for sim in devices.values())


def test_push_by_non_admin_gets_no_answer(
    acl_broker: MosquittoBroker, topic_prefix: str, devices: dict[str, DeviceSim], tmp_path: Path
) -> None:
    """A push with a device's credentials to another device is dropped by the ACL: exit 2, nothing applied."""
    doc = tmp_path / "new.yaml"
    doc.write_text(DEVICE_CONFIG.format(device="dev1", prefix=topic_prefix) + "log_level: ERROR\n")
    creds = MqttConfig(username="dev2", password=USERS["dev2"])
    code = fleet_cli.push(
        acl_broker.host, acl_broker.port, topic_prefix, "dev1", doc, 1.0, mqtt_cfg=creds, out=io.StringIO()
    )
    assert code == fleet_cli.EXIT_NO_ANSWER
    assert devices["dev1"].running.log_level == "INFO"
