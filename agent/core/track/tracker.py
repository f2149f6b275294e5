"""Multi-object tracker: IoU matching against motion-predicted boxes, ByteTrack style.

Pure (time comes in as `ts`, any monotonic clock in seconds); one instance per
camera, called by the analytics thread after the detection filter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.config.analytics import TrackerConfig
from agent.geometry import FloatArray, boxes_to_array, iou_matrix
from agent.types import BBox, Detection, Track, TrackState

# Alpha-beta filter on (cx, cy, w, h): the share of a measurement's surprise
# taken into the position, and into the velocity. Constant-velocity motion
# gives zero surprise, so these only shape how fast the filter follows turns.
ALPHA = 0.8
BETA = 0.3
MIN_SIZE_PX = 1.0

Vector4 = tuple[float, float, float, float]


def _xywh(box: BBox) -> Vector4:
    return ((box.x1 + box.x2) / 2.0, (box.y1 + box.y2) / 2.0, box.width, box.height)


def _axpy(a: Vector4, b: Vector4, k: float) -> Vector4:
    """a + k * b."""
    return (a[0] + k * b[0], a[1] + k * b[1], a[2] + k * b[2], a[3] + k * b[3])


def _sub(a: Vector4, b: Vector4) -> Vector4:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3])


_ZERO: Vector4 = (0.0, 0.0, 0.0, 0.0)


class _Motion:
    """Constant-velocity alpha-beta filter of a box's centre and size."""

    __slots__ = ("position", "ts", "updates", "velocity")

    def __init__(self, box: BBox, ts: float) -> None:
        self.position = _xywh(box)
        self.velocity = _ZERO
        self.ts = ts
        self.updates = 1

    def predict(self, ts: float) -> BBox:
        cx, cy, w, h = _axpy(self.position, self.velocity, max(0.0, ts - self.ts))
        w, h = max(w, MIN_SIZE_PX), max(h, MIN_SIZE_PX)
        return BBox(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)

    def correct(self, box: BBox, ts: float) -> None:
        z = _xywh(box)
        dt = ts - self.ts
        if dt <= 0.0:
            self.position = z
            return
        if self.updates == 1:
            # Second sighting: take the velocity straight from the two boxes.
            self.velocity = _axpy(_ZERO, _sub(z, self.position), 1.0 / dt)
            self.position = z
        else:
            predicted = _axpy(self.position, self.velocity, dt)
            surprise = _sub(z, predicted)
            self.position = _axpy(predicted, surprise, ALPHA)
            self.velocity = _axpy(self.velocity, surprise, BETA / dt)
        self.ts = ts
        self.updates += 1


class _Entry:
    """The tracker's mutable record of one track."""

    __slots__ = ("box", "first_seen", "hits", "label", "last_seen", "motion", "score", "state", "track_id")

    def __init__(self, track_id: int, det: Detection, ts: float, state: TrackState) -> None:
        self.track_id = track_id
        self.label = det.label
        self.box = det.box
        self.score = det.score
        self.state = state
        self.first_seen = ts
        self.last_seen = ts
        self.hits = 1
        self.motion = _Motion(det.box, ts)

    def snapshot(self, state: TrackState | None = None) -> Track:
        return Track(
            self.track_id,
            self.label,
            self.box,
            self.score,
            state or self.state,
            self.first_seen,
            self.last_seen,
            self.hits,
        )


@dataclass(frozen=True, slots=True)
class _Pass:
    """One association pass: which tracks and detections take part, and the IoU needed."""

    entries: list[_Entry]
    detections: list[Detection]
    min_iou: float


def greedy_match(ious: FloatArray, min_iou: float) -> list[tuple[int, int]]:
    """(row, col) pairs taken greedily by IoU, highest first, each row and col at most once.

    Greedy rather than Hungarian: with per-label gating and motion prediction the
    IoU matrix is nearly diagonal, where both give the same pairs, and it needs no scipy."""
    rows, cols = np.nonzero(ious >= min_iou)
    order = np.argsort(-ious[rows, cols], kind="stable")
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r not in used_rows and c not in used_cols:
            used_rows.add(r)
            used_cols.add(c)
            pairs.append((r, c))
    return pairs


class Tracker:
    """Associates detections across frames under ids unique for this instance's lifetime.

    `update` returns every track held after the frame (TENTATIVE, CONFIRMED, LOST),
    then the tracks this frame removed, with state REMOVED, exactly once each.
    A TENTATIVE track missed once is removed; a CONFIRMED one becomes LOST and is
    removed once unmatched for more than max_age_s. Call it for every frame the
    detector ran on, with no detections too, so that lost tracks age."""

    def __init__(self, cfg: TrackerConfig) -> None:
        self._cfg = cfg
        self._tracks: dict[int, _Entry] = {}
        self._next_id = 1
        self.refused_tracks = 0
        """New tracks not started because max_tracks tracks were held and none was lost."""

    def __len__(self) -> int:
        """Number of tracks held (bounded by max_tracks)."""
        return len(self._tracks)

    def clear(self) -> None:
        """Forget every track (detection paused). Ids go on from where they were, so they stay unique."""
        self._tracks.clear()

    def update(self, detections: Sequence[Detection], ts: float) -> list[Track]:
        cfg = self._cfg
        high = [d for d in detections if d.score >= cfg.high_score]
        low = [d for d in detections if cfg.low_score <= d.score < cfg.high_score]
        matched: set[int] = set()
        unmatched_high = self._associate(_Pass(list(self._tracks.values()), high, cfg.match_iou), ts, matched)
        # Second pass: weak detections may only continue tracks already confirmed.
        rest = [e for e in self._tracks.values() if e.track_id not in matched and e.state is not TrackState.TENTATIVE]
        self._associate(_Pass(rest, low, cfg.low_match_iou), ts, matched)
        removed: list[Track] = []
        for entry in list(self._tracks.values()):
            if entry.track_id not in matched:
                self._miss(entry, ts, removed)
        for det in unmatched_high:
            self._start(det, ts, removed)
        return [e.snapshot() for e in self._tracks.values()] + removed

    def _associate(self, step: _Pass, ts: float, matched: set[int]) -> list[Detection]:
        """Match one pass, update the matched tracks, return the detections left over."""
        if not step.entries or not step.detections:
            return list(step.detections)
        predicted = boxes_to_array([e.motion.predict(ts) for e in step.entries])
        ious = iou_matrix(predicted, boxes_to_array([d.box for d in step.detections]))
        track_labels = np.array([e.label for e in step.entries])
        det_labels = np.array([d.label for d in step.detections])
        ious = np.where(track_labels[:, None] == det_labels[None, :], ious, 0.0)
        used: set[int] = set()
        for r, c in greedy_match(ious, step.min_iou):
            self._hit(step.entries[r], step.detections[c], ts)
            matched.add(step.entries[r].track_id)
            used.add(c)
        return [d for i, d in enumerate(step.detections) if i not in used]

    def _hit(self, entry: _Entry, det: Detection, ts: float) -> None:
        entry.motion.correct(det.box, ts)
        entry.box = det.box
        entry.score = det.score
        entry.last_seen = ts
        entry.hits += 1
        if entry.state is TrackState.LOST or entry.hits >= self._cfg.min_hits:
            entry.state = TrackState.CONFIRMED

    def _miss(self, entry: _Entry, ts: float, removed: list[Track]) -> None:
        if entry.state is TrackState.CONFIRMED:
            entry.state = TrackState.LOST
        if entry.state is TrackState.TENTATIVE or ts - entry.last_seen > self._cfg.max_age_s:
            del self._tracks[entry.track_id]
            removed.append(entry.snapshot(TrackState.REMOVED))

    def _start(self, det: Detection, ts: float, removed: list[Track]) -> None:
        if len(self._tracks) >= self._cfg.max_tracks and not self._evict_oldest_lost(removed):
            self.refused_tracks += 1
            return
        state = TrackState.CONFIRMED if self._cfg.min_hits <= 1 else TrackState.TENTATIVE
        self._tracks[self._next_id] = _Entry(self._next_id, det, ts, state)
        self._next_id += 1

    def _evict_oldest_lost(self, removed: list[Track]) -> bool:
        lost = [e for e in self._tracks.values() if e.state is TrackState.LOST]
        if not lost:
            return False
        oldest = min(lost, key=lambda e: e.last_seen)
        del self._tracks[oldest.track_id]
        removed.append(oldest.snapshot(TrackState.REMOVED))
        return True
