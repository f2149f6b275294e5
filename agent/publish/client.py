"""The MQTT publisher: a paho 2.x client driven by our own network thread, plus the outbox thread.

`send()` is called by pipeline threads and never blocks: durable messages go through an
in-memory handoff queue to the outbox thread, which owns the SQLite outbox, feeds paho a
bounded window and deletes rows on PUBACK. Fast messages are published at once or dropped
(and counted) while disconnected. The network thread connects, runs paho's loop and
reconnects with jittered backoff, logging one line per attempt (one per minute while another
client with our id keeps taking the connection over: agent.publish.takeover). See docs/mqtt.md."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from agent.backoff import Backoff
from agent.config.schema import MqttConfig, OutboxConfig
from agent.errors import PublishError
from agent.publish.credentials import build_tls_context, resolve_password
from agent.publish.messages import OutboundMessage, encode_status
from agent.publish.outbox import FILE_NAME, Outbox
from agent.publish.outbox_ledger import Recovery
from agent.publish.pump import TICK_S, OutboxPump
from agent.publish.takeover import REPORT_INTERVAL_S, TakeoverReport, TakeoverWatch
from agent.publish.topics import Topics
from agent.storage.health import StorageHealth
from agent.types import PublisherStats

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]

LOOP_TIMEOUT_S = 0.5  # paho select() timeout; publishes wake it early through its socket pair
OUTBOX_OPEN_TIMEOUT_S = 30.0
OFFLINE_RESERVE_S = 1.0  # part of stop()'s budget kept for the `offline` status and DISCONNECT
MAX_RETAINED_PENDING = 4096  # retained state topics remembered while disconnected...
MAX_RETAINED_PENDING_BYTES = 16 * 1024 * 1024  # ...and their payload bytes (snapshots are large)
MAX_FAST_QUEUED = 1000  # QoS 1 fast messages paho may hold besides the durable window
SUBSCRIBE_QOS = 1
LOSS_LOG_INTERVAL_S = 10.0
# CONNACK reasons meaning "wrong user/password" (MQTT 3.1.1: 4, 5; MQTT 5: 134, 135).
AUTH_REASONS = frozenset({4, 5, 134, 135})


@dataclass(frozen=True, slots=True)
class _SessionEnd:
    """Why a connection attempt or session ended: unreachable | auth | refused | lost | error.
    `connected_s`: how long the broker had accepted the session (None: it never did)."""

    kind: str
    detail: str
    connected_s: float | None = None


class MqttPublisher:
    """Owns the broker connection of one device. Thread-safe: `send` may be called from any thread."""

    def __init__(
        self,
        cfg: MqttConfig,
        outbox_cfg: OutboxConfig,
        device_id: str,
        state_dir: Path,
        credentials_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
        storage: StorageHealth | None = None,
    ) -> None:
        self._cfg = cfg
        self._outbox_cfg = outbox_cfg
        self._outbox_path = state_dir / FILE_NAME
        self._credentials_dir = credentials_dir
        self._clock = clock
        self.topics = Topics(cfg.topic_prefix, device_id)
        self._client_id = cfg.client_id or f"edge-agent-{device_id}"
        self._client = self._make_client(resolve_password(cfg, credentials_dir))
        self._connected = threading.Event()  # CONNACK accepted: paho may be given messages
        self._online = threading.Event()  # ...and the broker has acknowledged `online`: "connected" to callers
        self._stopping = threading.Event()  # no new connection attempts
        self._hangup = threading.Event()  # send DISCONNECT and end the session
        self.storage = storage or StorageHealth(state_dir)  # the supervisor's: shared with other writers
        self._pump = OutboxPump(outbox_cfg, cfg.qos, self._publish_row, self._connected, self.storage)
        self._outbox_ready = threading.Event()
        self._outbox_error: PublishError | None = None
        self._lock = threading.Lock()  # guards the state below; never held by paho while it calls us
        self._connack_reason: ReasonCode | None = None
        self._disconnect_reason = ""
        self._subscriptions: dict[str, Handler] = {}
        self._retained_pending: dict[str, OutboundMessage] = {}
        self._retained_pending_bytes = 0
        self._counts = {"published": 0, "publish_failures": 0, "fast_dropped": 0, "connect_attempts": 0}
        self._last_loss_log_mono = -LOSS_LOG_INTERVAL_S
        self._takeover = TakeoverWatch()
        self._threads: list[threading.Thread] = []

    def _make_client(self, password: str | None) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            clean_session=True,  # see docs/mqtt.md: delivery relies on paho's resend + our outbox, not the session
            protocol=mqtt.MQTTv311,
        )
        if self._cfg.username is not None:
            client.username_pw_set(self._cfg.username, password)
        if self._cfg.tls.enabled:
            client.tls_set_context(build_tls_context(self._cfg.tls))
            client.tls_insecure_set(not self._cfg.tls.verify_hostname)
        offline = encode_status(self.topics, online=False)
        client.will_set(offline.topic, offline.payload, qos=offline.qos, retain=True)
        client.max_inflight_messages_set(0)  # our outbox window bounds durable messages
        client.max_queued_messages_set(self._outbox_cfg.inflight_window + MAX_FAST_QUEUED)
        client.connect_timeout = self._cfg.connect_timeout_s
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        # A no-op hook stops paho from writing to the socket in the publishing thread:
        # all socket I/O then happens in our network thread.
        client.on_socket_register_write = lambda _client, _userdata, _sock: None
        client.on_socket_open = _disable_nagle
        return client

    # ----- public API -------------------------------------------------------------------

    def start(self) -> None:
        """Open the outbox (PublishError if it cannot be) and start connecting in the background."""
        if self._threads:
            raise RuntimeError("MqttPublisher.start() called twice")
        outbox_thread = threading.Thread(target=self._run_outbox, name="mqtt-outbox", daemon=True)
        outbox_thread.start()
        if not self._outbox_ready.wait(OUTBOX_OPEN_TIMEOUT_S):
            raise PublishError(f"the outbox {self._outbox_path} did not open within {OUTBOX_OPEN_TIMEOUT_S:g} s")
        if self._outbox_error is not None:
            raise self._outbox_error
        network_thread = threading.Thread(target=self._run_network, name="mqtt-network", daemon=True)
        network_thread.start()
        self._threads = [outbox_thread, network_thread]

    def send(self, msg: OutboundMessage) -> None:
        """Queue a durable message or publish a fast one. Never blocks; every loss is counted."""
        if msg.durable:
            lost_reason = self._pump.offer(msg)
            if lost_reason is not None:
                self._log_loss(msg, lost_reason)
        else:
            self._publish_fast(msg)

    def _log_loss(self, msg: OutboundMessage, reason: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_loss_log_mono < LOSS_LOG_INTERVAL_S:
                return
            self._last_loss_log_mono = now
        log.error(
            "durable message to %s lost: %s (counted in outbox_evicted; further losses logged every %g s)",
            msg.topic,
            reason,
            LOSS_LOG_INTERVAL_S,
        )

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Call `handler(topic, payload)` in the network thread for matching messages, across reconnects."""
        self._client.message_callback_add(topic_filter, self._wrap_handler(handler))
        with self._lock:
            self._subscriptions[topic_filter] = handler
            if self._connected.is_set():
                self._client.subscribe(topic_filter, qos=SUBSCRIBE_QOS)

    @property
    def outbox_recovery(self) -> Recovery | None:
        """The last loss the outbox found (at open, or a corrupt file replaced at run time)."""
        return self._pump.view().recovery

    @property
    def connected(self) -> bool:
        """True once the broker has acknowledged this session's retained `online`: a client subscribing
        now gets it as retained. State deferred while disconnected (snapshots: megabytes) follows it."""
        return self._online.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._online.wait(timeout_s)

    def stats(self) -> PublisherStats:
        view = self._pump.view()
        with self._lock:
            counts = dict(self._counts)
        oldest = view.oldest_created_wall
        return PublisherStats(
            connected=self._online.is_set(),
            outbox_depth=view.depth,
            outbox_oldest_age_s=max(0.0, self._clock() - oldest) if oldest is not None else 0.0,
            outbox_evicted=view.evicted,
            published=counts["published"] + view.published,
            publish_failures=counts["publish_failures"] + view.failures,
            fast_dropped=counts["fast_dropped"],
            connect_attempts=counts["connect_attempts"],
            outbox_unstored=view.unstored,
            outbox_memory_only=view.memory_only,
            storage=self.storage.view(),
        )

    def stop(self, timeout_s: float) -> None:
        """Flush what the budget allows, publish `offline` (retained), disconnect, join the threads."""
        deadline = time.monotonic() + timeout_s
        flush_deadline = deadline - min(OFFLINE_RESERVE_S, timeout_s / 4)
        self._stopping.set()
        self._pump.request_stop(flush_deadline)
        threads = self._threads
        if threads:
            threads[0].join(max(0.0, flush_deadline - time.monotonic()) + TICK_S)
        if self._connected.is_set():
            offline = encode_status(self.topics, online=False)
            info = self._client.publish(offline.topic, offline.payload, qos=offline.qos, retain=True)
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as exc:
                log.warning("could not publish the offline status before disconnecting: %s", exc)
        self._hangup.set()
        self._client.disconnect()  # wakes paho's select at once; the session loop repeats it if a connect was under way
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("MQTT thread %s did not stop within %.1f s", thread.name, timeout_s)

    # ----- fast path (any thread) -------------------------------------------------------

    def _publish_fast(self, msg: OutboundMessage) -> None:
        with self._lock:  # serialises with on_connect so retained state is never overtaken by a stale value
            if self._connected.is_set():
                rc = self._client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain).rc
                if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                    self._counts["published"] += 1
                    return
                if rc != MQTTErrorCode.MQTT_ERR_NO_CONN:
                    self._counts["publish_failures"] += 1
            if not (msg.retain and self._defer_retained(msg)):
                self._counts["fast_dropped"] += 1

    def _defer_retained(self, msg: OutboundMessage) -> bool:
        """Keep the latest value of a retained topic for the next connect (caller holds the lock)."""
        old = self._retained_pending.get(msg.topic)
        size = self._retained_pending_bytes + len(msg.payload) - (len(old.payload) if old is not None else 0)
        if size > MAX_RETAINED_PENDING_BYTES or (old is None and len(self._retained_pending) >= MAX_RETAINED_PENDING):
            return False
        self._retained_pending[msg.topic] = msg
        self._retained_pending_bytes = size
        return True

    def _wrap_handler(self, handler: Handler) -> Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]:
        def on_message(_client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
            try:
                handler(message.topic, bytes(message.payload))
            except Exception:  # a handler bug must not kill the network thread
                log.exception("subscription handler for %s failed", message.topic)

        return on_message

    # ----- paho callbacks (network thread) ----------------------------------------------

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        # Only note the outcome: paho re-sends its unacknowledged messages right after this
        # callback returns, and new messages must queue behind them (see _announce).
        self._connack_reason = reason

    def _announce(self) -> mqtt.MQTTMessageInfo:
        """After a successful CONNACK was fully handled: status, subscriptions, deferred state, outbox.

        Returns the `online` publish: the session counts as connected once the broker acknowledges
        it. paho only queues it here; the network thread writes it on its next loop."""
        online = encode_status(self.topics, online=True)
        with self._lock:
            info = self._client.publish(online.topic, online.payload, qos=online.qos, retain=True)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._counts["publish_failures"] += 1
            for topic_filter in self._subscriptions:
                self._client.subscribe(topic_filter, qos=SUBSCRIBE_QOS)
            pending, self._retained_pending, self._retained_pending_bytes = self._retained_pending, {}, 0
            for msg in pending.values():
                self._client.publish(msg.topic, msg.payload, qos=msg.qos, retain=True)
            self._connected.set()
        self._pump.on_connected()
        return info

    def _log_connected(self) -> None:
        level = logging.DEBUG if self._takeover.suspected else logging.INFO  # the takeover report says it all
        where, user = f"{self._cfg.host}:{self._cfg.port}", self._cfg.username or "anonymous"
        log.log(level, "connected to MQTT broker %s as %s", where, user)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        # paho may call this with its message lock held (from a write inside CONNACK handling)
        # while another thread holds our lock inside publish(): so take no lock of ours.
        self._connected.clear()
        self._online.clear()
        self._disconnect_reason = str(reason)
        self._pump.wake()

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        self._pump.ack(mid, reason.is_failure)  # paho holds its message lock here: the pump takes none

    # ----- network thread ---------------------------------------------------------------

    def _run_network(self) -> None:
        backoff = Backoff(self._cfg.reconnect_initial_s, self._cfg.reconnect_max_s)
        while not self._stopping.is_set():
            try:
                ended = self._run_session()
            except Exception as exc:  # the one broad catch of this worker loop
                log.exception("unexpected error in the MQTT network loop")
                ended = _SessionEnd("error", f"unexpected error in the MQTT network loop: {exc}")
            self._connected.clear()
            self._online.clear()
            if self._stopping.is_set():
                break
            report = None
            if ended.connected_s is not None:
                if ended.kind == "lost":
                    report = self._takeover.session_dropped(ended.connected_s, time.monotonic())
                if not self._takeover.suspected:
                    backoff.reset()  # a session that got connected starts the backoff over, unless it was taken over
            delay = backoff.next_delay_s()
            if report is not None:
                self._log_takeover(report, delay)
            else:
                self._log_retry(ended, delay)
            self._stopping.wait(delay)

    def _run_session(self) -> _SessionEnd:
        """Connect and run paho's loop until the connection ends; returns why it ended."""
        with self._lock:
            self._counts["connect_attempts"] += 1
        self._connack_reason = None
        self._disconnect_reason = ""
        where = f"{self._cfg.host}:{self._cfg.port}"
        try:
            self._client.connect(self._cfg.host, self._cfg.port, keepalive=self._cfg.keepalive_s)
        except OSError as exc:  # refused, unreachable, timeout, TLS handshake/verification
            return _SessionEnd("unreachable", f"cannot connect to MQTT broker {where}: {exc}")
        rc = MQTTErrorCode.MQTT_ERR_SUCCESS
        hung_up = False
        accepted_mono: float | None = None
        online: mqtt.MQTTMessageInfo | None = None  # announced, not yet acknowledged
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            if self._hangup.is_set() and not hung_up:
                hung_up = True
                self._client.disconnect()  # paho sends DISCONNECT, closes, and the next loop() ends the session
            rc = self._client.loop(timeout=LOOP_TIMEOUT_S)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
            if accepted_mono is None and self._connack_reason is not None and not self._connack_reason.is_failure:
                accepted_mono = time.monotonic()
                online = self._announce()
            if accepted_mono is not None:
                online = self._session_up(online, time.monotonic() - accepted_mono)
        refused = self._connack_reason
        if refused is not None and refused.is_failure:
            kind = "auth" if refused.value in AUTH_REASONS else "refused"
            return _SessionEnd(kind, str(refused))
        why = ", ".join(filter(None, (rc.name, self._disconnect_reason)))
        connected_s = time.monotonic() - accepted_mono if accepted_mono is not None else None
        return _SessionEnd("lost", f"lost connection to MQTT broker {where} ({why})", connected_s)

    def _session_up(self, online: mqtt.MQTTMessageInfo | None, up_s: float) -> mqtt.MQTTMessageInfo | None:
        """Each loop of an accepted session: report "connected" once the broker has acknowledged `online`,
        and end a takeover streak once the session has held. Returns `online` while still unacknowledged."""
        if online is not None and _acknowledged(online):
            online = None
            self._online.set()
            self._log_connected()
        if self._takeover.drops and up_s >= self._takeover.short_session_s:
            suspected, drops = self._takeover.suspected, self._takeover.session_lasted()
            if suspected:
                log.info("the MQTT connection has held for %.0f s now, after %d the broker ended early", up_s, drops)
        return online

    def _log_takeover(self, report: TakeoverReport, delay_s: float) -> None:
        log.error(
            "MQTT broker %s:%d ended this agent's connection %d times in %.0f s, each soon after accepting it: "
            "most likely another client connects with the same client id %r, and the broker drops the older of "
            "the two each time. Give every device its own device_id (or mqtt.client_id) and make the broker tie "
            "client ids to user names (use_username_as_clientid, see docs/deploy.md). Less likely: the broker "
            "closes the connection over something this agent sends (see the broker's log). %d new since the "
            "last report; retrying in %.1f s; each drop is logged at DEBUG, this report at most every %.0f s",
            self._cfg.host,
            self._cfg.port,
            report.drops,
            report.streak_s,
            self._client_id,
            report.new_drops,
            delay_s,
            REPORT_INTERVAL_S,
        )

    def _log_retry(self, ended: _SessionEnd, delay_s: float) -> None:
        """One line per failed attempt; the backoff keeps them at most one per delay."""
        if ended.kind == "auth":
            log.error(
                "broker rejected credentials for user %s (reason %s); retrying in %.1f s",
                self._cfg.username,
                ended.detail,
                delay_s,
            )
            self._refresh_password()
        elif ended.kind == "refused":
            log.error("MQTT broker refused the connection (reason %s); retrying in %.1f s", ended.detail, delay_s)
        else:
            level = logging.DEBUG if self._takeover.suspected else logging.WARNING  # _log_takeover reports them
            log.log(level, "%s; retrying in %.1f s", ended.detail, delay_s)

    def _refresh_password(self) -> None:
        """Re-read a password file or credential so a fixed secret is used without a restart."""
        if self._cfg.password_file is None and self._cfg.password_credential is None:
            return
        try:
            self._client.username_pw_set(self._cfg.username, resolve_password(self._cfg, self._credentials_dir))
        except PublishError as exc:
            log.error("cannot re-read the broker password: %s", exc)

    # ----- outbox thread ----------------------------------------------------------------

    def _run_outbox(self) -> None:
        try:
            outbox = Outbox(self._outbox_path, self._outbox_cfg, self._clock)
        except PublishError as exc:
            self._outbox_error = exc
            self._outbox_ready.set()
            return
        self._pump.refresh_view(outbox)
        self._outbox_ready.set()
        try:
            self._pump.run(outbox)
        finally:
            outbox.close()

    def _publish_row(self, topic: str, payload: bytes, qos: int, retain: bool) -> mqtt.MQTTMessageInfo:
        return self._client.publish(topic, payload, qos=qos, retain=retain)


def _acknowledged(info: mqtt.MQTTMessageInfo) -> bool:
    """PUBACK received (QoS 1) or written to the socket (QoS 0). A publish paho refused (its queue
    full of messages re-sent from the last session) counts too: the session is up, just not announced."""
    try:
        return info.is_published()
    except ValueError:  # MQTT_ERR_QUEUE_SIZE
        return True
    except RuntimeError:  # no connection: this session is ending
        return False


def _disable_nagle(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    """Send each MQTT packet at once. With Nagle's algorithm a small publish waits while an earlier
    one is unacknowledged, and the broker's delayed ACK made that up to 40 ms (the latency p99)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
