"""Which events the store deletes: every event older than the age limit, then the oldest until the
files fit in max_mb. Pure: rows, totals and the time come in (the store's writer thread calls it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.config.web import StorageConfig
from agent.store.rows import EventRow

BYTES_PER_MB = 1024 * 1024
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class StoreLimits:
    max_bytes: int
    max_age_s: float

    @classmethod
    def from_config(cls, config: StorageConfig) -> StoreLimits:
        return cls(int(config.max_mb * BYTES_PER_MB), config.retain_days * SECONDS_PER_DAY)


def plan_prune(oldest_first: Sequence[EventRow], total_bytes: int, now_ts: float, limits: StoreLimits) -> list[str]:
    """Ids to delete from `oldest_first` (a prefix of the store, oldest first): those past the age
    limit and, while `total_bytes` is over max_bytes, the next oldest. Open events are kept: their
    files may still grow."""
    doomed: list[str] = []
    for row in oldest_first:
        too_old = now_ts - row.start_ts > limits.max_age_s
        if not too_old and total_bytes <= limits.max_bytes:
            break
        if row.end_ts is None and not too_old:
            continue
        doomed.append(row.event_id)
        total_bytes -= row.file_bytes
    return doomed
