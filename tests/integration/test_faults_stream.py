"""Stream faults with the real agent process: the RTSP server of one camera stops and comes back
while a second (file) camera keeps being analysed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.faults import latest_stats, print_figures
from tests.support.rtsp import RtspServer, require_rtsp
from tests.support.subscriber import Received, Subscriber

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

OUTAGE_S = 8.0
MAX_FILE_CAMERA_GAP_S = 3.0  # the file camera detects 5 times a second; a stall would show as a long gap


@pytest.fixture
def rtsp_server(tmp_path: Path) -> Iterator[RtspServer]:
    require_rtsp()
    server = RtspServer(workdir=tmp_path, file=assets.video(assets.PEDESTRIANS), fps=10)
    server.start()
    yield server
    server.stop()


def statuses(messages: list[Received], camera: str) -> list[tuple[float, bytes]]:
    return [(m.ts_mono, m.payload) for m in messages if m.topic.endswith(f"/{camera}/status")]


def has_status(camera: str, payload: bytes, after_mono: float) -> Callable[[list[Received]], bool]:
    return lambda ms: any(t > after_mono and p == payload for t, p in statuses(ms, camera))


def test_rtsp_server_restart_marks_the_camera_offline_then_online_and_other_cameras_keep_detecting(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str, rtsp_server: RtspServer
) -> None:
    """Stopping the RTSP server turns the camera's retained status offline, restarting it turns it online
    again, and the file camera's detections never pause for more than a few seconds meanwhile."""
    cameras = {
        "gate": {
            "source": rtsp_server.url,
            "open_timeout_s": 5.0,
            "read_timeout_s": 2.0,
            "reconnect_initial_s": 0.5,
            "reconnect_max_s": 2.0,
        },
        "crossing": {"source": str(assets.video(assets.TRAFFIC)), "loop": True},
    }
    config = base_config(tmp_path, broker, topic_prefix, cameras, snapshots={"enabled": False})
    sub = Subscriber(broker.host, broker.port, f"{topic_prefix}/#")
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", config))
    try:
        assert sub.wait_for(has_status("gate", b"online", 0.0), 60), agent.log
        assert sub.wait_for(lambda ms: len(sub.on("/gate/detections")) >= 10, 30), agent.log

        stopped = time.monotonic()
        rtsp_server.stop()
        assert sub.wait_for(has_status("gate", b"offline", stopped), 20), agent.log
        offline_s = time.monotonic() - stopped
        time.sleep(max(0.0, OUTAGE_S - offline_s))
        rtsp_server.start()
        restarted = time.monotonic()
        assert sub.wait_for(has_status("gate", b"online", restarted), 30), agent.log
        online_s = time.monotonic() - restarted
        assert sub.wait_for(lambda ms: any(m.ts_mono > restarted for m in sub.on("/gate/detections")), 15)
        assert sub.wait_for(
            lambda ms: (s := latest_stats(ms)) is not None and s["cameras"]["gate"]["reconnects"] >= 1, 5
        )
        code, _ = agent.terminate()
        assert code == 0, agent.log
        received = sub.snapshot()
    finally:
        sub.close()
        agent.close()

    window = [m.ts_mono for m in received if m.topic.endswith("/crossing/detections") and m.ts_mono >= stopped]
    window = [t for t in window if t <= restarted + online_s]
    gaps = [b - a for a, b in zip([stopped, *window], [*window, restarted + online_s], strict=True)]
    assert len(window) >= 10
    assert max(gaps) < MAX_FILE_CAMERA_GAP_S
    transitions = [p for t, p in statuses(received, "gate") if t > stopped]
    assert transitions[:1] == [b"offline"]
    assert transitions[-1] == b"offline"  # a clean stop marks the camera offline
    assert b"online" in transitions
    print_figures(
        "rtsp_restart",
        outage_s=round(restarted - stopped, 1),
        offline_reported_after_s=round(offline_s, 2),
        online_after_restart_s=round(online_s, 2),
        file_camera_detections_during_outage=len(window),
        file_camera_max_gap_s=round(max(gaps), 2),
    )
