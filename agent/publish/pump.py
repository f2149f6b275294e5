"""Moves durable messages: handoff queue -> SQLite outbox -> paho (a bounded window) -> deleted on PUBACK.

`run()` is the body of the publisher's outbox thread and the only code touching the
Outbox. `offer`, `ack`, `on_connected` and `request_stop` are called from other threads
(pipeline, paho's network thread, supervisor) and only touch thread-safe hand-over objects."""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from agent.config.schema import OutboxConfig
from agent.errors import PublishError
from agent.publish.messages import OutboundMessage
from agent.publish.outbox import Outbox
from agent.publish.outbox_ledger import Recovery
from agent.storage.health import StorageHealth, is_corruption, is_out_of_space

log = logging.getLogger(__name__)

PublishFn = Callable[[str, bytes, int, bool], mqtt.MQTTMessageInfo]

TICK_S = 0.5  # wake-up when nothing signals the thread
AGE_CHECK_INTERVAL_S = 30.0
ERROR_LOG_INTERVAL_S = 60.0
STORE_RETRY_S = 5.0


@dataclass(frozen=True, slots=True)
class PumpView:
    """What the stats report about durable delivery."""

    depth: int = 0
    oldest_created_wall: float | None = None
    evicted: int = 0
    published: int = 0
    failures: int = 0
    unstored: int = 0
    held: int = 0
    memory_only: bool = False
    recovery: Recovery | None = None  # the last loss the outbox found (at open or at run time)


@dataclass(slots=True)
class _Window:
    """Rows handed to paho and not yet acknowledged (outbox thread only)."""

    inflight: dict[int, int] = field(default_factory=dict)  # paho mid -> outbox row id
    sent_upto_id: int = 0
    generation: int = 0


class OutboxPump:
    """Durable delivery for one publisher. `qos` is mqtt.qos; `link_up` is set while connected."""

    def __init__(
        self, cfg: OutboxConfig, qos: int, publish: PublishFn, link_up: threading.Event, storage: StorageHealth
    ) -> None:
        self._cfg = cfg
        self._storage = storage
        # Messages the outbox file could not store (disk full): sent live while connected,
        # else held here (bounded by handoff_queue_size; the oldest are dropped and counted).
        self._held: deque[OutboundMessage] = deque()
        self._unstored = 0  # outbox thread only
        self._unremoved: list[int] = []  # acknowledged row ids whose delete failed (disk full): retried
        self._next_store_mono = 0.0  # while the disk is full and we are connected, appends are retried from then
        self._qos = qos
        self._publish = publish
        self._link_up = link_up
        self._handoff: queue.Queue[OutboundMessage] = queue.Queue(maxsize=cfg.handoff_queue_size)
        self._acks: deque[tuple[int, bool]] = deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._flush_deadline_mono = float("inf")
        self._lock = threading.Lock()
        self._accepting = True
        self._lost = 0  # refused by offer(); folded into the outbox's eviction counter
        self._generation = 0
        self._view = PumpView()
        self._published = 0  # outbox thread only
        self._failures = 0  # outbox thread only

    # ----- any thread -------------------------------------------------------------------

    def offer(self, msg: OutboundMessage) -> str | None:
        """Queue a durable message; returns None, or why it was lost (and counts the loss)."""
        with self._lock:
            if self._accepting:
                try:
                    self._handoff.put_nowait(msg)
                except queue.Full:
                    reason = "the outbox handoff queue is full (outbox.handoff_queue_size)"
                else:
                    self._wake.set()
                    return None
            else:
                reason = "the publisher is stopped"
            self._lost += 1
        return reason

    def ack(self, mid: int, failed: bool) -> None:
        """PUBACK (or QoS 0 write) of `mid`. Called with paho's message lock held: takes no lock."""
        self._acks.append((mid, failed))
        self._wake.set()

    def on_connected(self) -> None:
        with self._lock:
            self._generation += 1
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def request_stop(self, flush_deadline_mono: float) -> None:
        """Persist everything queued, keep delivering until the deadline or the outbox is empty, then end."""
        self._flush_deadline_mono = flush_deadline_mono
        self._stopping.set()
        self._wake.set()

    def view(self) -> PumpView:
        with self._lock:
            return self._view

    # ----- outbox thread ----------------------------------------------------------------

    def refresh_view(self, outbox: Outbox) -> None:
        """Publish the outbox's counters for stats() (outbox thread)."""
        view = PumpView(
            outbox.depth + len(self._held),
            outbox.oldest_created_wall(),
            outbox.evicted_total,
            self._published,
            self._failures,
            self._unstored,
            len(self._held),
            outbox.memory_only,
            outbox.recovery,
        )
        with self._lock:
            self._view = view

    def run(self, outbox: Outbox) -> None:
        window = _Window()
        last_age_check = -AGE_CHECK_INTERVAL_S
        last_error_log = -ERROR_LOG_INTERVAL_S
        while True:
            self._wake.wait(TICK_S)
            self._wake.clear()
            try:
                self._persist(outbox)
                self._send_held(outbox)
                self._take_acks(outbox, window)
                if time.monotonic() - last_age_check >= AGE_CHECK_INTERVAL_S:
                    last_age_check = time.monotonic()
                    outbox.evict_expired()
                self._failures += self._feed(outbox, window)
                self._save_ledger(outbox)
                self.refresh_view(outbox)
            except Exception as exc:  # the one broad catch of this worker loop (disk full, I/O error)
                if self._handled(outbox, window, exc):
                    pass
                elif time.monotonic() - last_error_log >= ERROR_LOG_INTERVAL_S:
                    last_error_log = time.monotonic()
                    log.exception("outbox step failed; retrying (further errors logged once a minute)")
            if self._stopping.is_set() and self._flushed(outbox):
                break
        with self._lock:
            self._accepting = False
        try:
            self._persist(outbox)  # whatever was offered while stopping
        except sqlite3.Error:
            log.exception("could not store the last durable messages in the outbox; they are lost")

    def _handled(self, outbox: Outbox, window: _Window, exc: Exception) -> bool:
        """A full disk (give up the reserve so deletes can run) or a corrupt file (replace it)."""
        if is_out_of_space(exc):
            self._storage.write_failed(outbox.path, exc, "acknowledged rows stay until there is room")
            outbox.release_reserve()
            return True
        if not is_corruption(exc):
            return False
        log.error("outbox %s failed a query (%s): moving it aside and starting a fresh file", outbox.path, exc)
        try:
            outbox.replace_corrupt(str(exc))
        except (PublishError, sqlite3.Error, OSError):
            log.exception("could not replace the corrupt outbox %s", outbox.path)
        window.inflight.clear()
        window.sent_upto_id = 0
        return True

    def _flushed(self, outbox: Outbox) -> bool:
        if not self._handoff.empty():
            return False
        return outbox.depth == 0 or not self._link_up.is_set() or time.monotonic() >= self._flush_deadline_mono

    def _persist(self, outbox: Outbox) -> None:
        batch: list[OutboundMessage] = []
        while True:
            try:
                batch.append(self._handoff.get_nowait())
            except queue.Empty:
                break
        if batch and not self._store(outbox, batch):
            self._held.extend(batch)
            overflow = len(self._held) - self._cfg.handoff_queue_size
            for _ in range(max(0, overflow)):
                self._held.popleft()
                self._unstored += 1
        with self._lock:
            lost, self._lost = self._lost, 0
        if lost:
            outbox.add_evicted(lost, "they could not be queued for the outbox")

    def _store(self, outbox: Outbox, batch: list[OutboundMessage]) -> bool:
        """Append `batch` to the file. False: not stored (disk full), and while connected not retried for
        STORE_RETRY_S, so that the space acknowledgements free goes to deletes and checkpoints first."""
        if self._storage.degraded and self._link_up.is_set() and time.monotonic() < self._next_store_mono:
            return False
        try:
            outbox.append(batch)
        except sqlite3.Error as exc:
            if not is_out_of_space(exc):
                raise
            self._next_store_mono = time.monotonic() + STORE_RETRY_S
            consequence = "durable messages are sent live while connected, else held in memory"
            self._storage.write_failed(outbox.path, exc, consequence)
            return False
        self._storage.write_ok()
        return True

    def _send_held(self, outbox: Outbox) -> None:
        """Held messages: into the file once it has room again, else straight to paho while connected."""
        if not self._held:
            return
        if self._link_up.is_set():
            while self._held:
                msg = self._held[0]
                info = self._publish(msg.topic, msg.payload, self._qos, msg.retain)
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    return  # back-pressure or disconnected: retried next tick
                self._held.popleft()
                self._published += 1
            return
        batch = list(self._held)
        self._held.clear()
        if not self._store(outbox, batch):
            self._held.extend(batch)

    def _save_ledger(self, outbox: Outbox) -> None:
        try:
            outbox.save_ledger()
        except OSError as exc:
            self._storage.write_failed(outbox.path, exc, "losses to corruption may be under-counted")

    def _take_acks(self, outbox: Outbox, window: _Window) -> None:
        """Count acknowledgements and delete their rows; rows a full disk kept are deleted on a later step."""
        while self._acks:
            mid, is_failure = self._acks.popleft()
            row_id = window.inflight.pop(mid, None)
            if row_id is None:
                continue  # a fast message, or the status
            if is_failure:
                self._failures += 1  # MQTT 5 negative PUBACK: the broker will never take it; do not loop on it
            else:
                self._published += 1
            self._unremoved.append(row_id)
        if outbox.remove(self._unremoved) and self._storage.degraded:
            outbox.reclaim()  # give the acknowledged rows' pages back at once
        self._unremoved = []

    def _feed(self, outbox: Outbox, window: _Window) -> int:
        """Hand the next rows to paho while connected, keeping at most inflight_window unacknowledged."""
        with self._lock:
            generation = self._generation
        if generation != window.generation:
            window.generation = generation
            if self._qos == 0:
                # paho forgets unsent QoS 0 packets on reconnect: send those rows again.
                window.inflight.clear()
                window.sent_upto_id = 0
            # QoS 1: paho re-sends its own unacknowledged messages after a reconnect; sending
            # them again from here would only create duplicates.
        failures = 0
        while self._link_up.is_set() and outbox.last_id > window.sent_upto_id:
            room = self._cfg.inflight_window - len(window.inflight)
            if room <= 0:
                break
            rows = outbox.pending(window.sent_upto_id, room)
            if not rows:
                window.sent_upto_id = outbox.last_id
                break
            for row in rows:
                info = self._publish(row.topic, row.payload, self._qos, row.retain)
                if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (
                    info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and self._qos
                ):
                    window.inflight[info.mid] = row.id  # QoS 1 without a connection waits in paho
                    window.sent_upto_id = row.id
                    continue
                if info.rc not in (MQTTErrorCode.MQTT_ERR_NO_CONN, MQTTErrorCode.MQTT_ERR_QUEUE_SIZE):
                    failures += 1  # a full paho queue is back-pressure, not a failure: retried next tick
                return failures
        return failures
