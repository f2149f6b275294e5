"""Worker liveness for the systemd watchdog. Pure: heartbeats and the time come in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A worker's last sign of life; `expected` is False for a worker that finished on purpose."""

    worker: str
    last_mono: float
    expected: bool


def stalled_workers(beats: Iterable[Heartbeat], now_mono: float, stall_s: float) -> list[str]:
    """Names of the workers that should be alive but have not beaten for more than `stall_s`."""
    return [b.worker for b in beats if b.expected and now_mono - b.last_mono > stall_s]
