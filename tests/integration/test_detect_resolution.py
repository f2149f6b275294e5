"""detect_resolution on real video: the capture thread hands the ring downscaled frames, and the
real agent analyses and publishes at that size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.capture.ring import FrameRing
from agent.capture.worker import CaptureWorker
from agent.config.schema import CameraConfig
from agent.types import Image
from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.schemas import validate_payload
from tests.support.subscriber import Subscriber

pytestmark = pytest.mark.integration

FRAMES_COMPARED = 30
NATIVE_SIZE = (640, 480)  # the traffic video's size


class ReferenceDecoder:
    """Decodes the same file independently, frame by frame, to compare against what capture delivered."""

    def __init__(self, path: Path) -> None:
        self._cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        self._index = 0

    def frame(self, seq: int) -> Image:
        """The decoded frame number `seq` (1-based, as ring seqs are for a file read once)."""
        assert seq > self._index, "frames are compared in increasing seq order"
        image = None
        while self._index < seq:
            ok, image = self._cap.read()
            assert ok, f"reference decode ended before frame {seq}"
            self._index += 1
        return np.asarray(image, dtype=np.uint8)

    def close(self) -> None:
        self._cap.release()


@pytest.fixture
def reference() -> Iterator[ReferenceDecoder]:
    decoder = ReferenceDecoder(assets.video(assets.TRAFFIC))
    yield decoder
    decoder.close()


@pytest.mark.parametrize(
    ("width", "expected_size", "interpolation"),
    [
        pytest.param(320, (320, 240), cv2.INTER_AREA, id="halved"),
        pytest.param(288, (288, 216), cv2.INTER_LINEAR, id="non-integer-factor"),
        pytest.param(1280, NATIVE_SIZE, None, id="never-upscaled"),
    ],
)
def test_capture_worker_delivers_frames_at_detect_resolution(
    reference: ReferenceDecoder, width: int, expected_size: tuple[int, int], interpolation: int | None
) -> None:
    """Ring frames have the detect size and equal cv2.resize of the decoded frame (or it unchanged).
    detect_fps at the file's 30 fps, so every frame reaches the ring and seq n is the file's frame n."""
    config = CameraConfig(
        source=str(assets.video(assets.TRAFFIC)),
        realtime=False,
        loop=False,
        detect_fps=30,
        detect_resolution={"width": width},
    )
    ring = FrameRing("crossing", config.ring_slots)
    worker = CaptureWorker("crossing", config, ring)
    worker.start()
    buffers: set[int] = set()
    try:
        for _ in range(FRAMES_COMPARED):
            assert ring.wait_for_frame(10.0), "no frame from the capture thread"
            frame = ring.take_latest()
            assert frame is not None
            try:
                assert (frame.width, frame.height) == expected_size
                decoded = reference.frame(frame.seq)
                expected = (
                    decoded
                    if interpolation is None
                    else cv2.resize(decoded, expected_size, interpolation=interpolation)
                )
                assert np.array_equal(frame.image, expected), f"frame {frame.seq} differs from the reference"
                buffers.add(frame.image.ctypes.data)
            finally:
                ring.release(frame)
    finally:
        worker.stop()
        assert worker.join(10.0)
    # Frames land in the ring's preallocated slots: no array is allocated per frame.
    assert len(buffers) <= config.ring_slots


def test_agent_publishes_detections_at_the_detect_resolution(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str, subscriber: Subscriber
) -> None:
    """With detect_resolution width 320 the agent reports 320x240 frames, and every box lies inside them."""
    camera = {
        "source": str(assets.video(assets.TRAFFIC)),
        "realtime": False,
        "loop": True,
        "detect_fps": 100,
        "detect_resolution": {"width": 320},
    }
    config = base_config(tmp_path, broker, topic_prefix, {"crossing": camera})
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", config))

    def boxes_seen() -> int:
        return sum(len(m.json()["detections"]) for m in subscriber.on("/crossing/detections"))

    try:
        assert subscriber.wait_for(lambda msgs: boxes_seen() >= 20 or agent.proc.poll() is not None, 120), agent.log
        assert agent.proc.poll() is None, agent.log
        code, _ = agent.terminate()
    finally:
        agent.close()
    assert code == 0, agent.log
    assert "analysing frames at 320x240 (downscaled from 640x480)" in agent.log
    frames = [validate_payload("detections", m.payload) for m in subscriber.on("/crossing/detections")]
    for frame in frames:
        assert (frame["width"], frame["height"]) == (320, 240)
        for det in frame["detections"]:
            x1, y1, x2, y2 = det["box"]
            assert 0 <= x1 < x2 <= 320
            assert 0 <= y1 < y2 <= 240
