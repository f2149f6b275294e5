"""Runs remote configuration requests as transactions on the config thread (agent.remote.worker).

MQTT handlers (paho's thread) only put requests in the byte-bounded inbox. The config thread
coalesces what waits (the last one wins), validates, persists, asks the daemon's reconciler
(a ConfigTarget) to apply, rolls back on failure and answers every request on the retained
config/state through a ConfigBroker.
SIGHUP and config-file changes take the same path."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.config.checks import load_checked_config
from agent.config.loader import ParseLimits
from agent.config.schema import AgentConfig
from agent.errors import AgentError, ConfigError
from agent.publish.messages import OutboundMessage
from agent.remote.coalesce import coalesce
from agent.remote.document import RemotePolicy, RemoteResult, config_version, parse_patch, parse_set, redact
from agent.remote.inbox import ConfigInbox, ConfigRequest, Taken
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


class ConfigTarget(Protocol):
    """The running config, and the one way to change it."""

    @property
    def config(self) -> AgentConfig: ...

    def apply_config(self, new: AgentConfig, plan: ReconcilePlan) -> str | None:
        """Reconcile to `new`; return None on success, or why it failed (the old config is kept)."""
        ...


class ConfigBroker(Protocol):
    """Where requests arrive and answers go."""

    def send(self, message: OutboundMessage) -> None: ...

    def subscribe(self, topic_filter: str, handler: ConfigHandler) -> None: ...


class ConfigHandler(Protocol):
    def __call__(self, topic: str, payload: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an apply ended, before it is published."""

    status: ApplyStatus
    errors: tuple[ConfigIssue, ...] = ()
    restart_required: tuple[str, ...] = ()


class RemoteConfigController:
    """One per agent; `start` runs on the main thread before the config thread exists, `enqueue` on
    paho's thread, every other method on the config thread."""

    def __init__(self, target: ConfigTarget, broker: ConfigBroker, config_path: Path) -> None:
        self._target = target
        self._broker = broker
        self._path = config_path
        self.inbox = ConfigInbox(target.config.remote_config.max_pending_bytes)
        self._subscribed: set[str] = set()
        self._file_stamp = self._stamp()
        self._next_watch = 0.0
        self._last_state: ConfigState | None = None  # replaced whole: read by HTTP threads without a lock

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
                self._broker.subscribe(topic, self.enqueue)
                self._subscribed.add(topic)

    def enqueue(self, topic: str, payload: bytes) -> None:
        """Called on paho's thread: classify and queue; never parse or block here."""
        kind = self.topics.classify(topic)
        if kind is None:
            return
        if not self.inbox.put(ConfigRequest(kind, topic, payload)):
            log.warning(
                "config request on %s (%d bytes) rejected: %d bytes already waiting (remote_config.max_pending_bytes)",
                topic,
                len(payload),
                self.inbox.max_bytes,
            )

    def process_pending(self) -> None:
        """Answer everything waiting: overflows rejected, gets at once, sets and patches coalesced."""
        taken = self.inbox.take_all()
        self._answer_overflows(taken)
        changes = []
        for request in taken.requests:
            if request.kind is RequestKind.GET:
                self._answer_get(request)
            else:
                changes.append(request)
        if changes:
            self._apply_requests(changes)

    def _answer_overflows(self, taken: Taken) -> None:
        limit = self.inbox.max_bytes
        for overflow in taken.overflows:
            msg = f"{overflow.size_bytes} bytes did not fit: remote_config.max_pending_bytes ({limit}) already waiting"
            self._publish_state(ApplyStatus.REJECTED, (ConfigIssue("<document>", msg),), overflow.request_id)
        if taken.unanswered:
            log.error("%d config requests could not even be answered: the inbox was full", taken.unanswered)

    def _answer_get(self, request: ConfigRequest) -> None:
        running = self._target.config
        envelope = parse_get_request(request.payload)
        self._broker.send(
            current_message(self.topics, redact(running), config_version(running), envelope.request_id, time.time())
        )

    def _apply_requests(self, requests: list[ConfigRequest]) -> None:
        """Fold the waiting requests into one apply; answer each: rejected, superseded or the outcome."""
        merged = coalesce(requests, self._target.config, self._parse)
        for rejection in merged.rejected:
            log.warning(
                "config request on %s rejected: %s", rejection.topic, "; ".join(e.msg for e in rejection.errors)
            )
            self._publish_state(ApplyStatus.REJECTED, rejection.errors, rejection.request_id)
        if merged.config is None:
            return
        outcome = self._apply(merged.config, persist=True)
        if merged.superseded:
            log.info("%d queued config requests folded into %s", len(merged.superseded), merged.winner_id)
        for request_id in merged.superseded:
            if outcome.status.succeeded:
                self._publish_state(ApplyStatus.SUPERSEDED, (), request_id, superseded_by=merged.winner_id)
            else:
                self._publish_state(outcome.status, outcome.errors, request_id, superseded_by=merged.winner_id)
        self._publish_outcome(outcome, merged.winner_id)

    def _parse(self, request: ConfigRequest, base: AgentConfig) -> RemoteResult:
        """Parse one set or patch against `base` (the running config, or what earlier queued ones made)."""
        running = self._target.config
        limits = ParseLimits(max_bytes=running.remote_config.max_bytes)
        policy = RemotePolicy.for_running(self._path, running, limits)
        extra = tuple(running.remote_config.allowed_dirs)
        policy = dataclasses.replace(policy, allowed_dirs=policy.allowed_dirs + extra)
        parse = parse_set if request.kind is RequestKind.SET else parse_patch
        return parse(request.payload, base, policy, source=request.topic)

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
        self._publish_outcome(self._apply(new, persist=False), None)

    def watch_file(self, now_mono: float) -> None:
        settings = self._target.config.remote_config
        if not settings.watch_file or now_mono < self._next_watch:
            return
        self._next_watch = now_mono + settings.watch_interval_s
        if self._stamp() != self._file_stamp:
            self.reload_file("file changed")

    def _apply(self, new: AgentConfig, persist: bool) -> Outcome:
        plan = plan_reconcile(self._target.config, new)
        if plan.is_noop:
            return Outcome(ApplyStatus.APPLIED)
        if persist:
            try:
                persist_config(self._path, new)
            except AgentError as exc:
                return Outcome(ApplyStatus.REJECTED, (ConfigIssue("file", str(exc)),))
            self._file_stamp = self._stamp()
        failure = self._target.apply_config(new, plan)
        if failure is None:
            log.info("config applied: %s", describe(plan))
            self.resubscribe()
            if plan.restart_required:
                log.warning("config fields take effect at the next restart: %s", ", ".join(plan.restart_required))
                return Outcome(ApplyStatus.APPLIED_RESTART_REQUIRED, (), plan.restart_required)
            return Outcome(ApplyStatus.APPLIED)
        log.error("config could not come up (%s); rolled back to the previous config", failure)
        if persist:
            restore_previous(self._path)
            self._file_stamp = self._stamp()
        return Outcome(ApplyStatus.ROLLED_BACK, (ConfigIssue("apply", failure),))

    def _publish_outcome(self, outcome: Outcome, request_id: str | None) -> None:
        self._publish_state(outcome.status, outcome.errors, request_id, restart_required=outcome.restart_required)

    def _publish_state(
        self,
        status: ApplyStatus,
        errors: tuple[ConfigIssue, ...],
        request_id: str | None,
        *,
        superseded_by: str | None = None,
        restart_required: tuple[str, ...] = (),
    ) -> None:
        version = config_version(self._target.config)
        state = ConfigState(version, time.time(), status, errors, request_id, superseded_by, restart_required)
        self._last_state = state
        self._broker.send(state_message(self.topics, state))

    def state_view(self) -> dict[str, object]:
        """The last published config state as JSON-ready data (GET /api/config); any thread."""
        state = self._last_state
        if state is None:
            return {"status": None}
        return {
            "version": state.version,
            "applied_at": state.applied_at,
            "status": state.status.value,
            "errors": [dataclasses.asdict(issue) for issue in state.errors],
            "request_id": state.request_id,
            "restart_required": list(state.restart_required),
            "remote_enabled": self._target.config.remote_config.enabled,
        }

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
