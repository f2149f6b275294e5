"""Per-camera detection counters, written by the analytics thread (processed, skipped) and the
detector threads (starved), read by the supervisor.

One lock per camera; the supervisor takes a consistent snapshot for the stats message."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from agent.pipeline.rates import RateMeter, RollingPercentiles


@dataclass(frozen=True, slots=True)
class DetectCountersSnapshot:
    processed: int
    detect_fps: float
    inference_ms_p50: float | None
    inference_ms_p95: float | None
    skipped: int
    starved: int


class DetectCounters:
    """Counts of one camera's trips through the detector."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processed = 0
        self._skipped = 0
        self._starved = 0
        self._inference_ms = RollingPercentiles()
        self._rate = RateMeter()

    def detected(self, inference_ms: float, ts_mono: float) -> None:
        with self._lock:
            self._processed += 1
            self._inference_ms.add(inference_ms)
            self._rate.mark(ts_mono)

    def skipped(self) -> None:
        """The frame was looked at but the detector was not needed (motion gate)."""
        with self._lock:
            self._skipped += 1

    def starved(self) -> None:
        """The camera was due but waited more than one interval for the detector."""
        with self._lock:
            self._starved += 1

    def snapshot(self, now_mono: float) -> DetectCountersSnapshot:
        with self._lock:
            return DetectCountersSnapshot(
                self._processed,
                self._rate.rate(now_mono),
                self._inference_ms.percentile(50),
                self._inference_ms.percentile(95),
                self._skipped,
                self._starved,
            )
