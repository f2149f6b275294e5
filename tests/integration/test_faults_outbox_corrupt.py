"""A killed agent's outbox damaged four ways (issue 12, defect 3), with the real agent, video and mosquitto.

One agent fills its outbox while the broker is down and is killed; each case damages a copy of its
state and starts a second agent on the copy. Each must log an ERROR, publish a `storage` anomaly
saying how many messages were lost, keep the eviction total, and deliver new events."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from agent.publish.outbox import FILE_NAME
from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.faults import print_figures, read_outbox, wait_outbox
from tests.support.outbox_damage import DAMAGES
from tests.support.subscriber import Received, Subscriber

pytestmark = pytest.mark.integration


def config(tmp_path: Path, broker: MosquittoBroker, prefix: str, state_dir: Path) -> dict[str, Any]:
    cams = {"walk": {"source": str(assets.video(assets.PEDESTRIANS)), "loop": True}}
    return base_config(tmp_path, broker, prefix, cams, snapshots={"enabled": False}, state_dir=str(state_dir))


def storage_anomalies(messages: list[Received]) -> list[dict[str, Any]]:
    found = [m.json() for m in messages if m.topic.endswith("/anomalies")]
    return [a for a in found if a["kind"] == "storage"]


def new_events(messages: list[Received], since_wall: float) -> list[dict[str, Any]]:
    return [m.json() for m in messages if m.topic.endswith("/events") and m.json()["ts"] >= since_wall]


@pytest.mark.timeout(300)
def test_damaged_outbox_is_reported_and_replaced(
    tmp_path: Path, private_broker: MosquittoBroker, topic_prefix: str, agents: list[AgentProcess]
) -> None:
    """For each damage: the agent starts, logs an ERROR and a `storage` anomaly with the lost count, and
    new events arrive; a file that fails the integrity check is kept as outbox.sqlite3.corrupt-*."""
    live = tmp_path / "state"
    first = AgentProcess(write_config(tmp_path / "first.yaml", config(tmp_path, private_broker, topic_prefix, live)))
    agents.append(first)
    waited = wait_outbox(live, lambda s: sum(t.endswith("/events") for _, t, _ in s.rows) >= 6, 90)
    assert sum(t.endswith("/events") for _, t, _ in waited.rows) >= 6, first.log
    time.sleep(1.5)  # at least one ledger write after these rows (the ledger is written at most once a second)
    first.kill()
    pending = len(read_outbox(live).rows)
    private_broker.start()
    figures: dict[str, Any] = {"pending_at_kill": pending}
    for name, damage in DAMAGES.items():
        state = tmp_path / name
        shutil.copytree(live, state)
        damage(state)
        prefix = f"{topic_prefix}-{name}"
        sub = Subscriber(private_broker.host, private_broker.port, f"{prefix}/#")
        try:
            started_wall = time.time()
            agent = AgentProcess(
                write_config(tmp_path / f"{name}.yaml", config(tmp_path, private_broker, prefix, state))
            )
            agents.append(agent)

            def reported(ms: list[Received], since: float = started_wall) -> bool:
                return bool(storage_anomalies(ms) and new_events(ms, since))

            assert sub.wait_for(reported, 60), agent.log
            code, _ = agent.terminate()
            assert code == 0, agent.log
            anomaly = storage_anomalies(sub.snapshot())[0]
        finally:
            sub.close()
        lost = anomaly["details"]["lost"]
        assert 0 < lost <= pending, (name, anomaly)
        assert anomaly["camera"] == "_device"
        assert "ERROR" in agent.log
        assert f"{int(lost)} undelivered message(s) lost" in agent.log
        moved = list(state.glob(f"{FILE_NAME}.corrupt-*"))
        assert bool(moved) == (name == "random-page"), (name, moved)
        assert read_outbox(state).evicted >= lost  # the loss stays counted in the new file
        figures[f"{name}_lost_reported"] = lost
    print_figures("outbox_corrupt", **figures)
