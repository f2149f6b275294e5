"""model.interpreters: two detector threads, each with its own real interpreter, share two real
video cameras; every frame is analysed once, in order per camera, and detections are published."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from agent.config.loader import load_config
from agent.daemon import lifecycle
from agent.daemon.notify import SystemdNotifier
from agent.daemon.root import build_agent
from tests.support import assets
from tests.support.agent_process import base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.schemas import validate_payload
from tests.support.subscriber import Subscriber

pytestmark = pytest.mark.integration

FRAMES_PER_CAMERA = 120


def short_clip(source: Path, dest: Path, frames: int) -> Path:
    """The first `frames` frames of a shared video, so the batch run stays short."""
    cap = cv2.VideoCapture(str(source))
    writer = None
    for _ in range(frames):
        ok, image = cap.read()
        assert ok, f"cannot read {source}"
        if writer is None:
            h, w = image.shape[:2]
            writer = cv2.VideoWriter(str(dest), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (w, h))
        writer.write(image)
    cap.release()
    assert writer is not None
    writer.release()
    return dest


def test_two_interpreters_share_the_cameras(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str, subscriber: Subscriber
) -> None:
    """Both detector threads serve frames, no frame is lost or analysed twice, and seqs stay in order."""
    clips = {
        "walkway": short_clip(assets.video(assets.PEDESTRIANS), tmp_path / "walkway.avi", FRAMES_PER_CAMERA),
        "crossing": short_clip(assets.video(assets.TRAFFIC), tmp_path / "crossing.avi", FRAMES_PER_CAMERA),
    }
    cameras = {
        name: {"source": str(clip), "realtime": False, "detect_fps": 1000, "motion": {"enabled": False}}
        for name, clip in clips.items()
    }
    doc = base_config(tmp_path, broker, topic_prefix, cameras)
    doc["model"].update({"interpreters": 2, "threads": 1})
    path = write_config(tmp_path / "agent.yaml", doc)
    agent = build_agent(load_config(path), path, SystemdNotifier())
    assert lifecycle.run(agent) == 0
    served = [worker.served for worker in agent.pipeline.detector_workers]
    assert len(served) == 2
    assert all(n > 0 for n in served), served
    assert sum(served) == 2 * FRAMES_PER_CAMERA
    for unit in agent.cameras.units().values():
        ring = unit.ring.counters()
        assert (ring.committed, ring.dropped, ring.consumed) == (FRAMES_PER_CAMERA, 0, FRAMES_PER_CAMERA)
        assert unit.ring.held_count == 0
    assert subscriber.wait_for(
        lambda msgs: any(m.topic.endswith("/status") and m.payload == b"offline" for m in msgs), 10
    )
    for name in clips:
        frames = [validate_payload("detections", m.payload) for m in subscriber.on(f"/{name}/detections")]
        seqs = [f["seq"] for f in frames]
        assert len(seqs) >= FRAMES_PER_CAMERA // 2, name
        assert seqs == sorted(seqs), name
        assert len(set(seqs)) == len(seqs), name
