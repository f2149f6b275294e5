"""Rare objects: a label this camera has almost never seen, or sees at an hour
when it practically never appears (per-label hour-of-day histogram).

Pure; called from the analytics thread through AnomalyEngine. History is one counter
and one 24-bin histogram per label (capped at max_labels); `to_state`/`from_state` persist it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence

from agent.config.anomaly import RareObjectConfig
from agent.core.anomaly.common import AnomalyBook, AnomalyStateError, LocalTime
from agent.core.anomaly.state import RareObjectState
from agent.types import Anomaly, Track, TrackState

SEEN_TRACKS_CAP = 1024  # recent track ids remembered so each track is counted once


class RareObjectDetector:
    """Counts each confirmed track once, judging its label before counting it."""

    def __init__(self, cfg: RareObjectConfig, book: AnomalyBook) -> None:
        self._cfg = cfg
        self._book = book
        self._hours: dict[str, list[int]] = {}
        self._first_ts: float | None = None
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._last_seen: dict[str, float] = {}

    @property
    def total_tracks(self) -> int:
        return sum(sum(h) for h in self._hours.values())

    def update(self, ts: float, now: LocalTime, tracks: Sequence[Track], event_ids: Mapping[int, str]) -> list[Anomaly]:
        if self._first_ts is None:
            self._first_ts = ts
        out: list[Anomaly] = []
        for track in tracks:
            if track.state is not TrackState.CONFIRMED:
                continue
            if track.label in self._last_seen:
                self._last_seen[track.label] = ts
                self._book.add_event_ids(("rare_object", track.label), self._related(track, event_ids))
            if track.track_id in self._seen:
                continue
            self._seen[track.track_id] = None
            if len(self._seen) > SEEN_TRACKS_CAP:
                self._seen.popitem(last=False)
            out.extend(self._judge(ts, now, track, event_ids))
            self._count(track.label, now.hour)
        for label in [lb for lb, last in self._last_seen.items() if ts - last >= self._cfg.resolve_s]:
            del self._last_seen[label]
            closed = self._book.close(("rare_object", label), ts)
            out.extend([closed] if closed else [])
        return out

    @staticmethod
    def _related(track: Track, event_ids: Mapping[int, str]) -> tuple[str, ...]:
        return (event_ids[track.track_id],) if track.track_id in event_ids else ()

    def _judge(self, ts: float, now: LocalTime, track: Track, event_ids: Mapping[int, str]) -> list[Anomaly]:
        cfg = self._cfg
        first_ts = ts if self._first_ts is None else self._first_ts
        if self.total_tracks < cfg.warmup_tracks or ts - first_ts < cfg.warmup_s:
            return []
        hours = self._hours.get(track.label, [0] * 24)
        seen = sum(hours)
        details: dict[str, float | str] = {"label": track.label, "hour": float(now.hour)}
        if seen < cfg.min_count:
            details.update(reason="rare_label", observed=float(seen), threshold=float(cfg.min_count))
        elif seen >= cfg.hour_min_total:
            share = sum(hours[(now.hour + d) % 24] for d in (-1, 0, 1)) / seen
            if share > cfg.hour_max_fraction:
                return []
            details.update(reason="unusual_hour", observed=round(share, 4), threshold=cfg.hour_max_fraction)
        else:
            return []
        if track.label not in self._last_seen and len(self._last_seen) >= cfg.max_labels:
            return []
        self._last_seen[track.label] = ts
        opened = self._book.open(
            ("rare_object", track.label), "rare_object", cfg.severity, ts, details, self._related(track, event_ids)
        )
        return [opened] if opened else []

    def _count(self, label: str, hour: int) -> None:
        if label not in self._hours and len(self._hours) >= self._cfg.max_labels:
            return
        self._hours.setdefault(label, [0] * 24)[hour] += 1

    def to_state(self) -> RareObjectState:
        return RareObjectState(self._first_ts, {label: tuple(h) for label, h in self._hours.items()})

    def from_state(self, state: RareObjectState) -> None:
        """Load a saved history (at most max_labels labels); raises AnomalyStateError on a histogram without 24 bins."""
        if any(len(h) != 24 for h in state.hours.values()):
            raise AnomalyStateError(
                "rare object state has a histogram without 24 hours; delete the state file to relearn"
            )
        self._first_ts = state.first_ts
        self._hours = {label: list(h) for label, h in list(state.hours.items())[: self._cfg.max_labels]}
