"""Restricted zones: a forbidden label inside a zone, optionally only during
local-time windows (e.g. person in the yard between 23:00 and 06:00).

Pure; called from the analytics thread through AnomalyEngine. One anomaly per rule
while any violation lasts; state is one latch per configured rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.config.anomaly import RestrictedRule, RestrictedZoneConfig, TimeWindow
from agent.core.anomaly.common import AnomalyBook, Latch, LocalTime
from agent.types import Anomaly, Track, TrackState

MINUTES_PER_DAY = 24 * 60


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def window_contains(window: TimeWindow, now: LocalTime) -> bool:
    """True if local time `now` falls in `window`; a window ending at or before its start wraps midnight."""
    start, end, minute = _minutes(window.start), _minutes(window.end), now.minute_of_day
    if start == end:
        return now.weekday in window.weekdays
    if start < end:
        return now.weekday in window.weekdays and start <= minute < end
    if minute >= start:
        return now.weekday in window.weekdays
    return minute < end and (now.weekday - 1) % 7 in window.weekdays


def rule_applies(rule: RestrictedRule, now: LocalTime) -> bool:
    return not rule.schedule or any(window_contains(w, now) for w in rule.schedule)


class RestrictedZoneDetector:
    """Checks each rule against the confirmed tracks' current zones."""

    def __init__(self, cfg: RestrictedZoneConfig, book: AnomalyBook) -> None:
        self._cfg = cfg
        self._book = book
        self._latches = {rule.name: Latch(cfg.min_dwell_s, cfg.resolve_s) for rule in cfg.rules}

    def update(
        self,
        ts: float,
        now: LocalTime,
        tracks: Sequence[Track],
        zones_by_track: Mapping[int, tuple[str, ...]],
        event_ids: Mapping[int, str],
    ) -> list[Anomaly]:
        out: list[Anomaly] = []
        for rule in self._cfg.rules:
            violators = self._violators(rule, now, tracks, zones_by_track)
            key = ("restricted_zone", rule.name)
            related = tuple(event_ids[t.track_id] for t in violators if t.track_id in event_ids)
            change = self._latches[rule.name].step(ts, bool(violators), not violators)
            if change is True:
                details: dict[str, float | str] = {
                    "rule": rule.name,
                    "zone": rule.zone,
                    "observed": ",".join(sorted({t.label for t in violators})),
                    "expected": "none",
                    "count": float(len(violators)),
                }
                opened = self._book.open(
                    key, "restricted_zone", self._cfg.severity, self._latches[rule.name].started_ts, details, related
                )
                out.extend([opened] if opened else [])
            elif change is False:
                closed = self._book.close(key, ts)
                out.extend([closed] if closed else [])
            elif violators:
                self._book.add_event_ids(key, related)
        return out

    @staticmethod
    def _violators(
        rule: RestrictedRule, now: LocalTime, tracks: Sequence[Track], zones_by_track: Mapping[int, tuple[str, ...]]
    ) -> list[Track]:
        if not rule_applies(rule, now):
            return []
        return [
            t
            for t in tracks
            if t.state is TrackState.CONFIRMED
            and (not rule.labels or t.label in rule.labels)
            and rule.zone in zones_by_track.get(t.track_id, ())
        ]
