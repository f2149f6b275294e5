"""The real agent process on real video, a real model and a real broker: what a dashboard receives."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.detections import assert_inside_frame
from tests.support.schemas import validate_payload
from tests.support.subscriber import Subscriber

pytestmark = pytest.mark.integration

PEDESTRIANS_SIZE = (768, 576)


def test_file_run_publishes_valid_person_detections_and_exits(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str, subscriber: Subscriber
) -> None:
    """A non-looping file run publishes schema-valid person detections inside the frame and exits 0 by itself."""
    video = assets.video(assets.PEDESTRIANS)
    config = base_config(
        tmp_path, broker, topic_prefix, {"walkway": {"source": str(video), "realtime": False, "detect_fps": 100}}
    )
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", config))
    try:
        assert agent.wait(120) == 0, agent.log
    finally:
        agent.close()
    assert subscriber.wait_for(
        lambda msgs: any(m.topic.endswith("/status") and m.payload == b"offline" for m in msgs), 10
    )
    frames = [validate_payload("detections", m.payload) for m in subscriber.on("/walkway/detections")]
    assert len(frames) >= 10
    people = [d for f in frames for d in f["detections"] if d["label"] == "person"]
    assert len(people) >= 3 * len(frames)  # 3 to 9 people walk in every frame of this clip
    assert_inside_frame(frames, PEDESTRIANS_SIZE, 0.5)
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    for stats in subscriber.on(f"{topic_prefix}/dev1/stats"):
        validate_payload("stats", stats.payload)
    statuses = [validate_payload("status", m.payload) for m in subscriber.on("dev1/status")]
    assert statuses[0] == "online"
    assert statuses[-1] == "offline"


def test_sigterm_stops_gracefully_within_five_seconds(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str, subscriber: Subscriber
) -> None:
    """SIGTERM on a looping camera exits 0 within 5 s and leaves a retained `offline`."""
    video = assets.video(assets.TRAFFIC)
    config = base_config(tmp_path, broker, topic_prefix, {"crossing": {"source": str(video), "loop": True}})
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", config))
    try:
        assert subscriber.wait_for(lambda msgs: len([m for m in msgs if m.topic.endswith("/detections")]) >= 3, 60), (
            agent.log
        )
        code, took_s = agent.terminate()
    finally:
        agent.close()
    assert code == 0, agent.log
    assert took_s < 5.0
    late = Subscriber(broker.host, broker.port, f"{topic_prefix}/dev1/status")
    try:
        assert late.wait_for(lambda msgs: bool(msgs), 5)
        assert late.snapshot()[0].payload == b"offline"
        assert late.snapshot()[0].retain
    finally:
        late.close()


def test_kill9_leaves_retained_offline_through_the_last_will(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str, subscriber: Subscriber
) -> None:
    """After kill -9 the broker publishes the Last Will: a new subscriber sees retained `offline`."""
    video = assets.video(assets.TRAFFIC)
    config = base_config(
        tmp_path,
        broker,
        topic_prefix,
        {"crossing": {"source": str(video), "loop": True}},
        mqtt={"host": broker.host, "port": broker.port, "topic_prefix": topic_prefix, "keepalive_s": 5},
    )
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", config))
    try:
        assert subscriber.wait_for(lambda msgs: any(m.payload == b"online" for m in msgs), 60), agent.log
        agent.kill()
    finally:
        agent.close()
    late = Subscriber(broker.host, broker.port, f"{topic_prefix}/dev1/status")
    try:
        assert late.wait_for(lambda msgs: any(m.payload == b"offline" for m in msgs), 15)
        assert late.snapshot()[-1].retain
    finally:
        late.close()


def test_dead_camera_does_not_stop_the_others(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str, subscriber: Subscriber
) -> None:
    """A camera whose RTSP URL refuses connections is reported offline while a file camera keeps detecting."""
    video = assets.video(assets.TRAFFIC)
    cameras = {
        "crossing": {"source": str(video), "loop": True},
        "dead": {"source": "rtsp://127.0.0.1:9/none", "reconnect_initial_s": 0.2, "reconnect_max_s": 0.5},
    }
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", base_config(tmp_path, broker, topic_prefix, cameras)))
    try:
        assert subscriber.wait_for(lambda msgs: len(subscriber.on("/crossing/detections")) >= 10, 60), agent.log
        assert subscriber.wait_for(
            lambda msgs: any(m.topic.endswith("/dead/status") and m.payload == b"offline" for m in msgs), 20
        )
        assert subscriber.wait_for(
            lambda msgs: any(
                m.topic.endswith("/stats") and m.json()["cameras"]["dead"]["reconnects"] >= 2 for m in msgs
            ),
            30,
        )
        code, _ = agent.terminate()
    finally:
        agent.close()
    assert code == 0
    assert not subscriber.on("/dead/detections")
