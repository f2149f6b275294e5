"""The rows the event store keeps and the API returns: typed, frozen, one per event or anomaly.

Built by agent.store.db from SQLite rows (any thread that reads), encoded to JSON by agent.web.api."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventRow:
    """One event as stored. Paths are relative to the store's root; None: no file (yet)."""

    event_id: str
    camera: str
    label: str
    sub_label: str | None
    start_ts: float
    end_ts: float | None
    best_score: float
    zones: tuple[str, ...]
    snapshot_path: str | None
    clip_path: str | None
    clip_start_ts: float | None
    clip_end_ts: float | None
    file_bytes: int


@dataclass(frozen=True, slots=True)
class AnomalyRow:
    anomaly_id: str
    camera: str
    kind: str
    severity: str
    active: bool
    started_ts: float
    ended_ts: float | None


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters of GET /api/events; None: no filter on that field."""

    camera: str | None = None
    label: str | None = None
    after_ts: float | None = None
    before_ts: float | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class ClipDone:
    """A finished clip file (relative path) covering [start_ts, end_ts], for these events."""

    camera: str
    path: str
    start_ts: float
    end_ts: float
    size_bytes: int
    event_ids: tuple[str, ...]
