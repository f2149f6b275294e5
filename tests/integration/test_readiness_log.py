"""The agent's readiness lines: `ready:` states the cameras it waited for, and each later change of
the number of cameras online is logged with the true count (a real RTSP server stopped and restarted)."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.rtsp import RtspServer, require_rtsp

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

COUNT_LINE = re.compile(r"agent\.daemon\.watchdog: (ready:|now) (\d+)/(\d+) cameras online")


@pytest.fixture
def rtsp_server(tmp_path: Path) -> Iterator[RtspServer]:
    require_rtsp()
    server = RtspServer(workdir=tmp_path, pattern="ball")
    server.start()
    yield server
    server.stop()


def told(log: str) -> list[tuple[str, int, int]]:
    """Every readiness line: ("ready:" or "now", cameras online, cameras running)."""
    return [(m.group(1), int(m.group(2)), int(m.group(3))) for m in COUNT_LINE.finditer(log)]


def wait_for_log(agent: AgentProcess, predicate: Callable[[str], bool], timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate(agent.log):
            return True
        time.sleep(0.1)
    return predicate(agent.log)


def test_readiness_is_logged_with_the_true_count_when_it_changes(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str, rtsp_server: RtspServer
) -> None:
    """`ready:` states the count once both cameras deliver (2/2); the RTSP camera's outage then logs
    `now 1/2` and its return `now 2/2`: one line per change of the count, never a repeat."""
    cameras = {
        "walk": {"source": str(assets.video(assets.PEDESTRIANS)), "loop": True},
        "door": {"source": rtsp_server.url, "read_timeout_s": 1.0, "reconnect_initial_s": 0.2, "reconnect_max_s": 0.5},
    }
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", base_config(tmp_path, broker, topic_prefix, cameras)))
    try:
        assert wait_for_log(agent, lambda log: [t[1:] for t in told(log)[-1:]] == [(2, 2)]), agent.log
        rtsp_server.stop()
        assert wait_for_log(agent, lambda log: told(log)[-1:] == [("now", 1, 2)]), agent.log
        rtsp_server.start()
        assert wait_for_log(agent, lambda log: told(log)[-1:] == [("now", 2, 2)]), agent.log
        code, _ = agent.terminate()
    finally:
        agent.close()
    assert code == 0, agent.log
    lines = told(agent.log)
    assert lines[0][0] == "ready:", agent.log  # 2/2 unless the RTSP camera took longer than the ready wait
    assert all(later[0] == "now" for later in lines[1:]), agent.log
    assert all(a[1:] != b[1:] for a, b in itertools.pairwise(lines)), lines  # only changes are told
