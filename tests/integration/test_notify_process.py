"""The systemd notify protocol spoken by the real agent process to a real AF_UNIX datagram socket:
READY, periodic WATCHDOG while every worker is alive, none once a worker stalls, STOPPING on SIGTERM."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.faults import print_figures
from tests.support.notify_socket import NotifySocket
from tests.support.subscriber import Subscriber

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

WATCHDOG_USEC = 2_000_000  # the agent pings every third of this: about every 0.67 s
STALL_S = 3.0  # worker_stall_s
SILENCE_CHECK_S = 4.0  # six ping periods without a WATCHDOG=1


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    sock = NotifySocket()
    yield sock
    sock.close()


@pytest.fixture
def silent_rtsp_port() -> Iterator[socket.socket]:
    """A TCP port that is bound but not yet listening: connections are refused until the test calls listen(),
    after which they are accepted by the kernel and never answered (an RTSP server hung in its handshake)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def test_ready_then_watchdog_then_silence_when_a_worker_stalls_then_stopping(
    tmp_path: Path,
    broker: MosquittoBroker,
    topic_prefix: str,
    notify_socket: NotifySocket,
    silent_rtsp_port: socket.socket,
) -> None:
    """The agent sends READY=1, then WATCHDOG=1 periodically; once a capture thread hangs in open() for longer
    than worker_stall_s the pings stop (STATUS names the worker) while the other camera keeps working;
    SIGTERM then gives STOPPING=1."""
    port = silent_rtsp_port.getsockname()[1]
    cameras = {
        "crossing": {"source": str(assets.video(assets.TRAFFIC)), "loop": True},
        "stuck": {
            "source": f"rtsp://127.0.0.1:{port}/cam",
            "open_timeout_s": 60.0,
            "reconnect_initial_s": 0.2,
            "reconnect_max_s": 0.5,
        },
    }
    config = base_config(tmp_path, broker, topic_prefix, cameras, worker_stall_s=STALL_S, snapshots={"enabled": False})
    env = {"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    sub = Subscriber(broker.host, broker.port, f"{topic_prefix}/dev1/crossing/detections")
    started_mono = time.monotonic()
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", config), env=env)
    try:
        assert notify_socket.wait_for("READY=1", 1, 40), agent.log
        ready_mono = notify_socket.having("READY=1")[0].ts_mono
        assert notify_socket.wait_for("WATCHDOG=1", 4, 10, after_mono=ready_mono), agent.log

        silent_rtsp_port.listen(8)  # the stuck camera's next attempt now hangs in open() for open_timeout_s
        hung_mono = time.monotonic()
        assert _wait_status(notify_socket, "stalled: capture-stuck", 15, after_mono=hung_mono), agent.log
        stalled_mono = time.monotonic()
        last_ping = max(d.ts_mono for d in notify_socket.having("WATCHDOG=1"))
        detections_before = len(sub.snapshot())
        time.sleep(SILENCE_CHECK_S)
        pings_while_stalled = notify_socket.having("WATCHDOG=1", after_mono=stalled_mono)
        detections_while_stalled = len(sub.snapshot()) - detections_before

        signalled_mono = time.monotonic()
        code, _ = agent.terminate()
        assert notify_socket.wait_for("STOPPING=1", 1, 5, after_mono=signalled_mono), agent.log
    finally:
        sub.close()
        agent.close()

    log = agent.log_path.read_text(errors="replace")
    assert code == 0, log
    assert not pings_while_stalled
    assert detections_while_stalled >= 5  # the file camera kept being analysed
    assert not notify_socket.having("WATCHDOG=1", after_mono=signalled_mono)
    assert "not pinging the systemd watchdog: stalled workers capture-stuck" in log
    pings = notify_socket.having("WATCHDOG=1")
    intervals = [b.ts_mono - a.ts_mono for a, b in itertools.pairwise(pings)]
    print_figures(
        "notify_watchdog",
        ready_after_start_s=round(ready_mono - started_mono, 2),
        watchdog_pings=len(pings),
        median_ping_interval_s=round(sorted(intervals)[len(intervals) // 2], 2),
        last_ping_after_hang_s=round(last_ping - hung_mono, 2),
        detections_while_stalled=detections_while_stalled,
    )


def _wait_status(sock: NotifySocket, text: str, timeout_s: float, after_mono: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(d.ts_mono > after_mono and f"STATUS={text}" in d.text for d in sock.snapshot()):
            return True
        time.sleep(0.05)
    return False
