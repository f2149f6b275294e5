"""Counts what a batch run found, for the summary table: events per label, line totals, anomalies by kind.

A Sink on the analytics thread; `summary()` is read once the pipeline has stopped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from agent.records import LineTotals, Record
from agent.types import Anomaly, Event, EventKind


@dataclass(frozen=True, slots=True)
class Tally:
    """What one file gave: events started per label, each line's final totals, anomalies raised per kind."""

    events: dict[str, int]
    lines: dict[str, tuple[int, int]]  # line -> (a_to_b, b_to_a)
    anomalies: dict[str, int]
    event_seconds: tuple[float, ...]  # the duration of every ended event, in the clip's time


class TallySink:
    def __init__(self) -> None:
        self._events: Counter[str] = Counter()
        self._lines: dict[str, tuple[int, int]] = {}
        self._anomalies: Counter[str] = Counter()
        self._durations: list[float] = []

    def accept(self, record: Record) -> None:
        if isinstance(record, Event):
            if record.kind is EventKind.START:
                self._events[record.track.label] += 1
            elif record.kind is EventKind.END and record.end_ts is not None:
                self._durations.append(record.end_ts - record.start_ts)
        elif isinstance(record, LineTotals):
            self._lines[record.line] = (record.a_to_b, record.b_to_a)
        elif isinstance(record, Anomaly) and record.active:
            self._anomalies[record.kind] += 1

    def summary(self) -> Tally:
        return Tally(dict(self._events), dict(self._lines), dict(self._anomalies), tuple(self._durations))
