"""Shared fixtures: a real mosquitto per session, a unique topic prefix per test, a subscriber to it, and
the agent processes a test starts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agent_process import AgentProcess
from tests.support.broker import MosquittoBroker
from tests.support.subscriber import Subscriber


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """One anonymous mosquitto for the whole session. Tests must not stop it."""
    server = MosquittoBroker(workdir=tmp_path_factory.mktemp("mosquitto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A mosquitto of this test's own, which the test may stop and restart."""
    server = MosquittoBroker(workdir=tmp_path / "broker")
    server.workdir.mkdir()
    yield server
    server.stop()


@pytest.fixture
def topic_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def subscriber(broker: MosquittoBroker, topic_prefix: str) -> Iterator[Subscriber]:
    """Records everything published under this test's topic prefix on the session broker."""
    sub = Subscriber(broker.host, broker.port, f"{topic_prefix}/#")
    yield sub
    sub.close()


@pytest.fixture
def agents() -> Iterator[list[AgentProcess]]:
    """Agent processes a test starts (it appends them); any still running at the end are closed."""
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        agent.close()
