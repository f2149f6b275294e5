"""Helpers for the fault-injection tests: a persistent-session subscriber, a persistent broker,
a read-only view of the agent's SQLite outbox, event-lifecycle checks, a corrupted file copy
and process CPU time.

Each fault test prints one `FAULT-FIGURES {json}` line with what it measured, so that
tools/fault_report.py (and `pytest -s`) can show the figures quoted in docs/reliability.md."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.broker import MosquittoBroker
from tests.support.subscriber import Received

FIGURES_TAG = "FAULT-FIGURES"
DURABLE_SUFFIXES = ("/events", "/anomalies", "/crossing")
OUTBOX_FILE = "outbox.sqlite3"


def print_figures(scenario: str, **figures: Any) -> None:
    """One machine-readable line of measured figures (shown with `pytest -s`, parsed by tools/fault_report.py)."""
    print(f"\n{FIGURES_TAG} {json.dumps({'scenario': scenario, **figures}, sort_keys=True)}", flush=True)


def make_persistent(broker: MosquittoBroker) -> None:
    """Let `broker` keep sessions and queued QoS 1 messages across a stop/start (saved to its workdir)."""
    broker.extra_config = "\n".join(
        [
            broker.extra_config,
            "user root",  # when started as root, stay root so the temp workdir is writable
            "persistence true",  # overrides the helper's `persistence false` (the last setting wins)
            f"persistence_location {broker.workdir}/",
            "max_queued_messages 0",  # no cap on what is queued for an offline persistent subscriber
        ]
    )


class DurableSubscriber:
    """A paho subscriber with a persistent session (clean_session=False, QoS 1): messages published
    while it is disconnected wait for it at the broker, so nothing is lost to a reconnect race."""

    def __init__(self, broker: MosquittoBroker, topic: str) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"durable-{uuid.uuid4().hex[:12]}", clean_session=False
        )
        self._client.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]  # floats work; paho annotates int
        self._client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError(f"could not subscribe to {topic}")

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos, time.monotonic()))

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate(self.snapshot()):
                return True
            time.sleep(0.1)
        return predicate(self.snapshot())

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def is_durable(message: Received) -> bool:
    return message.topic.endswith(DURABLE_SUFFIXES) and not message.retain


@dataclass
class Deduped:
    """Durable messages in order of first arrival, one per msg_id, and how many copies were extra."""

    first: list[Received] = field(default_factory=list)
    duplicates: int = 0

    @property
    def msg_ids(self) -> list[str]:
        return [str(m.json()["msg_id"]) for m in self.first]

    def events(self) -> list[dict[str, Any]]:
        return [m.json() for m in self.first if m.topic.endswith("/events")]


def dedupe(messages: Iterable[Received]) -> Deduped:
    out = Deduped()
    seen: set[str] = set()
    for message in messages:
        if not is_durable(message):
            continue
        msg_id = str(message.json()["msg_id"])
        if msg_id in seen:
            out.duplicates += 1
            continue
        seen.add(msg_id)
        out.first.append(message)
    return out


def lifecycle_problems(events: list[dict[str, Any]]) -> list[str]:
    """Every event_id must read start, update*, end, exactly once each; `ts` never goes back per camera."""
    problems: list[str] = []
    kinds: dict[str, list[str]] = defaultdict(list)
    last_ts: dict[str, float] = {}
    for event in events:
        kinds[event["event_id"]].append(event["type"])
        camera = event["camera"]
        if event["ts"] < last_ts.get(camera, float("-inf")):
            problems.append(f"camera {camera}: event {event['event_id']} {event['type']} at {event['ts']} out of order")
        last_ts[camera] = max(last_ts.get(camera, event["ts"]), event["ts"])
    for event_id, sequence in kinds.items():
        middle = sequence[1:-1]
        if len(sequence) < 2 or sequence[0] != "start" or sequence[-1] != "end" or set(middle) - {"update"}:
            problems.append(f"event {event_id}: {sequence}")
    return problems


@dataclass(frozen=True)
class OutboxState:
    """What the agent's outbox file holds: (row id, topic, msg_id) oldest first, the eviction counter, and
    how many rows were ever stored (the AUTOINCREMENT high-water mark: a ledger of every durable message)."""

    rows: list[tuple[int, str, str]]
    evicted: int
    stored_total: int = 0

    @property
    def msg_ids(self) -> list[str]:
        return [msg_id for _, _, msg_id in self.rows]


def read_outbox(state_dir: Path) -> OutboxState:
    """Open <state_dir>/outbox.sqlite3 read-only (the agent may be running) and read it."""
    path = state_dir / OUTBOX_FILE
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    try:
        rows = db.execute("SELECT id, topic, payload FROM outbox ORDER BY id").fetchall()
        evicted = int(db.execute("SELECT value FROM meta WHERE key = 'evicted'").fetchone()[0])
        sequence = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    finally:
        db.close()
    stored = int(sequence[0]) if sequence is not None else 0
    return OutboxState([(int(i), str(t), str(json.loads(p)["msg_id"])) for i, t, p in rows], evicted, stored)


def wait_outbox(state_dir: Path, predicate: Callable[[OutboxState], bool], timeout_s: float) -> OutboxState:
    """Poll the outbox file until `predicate` holds; returns the last state read (check it)."""
    deadline = time.monotonic() + timeout_s
    state = OutboxState([], 0)
    while time.monotonic() < deadline:
        if (state_dir / OUTBOX_FILE).exists():
            try:
                state = read_outbox(state_dir)
            except sqlite3.OperationalError:  # the schema is created just after the file
                state = OutboxState([], 0)
            if predicate(state):
                return state
        time.sleep(0.2)
    return state


def corrupt_copy(source: Path, dest: Path) -> Path:
    """A copy of `source` with 4 KiB in the middle (a model's weights) overwritten by zeroes; same size."""
    shutil.copyfile(source, dest)
    with dest.open("r+b") as handle:
        handle.seek(dest.stat().st_size // 2)
        handle.write(bytes(4096))
    return dest


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def latest_stats(messages: Iterable[Received]) -> dict[str, Any] | None:
    stats = [m for m in messages if m.topic.endswith("/stats")]
    return stats[-1].json() if stats else None
