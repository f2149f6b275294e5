"""Jittered exponential backoff for reconnect loops (cameras, broker).

Pure: the caller sleeps; this only computes delays. Full jitter on the upper half
keeps a fleet of devices from reconnecting in lockstep after a broker restart."""

from __future__ import annotations

import random


class Backoff:
    """Delay after the n-th consecutive failure: uniform in [d/2, d], d = min(max, initial * 2**n)."""

    def __init__(self, initial_s: float, max_s: float, rng: random.Random | None = None) -> None:
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got initial_s={initial_s}, max_s={max_s}")
        self.initial_s = initial_s
        self.max_s = max_s
        self.failures = 0
        self._rng = rng if rng is not None else random.Random()

    def next_delay_s(self) -> float:
        ceiling = min(self.max_s, self.initial_s * (2.0 ** min(self.failures, 32)))
        self.failures += 1
        return self._rng.uniform(ceiling / 2.0, ceiling)

    def reset(self) -> None:
        self.failures = 0
