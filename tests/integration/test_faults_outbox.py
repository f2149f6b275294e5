"""Fault injection on the durable outbox with the real agent process, real video and a real mosquitto:
a 30 s broker outage, kill -9 with messages pending, and an outage longer than the outbox bound."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.faults import (
    DurableSubscriber,
    dedupe,
    latest_stats,
    lifecycle_problems,
    make_persistent,
    print_figures,
    read_outbox,
    wait_outbox,
)
from tests.support.subscriber import Received, Subscriber

pytestmark = pytest.mark.integration

OUTAGE_S = 30.0  # the required broker outage
BOUND_MESSAGES = 20


def cameras() -> dict[str, Any]:
    """Two realtime looping cameras whose people make events start and end every few seconds."""
    return {
        "walk": {"source": str(assets.video(assets.PEDESTRIANS)), "loop": True},
        "crossing": {"source": str(assets.video(assets.TRAFFIC)), "loop": True},
    }


def agent_config(tmp_path: Path, broker: MosquittoBroker, prefix: str, **extra: Any) -> dict[str, Any]:
    # Snapshots are off: they are not under test and their JPEG encoding only costs CPU here.
    return base_config(tmp_path, broker, prefix, cameras(), snapshots={"enabled": False}, **extra)


def start_agent(agents: list[AgentProcess], config_path: Path) -> AgentProcess:
    agent = AgentProcess(config_path)
    agents.append(agent)
    return agent


def stats_after(messages: list[Received], since_mono: float) -> list[dict[str, Any]]:
    return [m.json() for m in messages if m.topic.endswith("/stats") and m.ts_mono > since_mono]


def drained_after_reconnect(stats: dict[str, Any]) -> bool:
    """A stats message sent after a reconnect (a persistent session may also deliver older ones late)
    that reports an empty outbox."""
    publisher = stats["publisher"]
    return bool(publisher["connected"] and publisher["connect_attempts"] >= 2 and publisher["outbox_depth"] == 0)


@pytest.mark.timeout(150)
def test_broker_outage_of_30_s_loses_and_duplicates_nothing(
    tmp_path: Path, private_broker: MosquittoBroker, topic_prefix: str, agents: list[AgentProcess]
) -> None:
    """Every durable message produced before, during and after a 30 s broker outage arrives exactly once
    after de-duplication by msg_id, each event reads start, update*, end in order, and the outbox ends empty."""
    make_persistent(private_broker)
    private_broker.start()
    sub = DurableSubscriber(private_broker, f"{topic_prefix}/#")
    state_dir = tmp_path / "state"
    try:
        agent = start_agent(
            agents, write_config(tmp_path / "agent.yaml", agent_config(tmp_path, private_broker, topic_prefix))
        )
        assert sub.wait_for(lambda ms: len(dedupe(ms).events()) >= 4, 60), agent.log

        private_broker.stop()
        stop_mono, stop_wall = time.monotonic(), time.time()
        time.sleep(OUTAGE_S)
        pending = read_outbox(state_dir)  # what the outage left undelivered
        start_wall = time.time()
        private_broker.start()
        start_mono = time.monotonic()

        assert sub.wait_for(lambda ms: set(pending.msg_ids) <= set(dedupe(ms).msg_ids), 30), agent.log
        drained_s = time.monotonic() - start_mono
        assert sub.wait_for(lambda ms: any(drained_after_reconnect(s) for s in stats_after(ms, start_mono)), 15)
        time.sleep(3.0)
        code, _ = agent.terminate()
        assert code == 0, agent.log
        final = read_outbox(state_dir)
        assert sub.wait_for(lambda ms: len(dedupe(ms).first) >= final.stored_total, 15)
        received = sub.snapshot()
    finally:
        sub.close()

    deduped = dedupe(received)
    events = deduped.events()
    assert not lifecycle_problems(events), lifecycle_problems(events)
    assert not [m for m in received if stop_mono < m.ts_mono < start_mono]  # nothing while the broker was away
    during = [e for e in events if stop_wall <= e["ts"] <= start_wall]
    assert len(pending.rows) > 0
    assert during  # events made during the outage...
    backlog_arrivals = [m.ts_mono for m in deduped.first if stop_wall <= m.json()["ts"] <= start_wall]
    assert min(backlog_arrivals) > start_mono  # ...arrived only after the restart
    after_restart = stats_after(received, start_mono)
    online_again = [m.ts_mono for m in received if m.topic.endswith("dev1/status") and m.payload == b"online"]
    reconnect_s = min(t for t in online_again if t > start_mono) - start_mono
    drained = next(s["publisher"] for s in after_restart if drained_after_reconnect(s))
    assert drained["outbox_evicted"] == 0
    assert drained["fast_dropped"] > 0  # detections are not queued while offline, and are counted
    last = latest_stats(received)
    assert last is not None
    assert last["publisher"]["outbox_evicted"] == 0
    assert last["publisher"]["published"] >= len(deduped.first)  # every durable message counted once at least
    assert final.rows == []
    assert final.evicted == 0
    assert final.stored_total == len(deduped.first)  # every durable message the agent ever stored arrived
    print_figures(
        "broker_outage_30s",
        outage_s=OUTAGE_S,
        events_produced=len({e["event_id"] for e in events}),
        durable_stored=final.stored_total,
        durable_delivered=len(deduped.first),
        duplicates=deduped.duplicates,
        event_messages_during_outage=len(during),
        outbox_depth_at_restart=len(pending.rows),
        reconnected_after_restart_s=round(reconnect_s, 2),
        backlog_drained_s=round(drained_s, 2),
        fast_dropped=drained["fast_dropped"],
        outbox_evicted=final.evicted,
    )


@pytest.mark.timeout(120)
def test_kill9_with_pending_messages_delivers_all_of_them_after_restart(
    tmp_path: Path, private_broker: MosquittoBroker, topic_prefix: str, agents: list[AgentProcess]
) -> None:
    """Messages stored while the broker was down survive kill -9 and a restarted agent delivers each of them, in order."""
    state_dir = tmp_path / "state"
    config = agent_config(tmp_path, private_broker, topic_prefix)
    first = start_agent(agents, write_config(tmp_path / "first.yaml", config))
    waited = wait_outbox(state_dir, lambda s: sum(t.endswith("/events") for _, t, _ in s.rows) >= 6, 60)
    assert sum(t.endswith("/events") for _, t, _ in waited.rows) >= 6, first.log
    first.kill()
    pending = read_outbox(state_dir)
    assert pending.evicted == 0

    private_broker.start()
    sub = Subscriber(private_broker.host, private_broker.port, f"{topic_prefix}/#")
    try:
        restarted_mono = time.monotonic()
        second = start_agent(agents, write_config(tmp_path / "second.yaml", config))
        assert sub.wait_for(lambda ms: set(pending.msg_ids) <= set(dedupe(ms).msg_ids), 60), second.log
        delivered_s = time.monotonic() - restarted_mono
        code, _ = second.terminate()
        assert code == 0, second.log
        final = read_outbox(state_dir)
        sub.wait_for(lambda ms: len(dedupe(ms).first) >= final.stored_total, 10)
        received = sub.snapshot()
    finally:
        sub.close()
    deduped = dedupe(received)
    order = [msg_id for msg_id in deduped.msg_ids if msg_id in set(pending.msg_ids)]
    assert order == pending.msg_ids  # delivered in the outbox's order
    assert final.rows == []
    assert final.stored_total == len(deduped.first)  # both runs' durable messages, each delivered
    print_figures(
        "kill9_pending",
        pending_at_kill=len(pending.rows),
        delivered=len(order),
        duplicates=deduped.duplicates,
        delivered_within_s_of_restart=round(delivered_s, 2),
    )


@pytest.mark.timeout(120)
def test_outage_longer_than_the_bound_evicts_the_oldest_and_counts_them(
    tmp_path: Path, private_broker: MosquittoBroker, topic_prefix: str, agents: list[AgentProcess]
) -> None:
    """With outbox.max_messages=20 and the broker down, the oldest rows are evicted and counted; after the
    broker returns only the newest 20 are delivered and stats report the evictions."""
    state_dir = tmp_path / "state"
    config = agent_config(tmp_path, private_broker, topic_prefix, outbox={"max_messages": BOUND_MESSAGES})
    first = start_agent(agents, write_config(tmp_path / "first.yaml", config))
    seen: dict[int, str] = {}

    def evicted_enough(state: Any) -> bool:
        seen.update({row_id: msg_id for row_id, _, msg_id in state.rows})
        return bool(state.evicted >= 15)

    assert wait_outbox(state_dir, evicted_enough, 90).evicted >= 15, first.log
    code, _ = first.terminate()
    assert code == 0, first.log
    final = read_outbox(state_dir)
    seen.update({row_id: msg_id for row_id, _, msg_id in final.rows})
    ids = [row_id for row_id, _, _ in final.rows]
    last_id = ids[-1]
    assert ids == list(range(last_id - BOUND_MESSAGES + 1, last_id + 1))  # the newest 20, nothing in between lost
    assert final.evicted == last_id - BOUND_MESSAGES  # every row ever stored is either kept or counted
    evicted_ids = {msg_id for row_id, msg_id in seen.items() if row_id < ids[0]}
    assert evicted_ids  # we saw some of the evicted rows before they went

    private_broker.start()
    sub = Subscriber(private_broker.host, private_broker.port, f"{topic_prefix}/#")
    try:
        second = start_agent(agents, write_config(tmp_path / "second.yaml", config))
        assert sub.wait_for(lambda ms: set(final.msg_ids) <= set(dedupe(ms).msg_ids), 60), second.log
        assert sub.wait_for(
            lambda ms: any(s["publisher"]["outbox_evicted"] == final.evicted for s in stats_after(ms, 0.0)), 15
        )
        code, _ = second.terminate()
        assert code == 0, second.log
        received = sub.snapshot()
    finally:
        sub.close()
    delivered = set(dedupe(received).msg_ids)
    assert not evicted_ids & delivered
    assert log_mentions_eviction(first.log)
    print_figures(
        "outbox_bound",
        max_messages=BOUND_MESSAGES,
        stored_total=last_id,
        evicted=final.evicted,
        evicted_seen_then_never_delivered=len(evicted_ids),
        kept_and_delivered=len(set(final.msg_ids) & delivered),
    )


def log_mentions_eviction(log: str) -> bool:
    return "outbox evicted" in log and "max_messages" in log
