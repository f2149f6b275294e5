"""Small bounded statistics helpers: rolling percentiles and rate meters.

Pure: callers pass timestamps in. Used by the inference and capture threads; each
instance belongs to one thread, and readers take snapshots under the owner's lock."""

from __future__ import annotations

from collections import deque

import numpy as np


class RollingPercentiles:
    """Keeps the last `size` samples; percentiles over that window."""

    def __init__(self, size: int = 512) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self._samples.append(value)

    def percentile(self, q: float) -> float | None:
        if not self._samples:
            return None
        return float(np.percentile(np.fromiter(self._samples, dtype=np.float64), q))


class RateMeter:
    """Events per second over a sliding window of the last `window_s` seconds."""

    def __init__(self, window_s: float = 10.0, max_events: int = 4096) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque(maxlen=max_events)

    def mark(self, ts_mono: float) -> None:
        self._times.append(ts_mono)

    def rate(self, now_mono: float) -> float:
        while self._times and now_mono - self._times[0] > self.window_s:
            self._times.popleft()
        if len(self._times) < 2:
            return 0.0
        span = max(now_mono - self._times[0], 1e-6)
        return (len(self._times) - 1) / span if span < self.window_s else len(self._times) / self.window_s
