"""The config thread: applies remote requests, SIGHUP and config-file reloads and runtime toggles,
so a long apply never holds up the main thread's systemd watchdog pings. One per agent, started
and stopped by the daemon's lifecycle; its Liveness is beaten every tick and between cameras of an apply."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

log = logging.getLogger(__name__)

CONFIG_TICK_S = 0.1


class ConfigWork(Protocol):
    def config_tick(self, now_mono: float) -> None:
        """One round of config work: reloads, remote requests, toggles (may take long)."""
        ...


class Liveness:
    """The config thread's last sign of life: beaten by the thread each tick, and by long work inside
    a tick (an apply between cameras), which is built before the thread and so cannot hold the thread."""

    def __init__(self) -> None:
        self.last_mono = time.monotonic()

    def beat(self) -> None:
        self.last_mono = time.monotonic()


class ConfigWorker(threading.Thread):
    """Runs `work.config_tick` until stopped, beating `liveness` before each round."""

    def __init__(self, work: ConfigWork, liveness: Liveness) -> None:
        super().__init__(name="config", daemon=True)
        self._work = work
        self._liveness = liveness
        self._stop_event = threading.Event()

    @property
    def heartbeat_mono(self) -> float:
        return self._liveness.last_mono

    def run(self) -> None:
        while not self._stop_event.wait(CONFIG_TICK_S):
            self._liveness.beat()
            try:
                self._work.config_tick(time.monotonic())
            except Exception:  # the one broad except of this loop: a failed round must not end config handling
                log.exception("config thread: a round of config work failed")

    def stop(self) -> None:
        self._stop_event.set()


__all__ = ["ConfigWork", "ConfigWorker", "Liveness"]
