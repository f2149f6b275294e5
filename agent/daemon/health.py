"""Worker liveness: which workers have stalled (for the systemd watchdog), and how long a stop waits
for a worker thread. Pure: heartbeats and the time come in."""

from __future__ import annotations

from collections.abc import Iterable

from agent.types import Heartbeat


def stalled_workers(beats: Iterable[Heartbeat], now_mono: float, stall_s: float) -> list[str]:
    """Names of the workers that should be alive but have not beaten for more than `stall_s`."""
    return [b.worker for b in beats if b.expected and now_mono - b.last_mono > stall_s]


# How long a stop waits for each worker thread (capture, detector, analytics, snapshots); one still
# running after it is left to end on its own (its heartbeat goes stale) and the stop goes on.
JOIN_TIMEOUT_S = 2.0
