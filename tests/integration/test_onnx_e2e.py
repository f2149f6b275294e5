"""The real agent process on ONNX Runtime: the catalogue's YOLOX-nano and a YOLOv8-style ONNX model
(made at test time from it, tests/support/onnx_models.py) each detect the people on the real walkway
video and publish them to a real broker, with no setting other than model.path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import assets, onnx_models
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.detections import assert_inside_frame
from tests.support.schemas import validate_payload
from tests.support.subscriber import Subscriber

pytestmark = pytest.mark.integration

PEDESTRIANS_SIZE = (768, 576)
FRAMES_WANTED = 12
START_TIMEOUT_S = 90.0  # loading the model and ORT's first runs, on a loaded 2-core machine


def model_path(name: str, tmp_path: Path) -> str:
    if name == "yolox_nano_416":
        return name  # the catalogue entry, found in model_dir (the shared assets)
    return str(onnx_models.yolov8_style(tmp_path / "yolov8_style_416.onnx"))


@pytest.mark.parametrize("model", ["yolox_nano_416", "yolov8_style"])
def test_onnx_model_publishes_people_on_the_walkway(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str, subscriber: Subscriber, model: str
) -> None:
    """On the walkway clip each ONNX model publishes schema-valid detections with 3 or more people per frame,
    boxes inside the frame, stats naming onnxruntime, and the agent stops cleanly on SIGTERM."""
    video = assets.video(assets.PEDESTRIANS)
    camera = {"walkway": {"source": str(video), "loop": True, "detect_fps": 5, "motion": {"enabled": False}}}
    config = base_config(tmp_path, broker, topic_prefix, camera)
    labels = str(assets.model(assets.COCO80_LABELS))
    config["model"] = {"path": model_path(model, tmp_path), "labels": labels, "min_score": 0.5, "threads": 1}
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", config))
    try:
        subscriber.wait_for(
            lambda msgs: (
                agent.proc.poll() is not None
                or len([m for m in msgs if m.topic.endswith("/walkway/detections")]) >= FRAMES_WANTED
            ),
            START_TIMEOUT_S,
        )
        assert len(subscriber.on("/walkway/detections")) >= FRAMES_WANTED, agent.log
        assert subscriber.wait_for(lambda msgs: any(m.topic.endswith("/dev1/stats") for m in msgs), 30), agent.log
        code, _ = agent.terminate()
    finally:
        agent.close()
    assert code == 0, agent.log
    frames = [validate_payload("detections", m.payload) for m in subscriber.on("/walkway/detections")]
    people = [sum(d["label"] == "person" for d in f["detections"]) for f in frames]
    assert sum(people) >= 3 * len(frames), people  # 3 to 8 people walk in this clip (both models: 3-8)
    assert_inside_frame(frames, PEDESTRIANS_SIZE, 0.5)
    stats = [validate_payload("stats", m.payload) for m in subscriber.on(f"{topic_prefix}/dev1/stats")]
    assert stats[-1]["runtime"] == "onnxruntime"
