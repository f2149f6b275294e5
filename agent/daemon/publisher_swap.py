"""The agent's one way out to the broker: a publisher that can be swapped for one with new broker
settings while the agent runs. `send` is called from every thread; messages sent during a swap are
held in memory (bounded, overflow counted) and handed to whichever publisher ends up running.
`swap` runs on the config thread; `start`/`stop` on the main thread."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from agent.config.schema import AgentConfig
from agent.errors import AgentError
from agent.publish.client import Handler, MqttPublisher
from agent.publish.messages import OutboundMessage
from agent.publish.outbox_ledger import Recovery
from agent.publish.topics import Topics
from agent.storage.health import StorageHealth
from agent.types import PublisherStats

log = logging.getLogger(__name__)

PUBLISHER_STOP_TIMEOUT_S = 2.0
HELD_MESSAGES_MAX = 10_000  # messages kept in memory while the broker connection is swapped


class SwappablePublisher:
    """The running MqttPublisher, its subscriptions (renewed after a swap) and the held-message buffer."""

    def __init__(self, config: AgentConfig, storage: StorageHealth) -> None:
        self._storage = storage
        self._publisher = make_publisher(config, storage)
        self._subscriptions: dict[str, Handler] = {}
        self._send_lock = threading.Lock()
        self._held: list[OutboundMessage] | None = None  # not None while the publisher is being swapped
        self.held_dropped = 0

    @property
    def topics(self) -> Topics:
        return self._publisher.topics

    @property
    def connected(self) -> bool:
        return self._publisher.connected

    @property
    def outbox_recovery(self) -> Recovery | None:
        return self._publisher.outbox_recovery

    def stats(self) -> PublisherStats:
        return self._publisher.stats()

    def start(self) -> None:
        self._publisher.start()

    def stop(self) -> None:
        self._publisher.stop(timeout_s=PUBLISHER_STOP_TIMEOUT_S)

    def send(self, message: OutboundMessage) -> None:
        """Every outbound message goes through here, so a broker reconnect can swap the publisher.

        While a swap is under way messages are held in memory (bounded, overflow counted)
        and handed to whichever publisher ends up running."""
        with self._send_lock:
            if self._held is not None:
                if len(self._held) < HELD_MESSAGES_MAX:
                    self._held.append(message)
                else:
                    self.held_dropped += 1
                return
            publisher = self._publisher
        publisher.send(message)

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        self._subscriptions[topic_filter] = handler
        self._publisher.subscribe(topic_filter, handler)

    def swap(self, old: AgentConfig, new: AgentConfig) -> str | None:
        """Connect with the new broker settings; on failure reconnect with the old ones.
        Messages sent meanwhile are held and go to whichever publisher ends up running."""
        with self._send_lock:
            self._held = []
        try:
            return self._connect_new_publisher(old, new)
        finally:
            with self._send_lock:
                held, self._held = self._held or [], None
            if self.held_dropped:
                log.error("%d messages dropped while the broker connection was swapped", self.held_dropped)
            for message in held:
                self._publisher.send(message)

    def _connect_new_publisher(self, old: AgentConfig, new: AgentConfig) -> str | None:
        self._publisher.stop(timeout_s=PUBLISHER_STOP_TIMEOUT_S)
        try:
            candidate = make_publisher(new, self._storage)
        except AgentError as exc:
            self._restart_publisher(old)
            return f"broker settings unusable: {exc}"
        candidate.start()
        if not candidate.wait_connected(new.remote_config.apply_timeout_s):
            reason = candidate.stats()
            candidate.stop(timeout_s=PUBLISHER_STOP_TIMEOUT_S)
            self._restart_publisher(old)
            return f"no connection to {new.mqtt.host}:{new.mqtt.port} within {new.remote_config.apply_timeout_s:.0f} s ({reason.connect_attempts} attempts)"
        self._publisher = candidate
        self._resubscribe()
        return None

    def _restart_publisher(self, config: AgentConfig) -> None:
        self._publisher = make_publisher(config, self._storage)
        self._publisher.start()
        self._resubscribe()

    def _resubscribe(self) -> None:
        for topic_filter, handler in self._subscriptions.items():
            self._publisher.subscribe(topic_filter, handler)


def make_publisher(config: AgentConfig, storage: StorageHealth) -> MqttPublisher:
    """A publisher for `config`'s broker; systemd's credentials directory holds the password file if set."""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    return MqttPublisher(
        config.mqtt,
        config.outbox,
        config.device_id,
        config.state_dir,
        Path(credentials) if credentials else None,
        storage=storage,
    )
