"""Remote configuration over MQTT end to end: a real agent process on real video with the real model
and a real mosquitto. Requests go to config/set, config/patch, config/get and a group's patch topic;
answers are read from the retained config/state. Prints reconcile times (request published ->
state received) with `pytest -s`. SIGHUP and file-change reloads are in test_remote_reload.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.remote.merge_patch import apply_merge_patch
from agent.remote.protocol import RequestKind, group_patch_topic
from tests.support import assets
from tests.support.broker import MosquittoBroker, free_port
from tests.support.remote_device import DEVICE, RemoteDevice, camera, model_dir, video_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CASES_FILE = Path(__file__).resolve().parents[1] / "data" / "bad_remote_configs.yaml"
MAX_BYTES = 4096  # remote_config.max_bytes of the devices here: an oversize document stays small
ALIAS_LEVELS = 6  # 10**6 expanded nodes, far above the parser's 50,000
NESTING_LEVELS = 40  # above the parser's 32
FRESH_SEQ_MAX = 30  # a restarted camera's ring counts from 1 again; its first detected frame is among the first
SECRET = "pw-never-echo-7f3a9c"


# ----- the table of bad documents ------------------------------------------------------------


@dataclass(frozen=True)
class BadCase:
    """One row of tests/data/bad_remote_configs.yaml (see its header)."""

    id: str
    kind: str
    loc: str
    document: dict[str, Any] | None = None
    payload: str | None = None
    generate: str | None = None


def load_cases() -> list[BadCase]:
    rows = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))["cases"]
    return [BadCase(**row) for row in rows]


def build_payload(case: BadCase, running_file: dict[str, Any], request_id: str) -> bytes:
    """The bytes sent for `case`; documents carry `request_id`, raw payloads are sent as they are."""
    if case.payload is not None:
        return case.payload.encode("utf-8")
    if case.generate is not None:
        return _generated(case.generate)
    assert case.document is not None, f"case {case.id} has no document, payload or generate"
    body = case.document if case.kind == "patch" else apply_merge_patch(running_file, case.document)
    return json.dumps({"request_id": request_id, **body}).encode("utf-8")


def _generated(kind: str) -> bytes:
    if kind == "oversize":
        return ("device_id: dev1\n" + "#" * MAX_BYTES + "\n").encode()
    if kind == "alias_bomb":
        lines = ['l0: &l0 ["x","x","x","x","x","x","x","x","x","x"]']
        lines += [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 10)}]" for i in range(1, ALIAS_LEVELS)]
        return "\n".join(lines).encode()
    if kind == "deep":
        return ('{"cameras": ' + "[" * NESTING_LEVELS + "]" * NESTING_LEVELS + "}").encode()
    raise AssertionError(f"unknown generated payload {kind!r}")


CASES = load_cases()


# ----- add a camera, change a zone, roll back a model and a broker (one agent) ----------------


def test_reconcile_add_camera_change_zone_and_roll_back(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str
) -> None:
    """Adding a camera and changing one camera's zone restart only that camera; a missing model and an
    unreachable broker are rolled back with the old model detecting on the original broker."""
    device = RemoteDevice.start(
        tmp_path, broker, topic_prefix, {"crossing": camera(assets.TRAFFIC)}, allowed_dirs=[video_dir()]
    )
    try:
        _add_camera(device)
        _change_zone(device)
        _roll_back_model(device)
        _roll_back_broker(device)
    finally:
        device.close()


def _add_camera(device: RemoteDevice) -> None:
    device.wait_detections("crossing", 5)
    patch = {"request_id": "add-walkway", "cameras": {"walkway": camera(assets.PEDESTRIANS)}}
    state, took_s = device.request(RequestKind.PATCH, patch)
    print(f"\nreconcile add camera: {took_s * 1000:.0f} ms")
    assert state["status"] == "applied", state
    assert state["request_id"] == "add-walkway"
    device.wait_detections("walkway", 3, after_mono=device.last_state_mono)
    device.wait_detections("crossing", 3, after_mono=device.last_state_mono)
    seqs = device.seqs("crossing")
    assert seqs == sorted(set(seqs)), "crossing restarted or repeated frames when another camera was added"
    assert device.seq_resets("crossing") == []


def _change_zone(device: RemoteDevice) -> None:
    before_mono = time.monotonic()
    zone = {"door": {"points": [[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]}}
    state, took_s = device.request(RequestKind.PATCH, {"request_id": "zone", "cameras": {"walkway": {"zones": zone}}})
    print(f"reconcile zone change: {took_s * 1000:.0f} ms")
    assert state["status"] == "applied", state
    device.wait_detections("walkway", 3, after_mono=device.last_state_mono)
    device.wait_detections("crossing", 3, after_mono=device.last_state_mono)
    resets = device.seq_resets("walkway")
    assert len(resets) == 1, f"walkway should restart exactly once, seq resets: {resets}"
    reset_mono, first_seq = resets[0]
    assert reset_mono > before_mono
    assert first_seq <= FRESH_SEQ_MAX
    assert device.seq_resets("crossing") == [], "the camera whose settings did not change was restarted"


def _roll_back_model(device: RemoteDevice) -> None:
    on_disk = device.config_path.read_bytes()
    version = device.version
    missing = model_dir() / f"missing-{uuid.uuid4().hex[:8]}.tflite"
    state, took_s = device.request(RequestKind.PATCH, {"request_id": "model", "model": {"path": str(missing)}})
    print(f"reconcile model rollback: {took_s * 1000:.0f} ms")
    assert state["status"] == "rolled_back", state
    assert state["version"] == version
    assert any(error["loc"] == "apply" and "model" in error["msg"] for error in state["errors"]), state
    assert device.config_path.read_bytes() == on_disk
    people = device.wait_detections("crossing", 3, after_mono=device.last_state_mono)
    assert any(det["label"] in {"person", "car"} for msg in people for det in msg["detections"])
    assert device.seq_resets("crossing") == []
    stats = device.wait_messages("/stats", 1, after_mono=device.last_state_mono)
    assert stats[-1]["model"] == assets.SSD_MODEL


def _roll_back_broker(device: RemoteDevice) -> None:
    on_disk = device.config_path.read_bytes()
    version = device.version
    patch = {"request_id": "broker", "mqtt": {"port": free_port()}, "remote_config": {"apply_timeout_s": 1.0}}
    state, took_s = device.request(RequestKind.PATCH, patch)
    print(f"reconcile broker rollback (apply_timeout_s 1): {took_s * 1000:.0f} ms")
    assert state["status"] == "rolled_back", state
    assert state["version"] == version
    assert any(error["loc"] == "apply" and "no connection" in error["msg"] for error in state["errors"]), state
    assert device.config_path.read_bytes() == on_disk
    device.wait_detections("crossing", 5, after_mono=device.last_state_mono)
    device.wait_detections("walkway", 5, after_mono=device.last_state_mono)
    assert device.statuses()[-1] == b"online"
    assert device.seq_resets("crossing") == []


# ----- 20+ bad documents on one agent ----------------------------------------------------------


@pytest.fixture(scope="module")
def steady_device(tmp_path_factory: pytest.TempPathFactory, broker: MosquittoBroker) -> Iterator[RemoteDevice]:
    """One agent for every bad document: a camera `crossing`, max_bytes 4096, the videos dir allowed."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    device = RemoteDevice.start(
        tmp_path_factory.mktemp("steady"),
        broker,
        prefix,
        {"crossing": camera(assets.TRAFFIC)},
        allowed_dirs=[video_dir()],
        remote={"max_bytes": MAX_BYTES},
    )
    device.wait_detections("crossing", 3)
    device.initial_version = device.version
    device.initial_file = device.config_path.read_bytes()
    yield device
    device.close()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_document_is_rejected(steady_device: RemoteDevice, case: BadCase) -> None:
    """A bad document is answered `rejected`, naming the field (or <document>), and changes nothing."""
    request_id = f"bad-{case.id}"[:128]
    payload = build_payload(case, steady_device.file_document(), request_id)
    echoed = request_id if case.document is not None else None
    if case.loc == "request_id":
        echoed = None  # an unusable request_id cannot be echoed
    state, _ = steady_device.request_on(steady_device.topics.request(RequestKind(case.kind)), payload, echoed)
    assert state["status"] == "rejected", state
    assert state["version"] == steady_device.initial_version
    locs = [error["loc"] for error in state["errors"]]
    assert case.loc in locs, f"expected an error at {case.loc}, got {state['errors']}"
    assert all(error["msg"] for error in state["errors"])


def test_label_typo_is_rejected_with_did_you_mean(steady_device: RemoteDevice) -> None:
    """A patch with `objects: [persn]` is rejected at that field with a hint, and the old config runs on."""
    patch = {"request_id": "label-typo", "cameras": {"crossing": {"objects": ["persn"]}}}
    state, _ = steady_device.request(RequestKind.PATCH, patch)
    assert state["status"] == "rejected", state
    assert state["version"] == steady_device.initial_version
    [error] = state["errors"]
    assert error["loc"] == "cameras.crossing.objects.0"
    assert "'persn' is not a label of model" in error["msg"]
    assert error["msg"].endswith("(did you mean 'person'?)")
    steady_device.wait_detections("crossing", 3, after_mono=time.monotonic())


def test_old_config_keeps_running_after_rejections(steady_device: RemoteDevice) -> None:
    """After the bad documents the device still detects, runs the same version and kept its file."""
    mark = time.monotonic()
    found = steady_device.wait_detections("crossing", 5, after_mono=mark)
    assert any(det["label"] in {"person", "car"} for msg in found for det in msg["detections"])
    assert steady_device.seq_resets("crossing") == []
    assert steady_device.config_path.read_bytes() == steady_device.initial_file
    current = steady_device.get_current("after-bad")
    assert current["version"] == steady_device.initial_version
    assert "hi" not in steady_device.agent.log.splitlines(), "the !!python tag was executed"
    assert len(CASES) >= 20


# ----- groups, the edge-agent config tool, config/get and secrets -------------------------------


def test_group_patch_fleet_cli_and_redacted_get(tmp_path: Path, broker: MosquittoBroker, topic_prefix: str) -> None:
    """A group patch is answered on the device's own state; `config push|status` exit 0 printing the
    state; config/current redacts mqtt.password, which never appears on the broker or in the log."""
    mqtt = {"username": DEVICE, "password": SECRET}
    device = RemoteDevice.start(
        tmp_path, broker, topic_prefix, {"crossing": camera(assets.TRAFFIC)}, groups=["lobby"], mqtt_settings=mqtt
    )
    try:
        group_topic = group_patch_topic(topic_prefix, "lobby")
        patch = {"request_id": "group-1", "cameras": {"crossing": {"detect_fps": 3.0}}}
        state, _ = device.request_on(group_topic, json.dumps(patch).encode(), "group-1")
        assert state["status"] == "applied", state
        assert device.current_config()["cameras"]["crossing"]["detect_fps"] == 3.0
        _fleet_cli(device, tmp_path, broker, topic_prefix)
        current = device.get_current("get-1")
        assert current["request_id"] == "get-1"
        assert current["version"] == device.version
        assert current["config"]["mqtt"]["password"] == "***"
        assert current["config"]["mqtt"]["username"] == DEVICE
        assert current["config"]["groups"] == ["lobby"]
    finally:
        device.close()
    requests = {device.topics.request(RequestKind.SET), device.topics.request(RequestKind.PATCH)}
    for message in device.subscriber.snapshot():
        if message.topic not in requests:
            assert SECRET.encode() not in message.payload, message.topic
    assert SECRET not in device.agent.log_path.read_text(errors="replace")


def _fleet_cli(device: RemoteDevice, tmp_path: Path, broker: MosquittoBroker, prefix: str) -> None:
    """`edge-agent config push` of a whole file, of a patch, then `config status`, as a subprocess."""
    whole = apply_merge_patch(device.file_document(), {"cameras": {"crossing": {"detect_fps": 4.0}}})
    pushed = tmp_path / "pushed.yaml"
    pushed.write_text(yaml.safe_dump(whole))
    target = ["--device", DEVICE, "--host", broker.host, "--port", str(broker.port), "--prefix", prefix]
    result = _edge_agent("config", "push", str(pushed), *target, "--timeout", "30")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert (answer["device_id"], answer["status"]) == (DEVICE, "applied")
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"cameras": {"crossing": {"objects": ["person", "car"]}}}))
    result = _edge_agent("config", "push", str(patch), "--patch", *target, "--timeout", "30")
    assert result.returncode == 0, result.stderr
    result = _edge_agent("config", "status", *target, "--timeout", "10")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout.strip().splitlines()[-1])
    assert status["status"] == "applied"
    assert status["version"] == device.version
    running = device.current_config()["cameras"]["crossing"]
    assert (running["detect_fps"], running["objects"]) == (4.0, ["person", "car"])


def _edge_agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent", *args], capture_output=True, text=True, timeout=60, check=False
    )
