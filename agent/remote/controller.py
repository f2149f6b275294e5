"""Runs remote configuration requests as transactions on the supervisor's (main) thread.

MQTT handlers (paho's thread) only enqueue requests. The main thread parses and
validates, persists, asks the supervisor to reconcile, rolls back on failure and
publishes the retained config/state. SIGHUP and config-file changes take the same path."""

from __future__ import annotations

import dataclasses
import logging
import queue
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.config.checks import load_checked_config
from agent.config.loader import ParseLimits
from agent.config.schema import AgentConfig
from agent.errors import AgentError, ConfigError
from agent.publish.messages import OutboundMessage
from agent.remote.document import RemotePolicy, RemoteResult, config_version, parse_patch, parse_set, redact
from agent.remote.persist import persist_config, restore_previous
from agent.remote.plan import ReconcilePlan, plan_reconcile
from agent.remote.protocol import (
    ApplyStatus,
    ConfigIssue,
    ConfigState,
    ConfigTopics,
    RequestKind,
    current_message,
    parse_get_request,
    state_message,
)

log = logging.getLogger(__name__)

REQUEST_QUEUE_SIZE = 16


class ConfigTarget(Protocol):
    """What the controller needs from the supervisor."""

    @property
    def config(self) -> AgentConfig: ...

    def apply_config(self, new: AgentConfig, plan: ReconcilePlan) -> str | None:
        """Reconcile to `new`; return None on success, or why it failed (the old config is kept)."""
        ...

    def send(self, message: OutboundMessage) -> None: ...

    def subscribe(self, topic_filter: str, handler: ConfigHandler) -> None: ...


class ConfigHandler(Protocol):
    def __call__(self, topic: str, payload: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class ConfigRequest:
    kind: RequestKind
    topic: str
    payload: bytes


class RemoteConfigController:
    """One per agent; every method except `enqueue` runs on the main thread."""

    def __init__(self, target: ConfigTarget, config_path: Path) -> None:
        self._target = target
        self._path = config_path
        self._requests: queue.Queue[ConfigRequest] = queue.Queue(REQUEST_QUEUE_SIZE)
        self.dropped = 0
        self._subscribed: set[str] = set()
        self._file_stamp = self._stamp()
        self._next_watch = 0.0

    @property
    def topics(self) -> ConfigTopics:
        cfg = self._target.config
        return ConfigTopics(cfg.mqtt.topic_prefix, cfg.device_id, tuple(cfg.groups))

    def start(self) -> None:
        """Subscribe to the request topics and publish the running config's state."""
        self.resubscribe()
        self._publish_state(ApplyStatus.APPLIED, (), None)

    def resubscribe(self) -> None:
        """Subscribe to this device's and its groups' request topics (after a prefix or groups change)."""
        if not self._target.config.remote_config.enabled:
            return
        for topic in self.topics.subscriptions():
            if topic not in self._subscribed:
                self._target.subscribe(topic, self.enqueue)
                self._subscribed.add(topic)

    def enqueue(self, topic: str, payload: bytes) -> None:
        """Called on paho's thread: classify and queue; never parse or block here."""
        kind = self.topics.classify(topic)
        if kind is None:
            return
        try:
            self._requests.put_nowait(ConfigRequest(kind, topic, payload))
        except queue.Full:
            self.dropped += 1
            log.warning("config request on %s dropped: %d requests already waiting", topic, REQUEST_QUEUE_SIZE)

    def process_pending(self) -> None:
        """Handle every queued request, one transaction at a time."""
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            self._handle(request)

    def _handle(self, request: ConfigRequest) -> None:
        running = self._target.config
        if request.kind is RequestKind.GET:
            envelope = parse_get_request(request.payload)
            self._target.send(
                current_message(self.topics, redact(running), config_version(running), envelope.request_id, time.time())
            )
            return
        limits = ParseLimits(max_bytes=running.remote_config.max_bytes)
        policy = RemotePolicy.for_running(self._path, running, limits)
        extra = tuple(running.remote_config.allowed_dirs)
        policy = dataclasses.replace(policy, allowed_dirs=policy.allowed_dirs + extra)
        parse = parse_set if request.kind is RequestKind.SET else parse_patch
        result: RemoteResult = parse(request.payload, running, policy, source=request.topic)
        if result.config is None:
            log.warning("config request on %s rejected: %s", request.topic, "; ".join(e.msg for e in result.errors))
            self._publish_state(ApplyStatus.REJECTED, result.errors, result.request_id)
            return
        self._apply(result.config, result.request_id, persist=True)

    def reload_file(self, reason: str) -> None:
        """SIGHUP or a change on disk: load the file and apply it like a remote set (not re-persisted)."""
        self._file_stamp = self._stamp()
        try:
            new = load_checked_config(self._path)
        except ConfigError as exc:
            log.error("config reload (%s) rejected; keeping the running config:\n  %s", reason, "\n  ".join(exc.errors))
            issues = tuple(ConfigIssue("file", line) for line in exc.errors)
            self._publish_state(ApplyStatus.REJECTED, issues, None)
            return
        log.info("reloading config from %s (%s)", self._path, reason)
        self._apply(new, None, persist=False)

    def watch_file(self, now_mono: float) -> None:
        settings = self._target.config.remote_config
        if not settings.watch_file or now_mono < self._next_watch:
            return
        self._next_watch = now_mono + settings.watch_interval_s
        if self._stamp() != self._file_stamp:
            self.reload_file("file changed")

    def _apply(self, new: AgentConfig, request_id: str | None, persist: bool) -> None:
        plan = plan_reconcile(self._target.config, new)
        if plan.is_noop:
            self._publish_state(ApplyStatus.APPLIED, (), request_id)
            return
        if persist:
            try:
                persist_config(self._path, new)
            except AgentError as exc:
                self._publish_state(ApplyStatus.REJECTED, (ConfigIssue("file", str(exc)),), request_id)
                return
            self._file_stamp = self._stamp()
        failure = self._target.apply_config(new, plan)
        if failure is None:
            log.info("config applied: %s", describe(plan))
            self.resubscribe()
            self._publish_state(ApplyStatus.APPLIED, (), request_id)
            return
        log.error("config could not come up (%s); rolled back to the previous config", failure)
        if persist:
            restore_previous(self._path)
            self._file_stamp = self._stamp()
        self._publish_state(ApplyStatus.ROLLED_BACK, (ConfigIssue("apply", failure),), request_id)

    def _publish_state(self, status: ApplyStatus, errors: tuple[ConfigIssue, ...], request_id: str | None) -> None:
        state = ConfigState(config_version(self._target.config), time.time(), status, errors, request_id)
        self._target.send(state_message(self.topics, state))

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self._path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)


def describe(plan: ReconcilePlan) -> str:
    parts = [
        f"{label} {', '.join(names)}"
        for label, names in (
            ("added", plan.cameras_added),
            ("removed", plan.cameras_removed),
            ("restarted", plan.cameras_restarted),
            ("changed", plan.other_changed),
        )
        if names
    ]
    if plan.model_reload:
        parts.append("model reloaded")
    if plan.mqtt_reconnect:
        parts.append("broker reconnected")
    return "; ".join(parts) or "no change"
