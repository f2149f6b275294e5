"""The agent's log on a machine whose cameras refuse connections: only the agent's own formatted
lines, naming each camera and the cause, and none of OpenCV's or FFmpeg's raw console messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker, free_port
from tests.support.subscriber import Subscriber

pytestmark = pytest.mark.integration

RAW_LINES = re.compile(r"^\[(tcp|rtsp|http|h264|hevc) @ 0x|^\[ ?(WARN|ERROR|INFO):", re.MULTILINE)
TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def failure_line(camera: str, kind: str, url: str, port: int) -> re.Pattern[str]:
    reason = re.escape(f"cannot open {kind} source {url} (127.0.0.1:{port}: Connection refused)")
    return re.compile(
        rf"^{TIMESTAMP} WARNING \[capture-{camera}\] agent\.capture\.worker: camera {camera}: {reason}; "
        r"reconnecting with backoff$",
        re.MULTILINE,
    )


def test_refused_cameras_log_the_agents_lines_and_no_native_ones(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str, subscriber: Subscriber
) -> None:
    """RTSP and HTTP cameras on a refusing port retry several times; the log has the agent's warning
    with camera, URL and cause, and no `[tcp @ 0x...]` or `[ WARN:...]` lines from FFmpeg or OpenCV."""
    port = free_port()
    urls = {"gate": ("rtsp", f"rtsp://127.0.0.1:{port}/cam"), "yard": ("http", f"http://127.0.0.1:{port}/video.mjpg")}
    retry = {"reconnect_initial_s": 0.2, "reconnect_max_s": 0.4}
    cameras = {name: {"source": url, **retry} for name, (_, url) in urls.items()}
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", base_config(tmp_path, broker, topic_prefix, cameras)))
    try:
        retried = subscriber.wait_for(
            lambda msgs: any(
                m.topic.endswith("/stats") and min(c["reconnects"] for c in m.json()["cameras"].values()) >= 3
                for m in msgs
            ),
            60,
        )
        assert retried, agent.log
        code, _ = agent.terminate()
    finally:
        agent.close()
    assert code == 0, agent.log
    log = agent.log
    assert RAW_LINES.findall(log) == [], log
    for camera, (kind, url) in urls.items():
        assert failure_line(camera, kind, url, port).search(log), log
