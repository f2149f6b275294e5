"""Hands every record to each of the agent's sinks in turn, so one consumer's fault cannot starve the others.

Called on the thread that produced the record (analytics, capture). A sink that raises is counted and
logged (in full for the first few, then rarely: agent.pipeline.failures), and the record still reaches
every other sink. The composition root (agent.daemon.root) decides which sinks there are."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from agent.pipeline.failures import should_log_error
from agent.records import Record, Sink

log = logging.getLogger(__name__)


class FanOutSink:
    """A Sink that forwards to named sinks, in the order given."""

    def __init__(self, sinks: Mapping[str, Sink]) -> None:
        self._sinks = tuple(sinks.items())
        self._lock = threading.Lock()  # records come from the analytics and every capture thread
        self._errors = dict.fromkeys(sinks, 0)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._sinks)

    def errors(self) -> dict[str, int]:
        """How many records each sink failed to take, so far."""
        with self._lock:
            return dict(self._errors)

    def accept(self, record: Record) -> None:
        for name, sink in self._sinks:
            try:
                sink.accept(record)
            except Exception as exc:
                self._failed(name, record, exc)

    def _failed(self, name: str, record: Record, exc: Exception) -> None:
        with self._lock:
            self._errors[name] += 1
            count = self._errors[name]
        if should_log_error(count):
            kind = type(record).__name__
            log.error("sink %s failed on a %s record (%d failures so far)", name, kind, count, exc_info=exc)
