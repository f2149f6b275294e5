"""The real agent process against a mosquitto with a password file and a TLS listener (CA and server
certificate made in the test): it connects with TLS, a password and hostname verification, and a
wrong password gives one clear line per backoff step without crashing or spinning."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.faults import cpu_seconds, print_figures
from tests.support.secure_broker import SecureBroker, start_secure_broker
from tests.support.subscriber import Subscriber

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

USER = "edge"
PASSWORD = "s3cret-Pa55"
WRONG_PASSWORD = "not-the-password"
WATCH_S = 10.0  # how long the wrong-password agent is watched
REJECTED = re.compile(r"broker rejected credentials for user edge \(reason [^)]+\); retrying in \d+\.\d s")


@pytest.fixture
def secure_broker(private_broker: MosquittoBroker, tmp_path: Path) -> SecureBroker:
    """mosquitto without anonymous access: a password file on both listeners, the second one TLS-only."""
    return start_secure_broker(private_broker, tmp_path, USER, PASSWORD, require_certificate=False)


@pytest.fixture
def running() -> Iterator[list[AgentProcess]]:
    agents: list[AgentProcess] = []
    yield agents
    for agent in agents:
        agent.close()


def tls_config(tmp_path: Path, secure: SecureBroker, prefix: str, password: str, cameras: dict[str, Any]) -> Path:
    """An agent config reaching the TLS listener as `localhost` with the test CA and a password file."""
    secret = tmp_path / "mqtt-password"
    secret.write_text(password + "\n")
    config = base_config(tmp_path, secure.broker, prefix, cameras, snapshots={"enabled": False})
    config["mqtt"].update(
        host="localhost",
        port=secure.tls_port,
        username=USER,
        password_file=str(secret),
        tls={"enabled": True, "ca_file": str(secure.pki.ca_cert), "verify_hostname": True},
    )
    return write_config(tmp_path / "agent.yaml", config)


def test_agent_connects_over_tls_with_password_and_hostname_verification(
    tmp_path: Path, secure_broker: SecureBroker, topic_prefix: str, running: list[AgentProcess]
) -> None:
    """With the right password over TLS (hostname verified) the agent announces itself and publishes detections."""
    cameras = {"walk": {"source": str(assets.video(assets.PEDESTRIANS)), "loop": True}}
    sub = Subscriber("127.0.0.1", secure_broker.broker.port, f"{topic_prefix}/#", username=USER, password=PASSWORD)
    try:
        started = time.monotonic()
        agent = AgentProcess(tls_config(tmp_path, secure_broker, topic_prefix, PASSWORD, cameras))
        running.append(agent)
        assert sub.wait_for(lambda ms: any(m.payload == b"online" for m in ms), 30), agent.log
        connected_s = time.monotonic() - started
        assert sub.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/walk/detections")]) >= 3, 30)
        code, _ = agent.terminate()
        assert code == 0, agent.log
    finally:
        sub.close()
    assert f"connected to MQTT broker localhost:{secure_broker.tls_port} as edge" in agent.log
    assert PASSWORD not in agent.log
    print_figures("tls_password_ok", online_after_start_s=round(connected_s, 2))


def test_wrong_password_logs_clear_lines_with_backoff_and_neither_crashes_nor_spins(
    tmp_path: Path, secure_broker: SecureBroker, topic_prefix: str, running: list[AgentProcess]
) -> None:
    """A rejected password gives one clear error line per backoff step; the process stays up and its CPU time
    stays far below the wall time it was watched for."""
    # A camera that refuses connections keeps the pipeline idle, so the CPU measured is the reconnect loop's.
    cameras = {"dead": {"source": "rtsp://127.0.0.1:9/none"}}
    agent = AgentProcess(tls_config(tmp_path, secure_broker, topic_prefix, WRONG_PASSWORD, cameras))
    running.append(agent)
    deadline = time.monotonic() + 30
    while not REJECTED.search(agent.log) and time.monotonic() < deadline and agent.proc.poll() is None:
        time.sleep(0.2)
    assert REJECTED.search(agent.log), agent.log
    lines_before = len(REJECTED.findall(agent.log))
    cpu_before, wall_before = cpu_seconds(agent.proc.pid), time.monotonic()
    time.sleep(WATCH_S)
    cpu_used = cpu_seconds(agent.proc.pid) - cpu_before
    wall = time.monotonic() - wall_before
    lines = len(REJECTED.findall(agent.log)) - lines_before
    assert agent.proc.poll() is None, agent.log  # still running
    assert 3 <= lines <= 25, agent.log  # backoff between 0.5 and 1 s here: a spin would log hundreds
    assert cpu_used < 0.2 * wall  # a spinning reconnect loop would burn a whole core
    assert WRONG_PASSWORD not in agent.log
    code, _ = agent.terminate()
    assert code == 0, agent.log
    print_figures(
        "wrong_password",
        watched_s=round(wall, 1),
        rejected_lines=lines,
        cpu_s=round(cpu_used, 3),
        cpu_fraction=round(cpu_used / wall, 4),
    )
