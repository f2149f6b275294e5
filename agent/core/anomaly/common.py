"""Building blocks shared by the anomaly detectors: the book of open anomalies,
the sustain/hysteresis latch, and local-time decomposition of a wall timestamp.

Pure: time comes in as arguments. Called from the analytics thread via AnomalyEngine."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace

from agent.errors import AgentError
from agent.types import Anomaly, Severity

IdFactory = Callable[[], str]
Details = dict[str, float | str]
MAX_EVENT_IDS = 16


@dataclass(frozen=True, slots=True)
class LocalTime:
    """A wall timestamp seen on the camera's local clock."""

    weekday: int  # 0 = Monday
    hour: int
    minute: int

    @property
    def hour_of_week(self) -> int:
        return self.weekday * 24 + self.hour

    @property
    def minute_of_day(self) -> int:
        return self.hour * 60 + self.minute


def load_zone(name: str) -> dt.tzinfo:
    """The tzinfo of an IANA name; 'UTC' needs no tz database."""
    return dt.UTC if name == "UTC" else zoneinfo.ZoneInfo(name)


def local_time(ts_wall: float, tz: dt.tzinfo) -> LocalTime:
    moment = dt.datetime.fromtimestamp(ts_wall, tz)
    return LocalTime(moment.weekday(), moment.hour, moment.minute)


class AnomalyBook:
    """The anomalies currently active on one camera, keyed by (kind, subject).

    Emits the `active` Anomaly when one opens and the matching `resolved` one
    (same anomaly_id) when it closes. Keys are bounded by the detectors' own bounds."""

    def __init__(self, camera: str, id_factory: IdFactory) -> None:
        self._camera = camera
        self._ids = id_factory
        self._open: dict[Hashable, Anomaly] = {}

    def is_open(self, key: Hashable) -> bool:
        return key in self._open

    def open(
        self,
        key: Hashable,
        kind: str,
        severity: Severity,
        started_ts: float,
        details: Details,
        event_ids: tuple[str, ...] = (),
    ) -> Anomaly | None:
        """Open an anomaly unless `key` is already open; return the state change."""
        if key in self._open:
            return None
        anomaly = Anomaly(
            anomaly_id=self._ids(),
            kind=kind,
            camera=self._camera,
            severity=severity,
            active=True,
            started_ts=started_ts,
            details=dict(details),
            event_ids=event_ids[:MAX_EVENT_IDS],
        )
        self._open[key] = anomaly
        return anomaly

    def add_event_ids(self, key: Hashable, event_ids: tuple[str, ...]) -> None:
        """Remember more related events for the resolved message (bounded)."""
        current = self._open.get(key)
        if current is None or not event_ids:
            return
        merged = current.event_ids + tuple(e for e in event_ids if e not in current.event_ids)
        self._open[key] = replace(current, event_ids=merged[:MAX_EVENT_IDS])

    def close(self, key: Hashable, ended_ts: float, details: Details | None = None) -> Anomaly | None:
        """Close `key` if open; return the resolved state change."""
        current = self._open.pop(key, None)
        if current is None:
            return None
        merged = {**current.details, **(details or {})}
        return replace(current, active=False, ended_ts=ended_ts, details=merged)

    def close_all(self, ended_ts: float) -> list[Anomaly]:
        return [a for a in (self.close(k, ended_ts) for k in list(self._open)) if a is not None]

    def close_matching(self, ended_ts: float, predicate: Callable[[Hashable], bool]) -> list[Anomaly]:
        keys = [k for k in self._open if predicate(k)]
        return [a for a in (self.close(k, ended_ts) for k in keys) if a is not None]


@dataclass(slots=True)
class Latch:
    """A condition that must hold `sustain_s` to turn on and be clear `resolve_s` to turn off.

    `firing` and `clear` are separate so callers get hysteresis: between the two
    thresholds neither timer runs. `since` is when the pending transition began."""

    sustain_s: float
    resolve_s: float
    on: bool = False
    since: float | None = None
    started_ts: float = 0.0

    def step(self, ts: float, firing: bool, clear: bool) -> bool | None:
        """Advance; return True when the latch turns on, False when it turns off, else None."""
        pending = clear if self.on else firing
        if not pending:
            self.since = None
            return None
        if self.since is None:
            self.since = ts
        held = ts - self.since
        if not self.on and held >= self.sustain_s:
            self.on, self.started_ts, self.since = True, self.since, None
            return True
        if self.on and held >= self.resolve_s:
            self.on, self.since = False, None
            return False
        return None

    def reset(self) -> None:
        self.on, self.since = False, None


class AnomalyStateError(AgentError):
    """Saved anomaly state (baselines, histograms) cannot be loaded; deleting the file relearns it."""
