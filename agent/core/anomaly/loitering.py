"""Loitering: a track stays inside one zone longer than max_dwell_s.

Pure; called from the analytics thread through AnomalyEngine. State is one entry
per (track, zone) pair currently present, capped at max_tracked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.config.anomaly import LoiteringConfig
from agent.core.anomaly.common import AnomalyBook
from agent.types import Anomaly, Track, TrackState


@dataclass(slots=True)
class _Stay:
    entered_ts: float
    last_ts: float
    label: str


class LoiteringDetector:
    """Tracks how long each (track, zone) pair has lasted; opens one anomaly per pair over the limit."""

    def __init__(self, cfg: LoiteringConfig, book: AnomalyBook) -> None:
        self._cfg = cfg
        self._book = book
        self._stays: dict[tuple[int, str], _Stay] = {}

    def update(
        self,
        ts: float,
        tracks: Sequence[Track],
        zones_by_track: Mapping[int, tuple[str, ...]],
        event_ids: Mapping[int, str],
    ) -> list[Anomaly]:
        cfg = self._cfg
        out: list[Anomaly] = []
        for track in tracks:
            if track.state is TrackState.REMOVED or (cfg.labels and track.label not in cfg.labels):
                continue
            for zone in zones_by_track.get(track.track_id, ()):
                if cfg.zones and zone not in cfg.zones:
                    continue
                stay = self._stays.get((track.track_id, zone))
                if stay is None:
                    self._stays[(track.track_id, zone)] = stay = _Stay(ts, ts, track.label)
                stay.last_ts = ts
                dwell = ts - stay.entered_ts
                if dwell >= cfg.max_dwell_s:
                    out.extend(self._open(track.track_id, zone, stay, dwell, event_ids))
        out.extend(self._expire(ts))
        return out

    def _open(self, track_id: int, zone: str, stay: _Stay, dwell: float, event_ids: Mapping[int, str]) -> list[Anomaly]:
        key = ("loitering", track_id, zone)
        if self._book.is_open(key):
            return []
        details: dict[str, float | str] = {
            "zone": zone,
            "label": stay.label,
            "track_id": float(track_id),
            "observed": round(dwell, 1),
            "threshold": self._cfg.max_dwell_s,
        }
        related = (event_ids[track_id],) if track_id in event_ids else ()
        opened = self._book.open(key, "loitering", self._cfg.severity, stay.entered_ts, details, related)
        return [opened] if opened else []

    def _expire(self, ts: float) -> list[Anomaly]:
        """Close pairs not seen for grace_s; drop the stalest pairs past max_tracked."""
        gone = [k for k, s in self._stays.items() if ts - s.last_ts > self._cfg.grace_s]
        overflow = len(self._stays) - len(gone) - self._cfg.max_tracked
        if overflow > 0:
            alive = sorted((s.last_ts, k) for k, s in self._stays.items() if k not in set(gone))
            gone.extend(k for _, k in alive[:overflow])
        out: list[Anomaly] = []
        for key in gone:
            stay = self._stays.pop(key)
            closed = self._book.close(
                ("loitering", *key), stay.last_ts, {"observed": round(stay.last_ts - stay.entered_ts, 1)}
            )
            out.extend([closed] if closed else [])
        return out
