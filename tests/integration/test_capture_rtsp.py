"""CaptureWorker against a real RTSP server: frames flow, outages go offline and recover."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from agent.capture.ring import FrameRing
from agent.capture.source import OpenCVSource
from agent.capture.worker import CaptureWorker
from agent.config.schema import CameraConfig
from agent.errors import SourceError
from tests.support import assets
from tests.support.rtsp import RtspServer, require_rtsp

pytestmark = pytest.mark.integration


def wait_until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def rtsp_server(tmp_path: Path) -> Iterator[RtspServer]:
    """A real RTSP server looping the pedestrians video at 320x240, 10 fps."""
    require_rtsp()
    server = RtspServer(workdir=tmp_path, file=assets.video(assets.PEDESTRIANS))
    server.start()
    yield server
    server.stop()


def rtsp_config(url: str) -> CameraConfig:
    return CameraConfig(
        source=url,
        open_timeout_s=5.0,
        read_timeout_s=1.0,
        reconnect_initial_s=0.2,
        reconnect_max_s=0.5,
    )


class StatusLog:
    def __init__(self) -> None:
        self.calls: list[bool] = []
        self._lock = threading.Lock()

    def __call__(self, camera: str, online: bool) -> None:
        with self._lock:
            self.calls.append(online)

    def snapshot(self) -> list[bool]:
        with self._lock:
            return list(self.calls)


def test_opencv_source_reads_real_rtsp_frames(rtsp_server: RtspServer) -> None:
    """OpenCVSource opens the stream, reports its size and decodes real (non-blank) pictures into the buffer."""
    source = OpenCVSource("cam", rtsp_config(rtsp_server.url))
    source.open()
    try:
        assert source.frame_shape == (240, 320, 3)
        assert not source.is_file
        buf = np.empty((240, 320, 3), dtype=np.uint8)
        image = source.read_into(buf)
        assert image is buf
        assert 40.0 < float(image.mean()) < 220.0
    finally:
        source.close()


def test_unreachable_rtsp_server_raises_source_error(tmp_path: Path) -> None:
    """Opening an RTSP URL where nothing listens fails with a SourceError that hides credentials."""
    server = RtspServer(workdir=tmp_path)  # never started: its port is free
    config = rtsp_config(f"rtsp://user:secret@127.0.0.1:{server.port}/cam")
    with pytest.raises(SourceError, match="cannot open") as raised:
        OpenCVSource("cam", config).open()
    assert "secret" not in str(raised.value)


def test_outage_goes_offline_then_frames_resume_after_restart(rtsp_server: RtspServer) -> None:
    """Server stopped: the worker goes offline and counts reconnects; restarted: new frames with higher seqs."""
    status = StatusLog()
    ring = FrameRing("door", 4)
    worker = CaptureWorker("door", rtsp_config(rtsp_server.url), ring, status_listener=status)
    worker.start()
    try:
        assert wait_until(lambda: worker.stats().frames >= 10)
        frame = ring.take_latest()
        assert frame is not None
        assert frame.image.shape == (240, 320, 3)
        assert 40.0 < float(frame.image.mean()) < 220.0
        seq_before = frame.seq
        ring.release(frame)

        rtsp_server.stop()
        assert wait_until(lambda: not worker.stats().online)
        assert wait_until(lambda: worker.stats().reconnects >= 3)
        assert worker.stats().offline_s > 0

        rtsp_server.start()
        assert wait_until(lambda: worker.stats().online, 60.0)
        assert wait_until(lambda: ring.latest_seq > seq_before + 10)
        resumed = ring.take_latest(after_seq=seq_before)
        assert resumed is not None
        assert resumed.seq > seq_before
        ring.release(resumed)
        assert status.snapshot()[:3] == [True, False, True]
    finally:
        worker.stop()
        assert worker.join(10.0)


def test_hung_stream_times_out_and_stop_is_bounded(rtsp_server: RtspServer) -> None:
    """A frozen server process (SIGSTOP) makes reads time out, so the worker goes offline and stops promptly."""
    worker = CaptureWorker("hang", rtsp_config(rtsp_server.url), FrameRing("hang", 3))
    worker.start()
    try:
        assert wait_until(lambda: worker.stats().frames >= 5)
        rtsp_server.pause()
        assert wait_until(lambda: not worker.stats().online, 20.0)
        worker.stop()
        assert worker.join(10.0)
    finally:
        rtsp_server.resume()
        worker.stop()
        worker.join(10.0)
