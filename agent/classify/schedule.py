"""When a state classifier's region is due (pure: time and motion come in as arguments).

Called by the camera's processor on the analytics thread at every analysed frame."""

from __future__ import annotations

from agent.config.recognition import StateClassifierConfig


class StateSchedule:
    """Every `interval_s`; with `on_motion`, only while there is motion, plus once when it stops
    (so the state settles on the scene motion left behind)."""

    def __init__(self, cfg: StateClassifierConfig) -> None:
        self._cfg = cfg
        self._next_ts: float | None = None
        self._had_motion = False

    def due(self, ts: float, motion: bool) -> bool:
        stopped = self._had_motion and not motion
        self._had_motion = motion
        if self._cfg.on_motion and not motion and not stopped and self._next_ts is not None:
            return False
        if stopped or self._next_ts is None or ts >= self._next_ts:
            self._next_ts = ts + self._cfg.interval_s
            return True
        return False
