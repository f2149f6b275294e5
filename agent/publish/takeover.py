"""Spots a client-id takeover from the trail it leaves: the broker ends session after session soon
after it began. Two clients with one id kick each other off for ever (the broker drops the older),
and MQTT 3.1.1 gives no reason, so the pattern is all there is to go on.

Pure: the publisher's network thread passes in how long each session lasted and the time."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

SHORT_SESSION_S = 10.0  # a takeover ends a session within the other client's reconnect delay (paho: 1 s)
SUSPECT_DROPS = 3
WINDOW_S = 60.0
REPORT_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class TakeoverReport:
    """`drops` short sessions in the `streak_s` since the streak began; `new_drops` since the last report."""

    drops: int
    streak_s: float
    new_drops: int


class TakeoverWatch:
    """`suspect_drops` sessions shorter than `short_session_s` within `window_s` make a takeover
    suspected, until a session lasts. Reports are due at most every `report_interval_s`, across streaks."""

    def __init__(
        self,
        short_session_s: float = SHORT_SESSION_S,
        suspect_drops: int = SUSPECT_DROPS,
        window_s: float = WINDOW_S,
        report_interval_s: float = REPORT_INTERVAL_S,
    ) -> None:
        if min(short_session_s, window_s, report_interval_s) <= 0 or suspect_drops < 1:
            raise ValueError("need short_session_s, window_s and report_interval_s > 0 and suspect_drops >= 1")
        self.short_session_s = short_session_s
        self._window_s = window_s
        self._report_interval_s = report_interval_s
        self._recent: deque[float] = deque(maxlen=suspect_drops)  # times of the latest short drops
        self._streak_start_mono = 0.0
        self._last_report_mono: float | None = None
        self._reported = 0
        self.drops = 0  # short drops in the current streak
        self.suspected = False

    def session_dropped(self, lasted_s: float, now_mono: float) -> TakeoverReport | None:
        """The broker (or the network) ended a session that had been up `lasted_s`; a report when one is due."""
        if lasted_s >= self.short_session_s:
            self.session_lasted()
            return None
        if self.drops == 0:
            self._streak_start_mono = now_mono - lasted_s
        self.drops += 1
        self._recent.append(now_mono)
        full = len(self._recent) == self._recent.maxlen and now_mono - self._recent[0] <= self._window_s
        self.suspected = self.suspected or full
        due = self._last_report_mono is None or now_mono - self._last_report_mono >= self._report_interval_s
        if not (self.suspected and due):
            return None
        report = TakeoverReport(self.drops, now_mono - self._streak_start_mono, self.drops - self._reported)
        self._last_report_mono, self._reported = now_mono, self.drops
        return report

    def session_lasted(self) -> int:
        """A session stayed up `short_session_s`, or ended by our choice: the streak is over. Returns its drops."""
        drops = self.drops
        self._recent.clear()
        self._reported = 0
        self.drops = 0
        self.suspected = False
        return drops
