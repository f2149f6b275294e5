"""The anomaly engine inside the real agent: real video turned black, covered or shifted part-way,
a plain camera, an RTSP server stopped and restarted, Home Assistant entities and baselines kept
across runs, all seen by subscribers of a real mosquitto. One module-scoped run, about 30 s."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.capture.media import MediaRateCap
from agent.config.anomaly import AnomalyConfig
from agent.config.schema import CameraConfig
from agent.core.anomaly import anomaly_kinds
from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.rtsp import RtspServer, require_rtsp
from tests.support.schemas import validate_payload
from tests.support.subscriber import Received, Subscriber
from tests.support.tampered_video import TamperedVideo, write_tampered

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

DEVICE = "dev1"
NORMAL_S, TAMPERED_S = 10.0, 10.0
# camera -> (tampered_video transform from NORMAL_S on, the anomaly kind it must raise)
TAMPERS = {
    "blackout": ("black", "tamper_blackout"),
    "covered": ("occluded", "tamper_covered"),
    "moved": ("shifted", "tamper_moved"),
}
CAMERAS = (*TAMPERS, "normal", "door")
DEFAULT_DETECT_FPS = float(CameraConfig.model_fields["detect_fps"].default)  # the tampered cameras keep it
ONSET_SLACK_S = 1.0  # the onset estimate comes from a detection frame's capture time, up to a few frames early
DETECTION_DELAY_MAX_S = 5.0  # the bound from the tamper onset to the anomaly's start
STREAM = {"offline_sustain_s": 2.0, "resolve_s": 1.0}  # short sustain so the outage test stays quick
RTSP_CAMERA = {"read_timeout_s": 1.0, "open_timeout_s": 5.0, "reconnect_initial_s": 0.2, "reconnect_max_s": 0.5}


@dataclass(frozen=True)
class FirstRun:
    """What the subscribers saw during one agent run with five cameras, and what it left behind."""

    prefix: str
    ha_prefix: str
    state_dir: Path
    videos: dict[str, TamperedVideo]
    messages: list[Received]
    discovery: list[Received]
    exit_code: int
    log: str

    def anomalies(self, camera: str) -> list[dict[str, Any]]:
        return [m.json() for m in self.messages if m.topic.endswith("/anomalies") and m.json()["camera"] == camera]


def anomaly_seen(sub: Subscriber, camera: str, kind: str, state: str, timeout_s: float) -> bool:
    def seen(msgs: list[Received]) -> bool:
        return any(
            m.topic.endswith("/anomalies")
            and (m.json()["camera"], m.json()["kind"], m.json()["state"]) == (camera, kind, state)
            for m in msgs
        )

    return sub.wait_for(seen, timeout_s)


def first_run_config(
    tmp: Path, broker: MosquittoBroker, prefix: str, videos: dict[str, TamperedVideo], rtsp_url: str
) -> dict[str, Any]:
    cameras: dict[str, Any] = {name: {"source": str(video.path), "realtime": True} for name, video in videos.items()}
    cameras["normal"] = {"source": str(assets.video(assets.PEDESTRIANS)), "realtime": True}
    cameras["door"] = {"source": rtsp_url, **RTSP_CAMERA, "anomalies": {"stream": STREAM}}
    return base_config(tmp, broker, prefix, cameras, discovery={"enabled": True, "discovery_prefix": f"{prefix}-ha"})


@pytest.fixture(scope="module")
def first_run(broker: MosquittoBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstRun]:
    """One agent run: three files are tampered from 10 s on while the RTSP server is stopped and restarted."""
    require_rtsp()
    tmp = tmp_path_factory.mktemp("anomalies")
    source = assets.video(assets.PEDESTRIANS)
    videos = {
        camera: write_tampered(source, tmp / f"{camera}.avi", transform, NORMAL_S, TAMPERED_S)
        for camera, (transform, _) in TAMPERS.items()
    }
    server = RtspServer(workdir=tmp, file=assets.video(assets.PEDESTRIANS))
    server.start()
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    sub = Subscriber(broker.host, broker.port, f"{prefix}/#")
    agent = AgentProcess(write_config(tmp / "agent.yaml", first_run_config(tmp, broker, prefix, videos, server.url)))
    try:
        door_online = sub.wait_for(
            lambda ms: any(m.topic.endswith("/door/status") and m.payload == b"online" for m in ms), 60
        )
        assert door_online, agent.log
        server.stop()
        assert anomaly_seen(sub, "door", "stream_offline", "active", 30), agent.log
        server.start()
        assert anomaly_seen(sub, "door", "stream_offline", "resolved", 30), agent.log
        for camera, (_, kind) in TAMPERS.items():
            assert anomaly_seen(sub, camera, kind, "active", NORMAL_S + TAMPERED_S + 30), agent.log
        code, _ = agent.terminate(timeout_s=20)
        for camera, (_, kind) in TAMPERS.items():
            anomaly_seen(sub, camera, kind, "resolved", 10)
        retained = retained_discovery(broker, f"{prefix}-ha")
        yield FirstRun(prefix, f"{prefix}-ha", tmp / "state", videos, sub.snapshot(), retained, code, agent.log)
    finally:
        agent.close()
        sub.close()
        server.stop()


def retained_discovery(broker: MosquittoBroker, ha_prefix: str) -> list[Received]:
    """What a Home Assistant connecting after the run receives: only retained messages reach a late subscriber."""
    expected = len(CAMERAS) * len(anomaly_kinds(AnomalyConfig()))
    late = Subscriber(broker.host, broker.port, f"{ha_prefix}/#")
    try:
        late.wait_for(lambda msgs: sum(b'"problem"' in m.payload for m in msgs) >= expected, 10)
        return late.snapshot()
    finally:
        late.close()


def test_every_anomaly_message_is_schema_valid_and_paired(first_run: FirstRun) -> None:
    """Each anomaly message validates against the schema, has a unique msg_id, and every active one is resolved."""
    assert first_run.exit_code == 0, first_run.log
    raw = [m for m in first_run.messages if m.topic == f"{first_run.prefix}/{DEVICE}/anomalies"]
    assert raw
    docs = [validate_payload("anomaly", m.payload) for m in raw]
    assert all(not m.retain for m in raw)
    assert len({d["msg_id"] for d in docs}) == len(docs)
    active = {d["anomaly_id"]: d for d in docs if d["state"] == "active"}
    resolved = {d["anomaly_id"]: d for d in docs if d["state"] == "resolved"}
    assert active.keys() == resolved.keys()  # shutdown resolves whatever is still open
    for anomaly_id, end in resolved.items():
        assert (end["kind"], end["camera"], end["started_ts"]) == (
            active[anomaly_id]["kind"],
            active[anomaly_id]["camera"],
            active[anomaly_id]["started_ts"],
        )
        assert end["ended_ts"] >= end["started_ts"]


def onset_wall_ts(first_run: FirstRun, camera: str) -> float:
    """The media time of the first tampered frame, from the newest detections frame before it.

    A file's frames carry media time and detect_fps (the default 5) admits frames per media second, so
    detections seq n is the file's n-th admitted frame (MediaRateCap's rule, tested on its own)."""
    video = first_run.videos[camera]
    rate_cap = MediaRateCap()
    admitted = [i for i in range(video.frames) if rate_cap.admit(i / video.fps, DEFAULT_DETECT_FPS)]
    frames = [m.json() for m in first_run.messages if m.topic.endswith(f"/{camera}/detections")]
    before = [f for f in frames if admitted[int(f["seq"]) - 1] <= video.onset_frame]
    assert before, f"no detections from the normal part of the {camera} video"
    last = max(before, key=lambda f: int(f["seq"]))
    frames_after = video.onset_frame - admitted[int(last["seq"]) - 1]
    return float(last["ts"]) + frames_after / video.fps


@pytest.mark.parametrize("camera", sorted(TAMPERS))
def test_tamper_starts_within_five_seconds_of_the_onset_and_resolves(first_run: FirstRun, camera: str) -> None:
    """A tampered camera reports its tamper kind, started within 5 s of the first tampered frame, then resolved."""
    kind = TAMPERS[camera][1]
    found = first_run.anomalies(camera)
    matching = [a for a in found if a["kind"] == kind]
    assert [a["state"] for a in matching] == ["active", "resolved"], found
    active, resolved = matching
    onset = onset_wall_ts(first_run, camera)
    assert onset - ONSET_SLACK_S <= active["started_ts"] <= onset + DETECTION_DELAY_MAX_S
    assert active["severity"] == "critical"
    assert resolved["anomaly_id"] == active["anomaly_id"]
    assert resolved["ended_ts"] > active["started_ts"]
    assert [a["kind"] for a in found] == [kind, kind], found  # nothing else, and nothing before the tamper


def test_blackout_reports_the_black_frame_luminance(first_run: FirstRun) -> None:
    """The blackout's details carry the observed mean luminance, at or below the configured threshold."""
    active = next(a for a in first_run.anomalies("blackout") if a["state"] == "active")
    assert active["details"]["observed"] <= active["details"]["threshold"] == 10.0


def test_normal_camera_stays_silent(first_run: FirstRun) -> None:
    """A camera showing the same real footage without tampering publishes no anomaly while the others do."""
    assert all(first_run.anomalies(camera) for camera in TAMPERS)
    assert len([m for m in first_run.messages if m.topic.endswith("/normal/detections")]) >= 10
    assert first_run.anomalies("normal") == []


def test_stopped_rtsp_server_is_stream_offline_until_restarted(first_run: FirstRun) -> None:
    """Stopping the RTSP server opens stream_offline for that camera only; after a restart it resolves."""
    offline = [a for a in first_run.anomalies("door") if a["kind"] == "stream_offline"]
    assert [a["state"] for a in offline] == ["active", "resolved"]
    assert offline[0]["anomaly_id"] == offline[1]["anomaly_id"]
    assert offline[0]["details"]["observed"] == "offline"
    statuses = [m.payload for m in first_run.messages if m.topic.endswith("/door/status")]
    assert statuses[:3] == [b"online", b"offline", b"online"]
    others = [a for camera in (*TAMPERS, "normal") for a in first_run.anomalies(camera)]
    assert not [a for a in others if a["kind"].startswith("stream_")]


def test_discovery_announces_a_problem_sensor_per_camera_and_anomaly_kind(first_run: FirstRun) -> None:
    """With discovery on, a retained, well-formed problem binary_sensor exists for every camera and default anomaly kind."""
    sensors = {}
    for message in first_run.discovery:
        payload = json.loads(message.payload)
        if message.topic.startswith(f"{first_run.ha_prefix}/binary_sensor/") and payload["device_class"] == "problem":
            assert message.retain
            assert message.topic.startswith(f"{first_run.ha_prefix}/binary_sensor/{DEVICE}/")
            assert message.topic.endswith("/config")
            sensors[payload["unique_id"]] = payload
    kinds = anomaly_kinds(AnomalyConfig())
    assert {"tamper_blackout", "stream_offline"} <= set(kinds)
    for camera in CAMERAS:
        for kind in kinds:
            payload = sensors.pop(f"edge-vision-agent/{DEVICE}/camera/{camera}/anomaly/{kind}")
            assert payload["state_topic"] == f"{first_run.prefix}/{DEVICE}/anomalies"
            assert payload["availability_topic"] == f"{first_run.prefix}/{DEVICE}/status"
            assert (payload["payload_on"], payload["payload_off"]) == ("ON", "OFF")
            template = payload["value_template"]
            assert f'value_json.camera == "{camera}"' in template
            assert f'value_json.kind == "{kind}"' in template
            assert payload["device"]["identifiers"] == [f"edge-vision-agent-{DEVICE}"]
    assert sensors == {}  # no entity for a kind the engine cannot emit (no restricted-zone rules here)


def test_baselines_are_saved_and_loaded_by_the_next_run(first_run: FirstRun, broker: MosquittoBroker) -> None:
    """Each camera's baselines are written under <state_dir>/anomaly, and a second run loads and extends them."""
    for camera in CAMERAS:
        assert (first_run.state_dir / "anomaly" / f"{camera}.json").is_file()
    path = first_run.state_dir / "anomaly" / "normal.json"
    before = json.loads(path.read_text())
    assert before["camera"] == "normal"
    first_ts = before["rare_object"]["first_ts"]
    seen_before = sum(sum(hours) for hours in before["rare_object"]["hours"].values())
    tmp = first_run.state_dir.parent
    cameras = {"normal": {"source": str(assets.video(assets.PEDESTRIANS)), "realtime": False, "detect_fps": 1000}}
    config = base_config(tmp, broker, f"{first_run.prefix}-2", cameras)
    second_start = time.time()
    agent = AgentProcess(write_config(tmp / "second.yaml", config))
    try:
        assert agent.wait(90) == 0, agent.log
    finally:
        agent.close()
    assert f"loaded anomaly baselines from {path}" in agent.log_path.read_text()
    after = json.loads(path.read_text())
    assert first_ts < second_start
    assert after["rare_object"]["first_ts"] == first_ts  # the history's start survives the restart
    assert sum(sum(hours) for hours in after["rare_object"]["hours"].values()) > seen_before
