"""Object-count deviations: per label, a count sampled per time bucket is compared
with a learned robust baseline (median and MAD) of its hour-of-week, falling back to
hour-of-day, then camera-wide, while a slot has little data. Reports surges and absences.

Pure; called from the analytics thread through AnomalyEngine. Memory is fixed-size
rolling windows per slot; `to_state`/`from_state` let the caller persist it."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from agent.config.anomaly import CountAnomalyConfig
from agent.core.anomaly.common import AnomalyBook, AnomalyStateError, local_time
from agent.core.anomaly.state import CountBaselineState, LabelLevels, Slots
from agent.types import Anomaly, Track, TrackState

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation
STATE_DECIMALS = 2
MAX_UNLEARNED_BUCKETS = 1440  # after this many anomalous buckets in a row the change is learned as the new normal


class RollingSlots:
    """`n_slots` rolling windows of the newest `window` float samples each."""

    def __init__(self, n_slots: int, window: int) -> None:
        self.values: npt.NDArray[np.float32] = np.zeros((n_slots, window), dtype=np.float32)
        self.sizes: npt.NDArray[np.int64] = np.zeros(n_slots, dtype=np.int64)
        self.heads: npt.NDArray[np.int64] = np.zeros(n_slots, dtype=np.int64)

    def add(self, slot: int, value: float) -> None:
        window = self.values.shape[1]
        self.values[slot, self.heads[slot]] = value
        self.heads[slot] = (self.heads[slot] + 1) % window
        self.sizes[slot] = min(window, self.sizes[slot] + 1)

    def samples(self, slot: int) -> npt.NDArray[np.float32]:
        return self.values[slot, : self.sizes[slot]]

    def to_state(self) -> Slots:
        """Each slot's samples oldest first, rounded (they are saved as JSON)."""
        out: list[tuple[float, ...]] = []
        for slot in range(self.values.shape[0]):
            n, head = int(self.sizes[slot]), int(self.heads[slot])
            ordered = np.roll(self.values[slot], -head)[-n:] if n else self.values[slot, :0]
            out.append(tuple(round(float(v), STATE_DECIMALS) for v in ordered))
        return tuple(out)

    def load(self, slots: Sequence[Sequence[float]]) -> None:
        if len(slots) != self.values.shape[0]:
            raise AnomalyStateError(f"count baseline state has {len(slots)} slots, expected {self.values.shape[0]}")
        for slot, samples in enumerate(slots):
            for value in samples[-self.values.shape[1] :]:
                self.add(slot, float(value))


class LabelBaseline:
    """The three levels of rolling windows of one label."""

    def __init__(self, cfg: CountAnomalyConfig) -> None:
        self.hour_of_week = RollingSlots(168, cfg.hour_of_week_window)
        self.hour_of_day = RollingSlots(24, cfg.hour_of_day_window)
        self.overall = RollingSlots(1, cfg.global_window)
        self.learned = 0  # buckets learned so far, for the warm-up

    def add(self, hour_of_week: int, value: float) -> None:
        self.learned += 1
        self.hour_of_week.add(hour_of_week, value)
        self.hour_of_day.add(hour_of_week % 24, value)
        self.overall.add(0, value)


@dataclass(frozen=True, slots=True)
class Expectation:
    median: float
    scale: float
    source: str  # which level answered: hour_of_week | hour_of_day | global


@dataclass(slots=True)
class _Streaks:
    surge: int = 0
    absence: int = 0
    normal: int = 0
    unlearned: int = 0
    started_ts: dict[str, float] = field(default_factory=dict)


class CountDetector:
    """Accumulates per-label counts per bucket; judges each closed bucket against the baseline."""

    def __init__(self, cfg: CountAnomalyConfig, tz: dt.tzinfo, book: AnomalyBook) -> None:
        self._cfg = cfg
        self._tz = tz
        self._book = book
        self._labels: dict[str, LabelBaseline] = {label: LabelBaseline(cfg) for label in cfg.labels[: cfg.max_labels]}
        self._streaks: dict[str, _Streaks] = {}
        self._bucket: int | None = None
        self._frames = 0
        self._sum: dict[str, float] = {}
        self._max: dict[str, float] = {}
        self._suppressed = False

    def update(self, ts: float, tracks: Sequence[Track], suppressed: bool = False) -> list[Anomaly]:
        """Add one frame's counts; `suppressed` (tamper or stream fault open) voids the current bucket."""
        bucket = math.floor(ts / self._cfg.bucket_s)
        out: list[Anomaly] = []
        if self._bucket is not None and bucket != self._bucket:
            out = self._close_bucket()
        if bucket != self._bucket:
            self._bucket, self._frames, self._sum, self._max, self._suppressed = bucket, 0, {}, {}, False
        self._suppressed = self._suppressed or suppressed
        counts: dict[str, int] = {}
        for track in tracks:
            if track.state is TrackState.CONFIRMED:
                counts[track.label] = counts.get(track.label, 0) + 1
        for label, n in counts.items():
            if label not in self._labels and not self._cfg.labels and len(self._labels) < self._cfg.max_labels:
                self._labels[label] = LabelBaseline(self._cfg)
            self._sum[label] = self._sum.get(label, 0.0) + n
            self._max[label] = max(self._max.get(label, 0.0), float(n))
        self._frames += 1
        return out

    def expectation(self, label: str, hour_of_week: int) -> Expectation | None:
        """The baseline for `label` at `hour_of_week`, or None during warm-up."""
        base = self._labels.get(label)
        if base is None or base.learned * self._cfg.bucket_s < self._cfg.warmup_s:
            return None
        levels = (
            (base.hour_of_week, hour_of_week, "hour_of_week"),
            (base.hour_of_day, hour_of_week % 24, "hour_of_day"),
            (base.overall, 0, "global"),
        )
        for slots, slot, source in levels:
            samples = slots.samples(slot)
            if len(samples) >= self._cfg.min_slot_samples or source == "global":
                median = float(np.median(samples))
                mad = float(np.median(np.abs(samples - median)))
                factor = 1.0 if source == "hour_of_week" else self._cfg.fallback_scale_factor
                return Expectation(median, factor * max(MAD_TO_SIGMA * mad, self._cfg.min_scale_objects), source)
        return None

    def _close_bucket(self) -> list[Anomaly]:
        if self._bucket is None or self._frames == 0 or self._suppressed:
            return []
        start_ts = self._bucket * self._cfg.bucket_s
        hour_of_week = local_time(start_ts, self._tz).hour_of_week
        out: list[Anomaly] = []
        for label, base in self._labels.items():
            value = (
                self._max.get(label, 0.0) if self._cfg.statistic == "max" else self._sum.get(label, 0.0) / self._frames
            )
            expected = self.expectation(label, hour_of_week)
            anomalous = False
            if expected is not None:
                z = (value - expected.median) / expected.scale
                out.extend(self._judge(label, start_ts, value, expected, z))
                anomalous = z >= self._cfg.surge_z or (
                    z <= -self._cfg.absence_z and expected.median >= self._cfg.absence_min_expected
                )
            streaks = self._streaks.setdefault(label, _Streaks())
            streaks.unlearned = streaks.unlearned + 1 if anomalous else 0
            if not anomalous or streaks.unlearned > MAX_UNLEARNED_BUCKETS:
                base.add(hour_of_week, value)
        return out

    def _judge(self, label: str, start_ts: float, value: float, expected: Expectation, z: float) -> list[Anomaly]:
        cfg = self._cfg
        s = self._streaks.setdefault(label, _Streaks())
        surge = z >= cfg.surge_z
        absence = z <= -cfg.absence_z and expected.median >= cfg.absence_min_expected
        s.surge = s.surge + 1 if surge else 0
        s.absence = s.absence + 1 if absence else 0
        s.normal = 0 if (surge or absence) else s.normal + 1
        out: list[Anomaly] = []
        for kind, streak, threshold in (("surge", s.surge, cfg.surge_z), ("absence", s.absence, -cfg.absence_z)):
            key = ("count", kind, label)
            if streak == 1:
                s.started_ts[kind] = start_ts
            if streak >= cfg.sustain_buckets and not self._book.is_open(key):
                details: dict[str, float | str] = {
                    "label": label,
                    "observed": round(value, 2),
                    "expected": round(expected.median, 2),
                    "z": round(z, 2),
                    "threshold": threshold,
                    "baseline": expected.source,
                }
                opened = self._book.open(key, f"count_{kind}", cfg.severity, s.started_ts.get(kind, start_ts), details)
                out.extend([opened] if opened else [])
            elif self._book.is_open(key) and s.normal >= cfg.resolve_buckets:
                closed = self._book.close(key, start_ts, {"resolved_observed": round(value, 2)})
                out.extend([closed] if closed else [])
        return out

    def to_state(self) -> CountBaselineState:
        labels = {
            label: LabelLevels(b.hour_of_week.to_state(), b.hour_of_day.to_state(), b.overall.to_state(), b.learned)
            for label, b in self._labels.items()
        }
        return CountBaselineState(self._cfg.bucket_s, labels)

    def from_state(self, state: CountBaselineState) -> None:
        """Load a saved baseline; a different bucket_s makes samples incomparable, so they are dropped.

        Raises AnomalyStateError if a level has the wrong number of slots."""
        if state.bucket_s != self._cfg.bucket_s:
            return
        for label, levels in state.labels.items():
            if label not in self._labels and (self._cfg.labels or len(self._labels) >= self._cfg.max_labels):
                continue
            base = LabelBaseline(self._cfg)
            base.hour_of_week.load(levels.hour_of_week)
            base.hour_of_day.load(levels.hour_of_day)
            base.overall.load(levels.global_)
            base.learned = levels.learned
            self._labels[label] = base
