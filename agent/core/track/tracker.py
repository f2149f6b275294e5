"""Multi-object tracker: IoU matching against motion-predicted boxes in two stages (ByteTrack style),
suppression of duplicate boxes inside tracked ones, and re-entry linking of lost tracks by appearance.

Pure (time comes in as `ts`, any monotonic clock in seconds; embeddings come in as data); one
instance per camera, called by the analytics thread after the detection filter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agent.config.analytics import TrackerConfig
from agent.core.track.appearance import Gallery, pair_by_distance
from agent.core.track.motion import Motion
from agent.geometry import FloatArray, boxes_to_array, iou_matrix, touches_edge
from agent.types import BBox, Detection, Embedding, Track, TrackState


class _Entry:
    """The tracker's mutable record of one track."""

    __slots__ = (
        "box",
        "first_seen",
        "gallery",
        "hits",
        "label",
        "last_seen",
        "motion",
        "score",
        "state",
        "track_id",
    )

    def __init__(self, track_id: int, det: Detection, ts: float, state: TrackState, gallery_size: int) -> None:
        self.track_id = track_id
        self.label = det.label
        self.box = det.box
        self.score = det.score
        self.state = state
        self.first_seen = ts
        self.last_seen = ts
        self.hits = 1
        self.motion = Motion(det.box, ts)
        self.gallery = Gallery(gallery_size)

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
class AppearanceRequest:
    """The tracker wants an embedding of this track's crop in the current frame (box in its pixels)."""

    track_id: int
    box: BBox


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
    detector ran on, with no detections too, so that lost tracks age.

    With `cfg.reid` set, a lost track of a re-id label that has embeddings is held (dormant: not
    returned, not IoU-matched, listed by `dormant_ids`) up to reid_window_s. After `update`, the
    caller embeds the crops `appearance_requests` names and passes them to `attach`: a new track
    whose appearance matches a lost one's continues it under the old id."""

    def __init__(self, cfg: TrackerConfig) -> None:
        self._cfg = cfg
        self._tracks: dict[int, _Entry] = {}
        self._next_id = 1
        self._ts = 0.0
        self._frame_size: tuple[int, int] | None = None
        self._removed: list[Track] = []  # the latest update's removals, returned again by attach
        self.refused_tracks = 0
        """New tracks not started because max_tracks tracks were held and none was lost."""
        self.suppressed_boxes = 0
        """Unmatched detections that started no track: mostly inside a same-label track's box."""
        self.relinked_tracks = 0
        """New tracks that continued a lost track by appearance (re-entries)."""

    def __len__(self) -> int:
        """Number of tracks held (bounded by max_tracks), dormant ones included."""
        return len(self._tracks)

    def clear(self) -> None:
        """Forget every track (detection paused). Ids go on from where they were, so they stay unique."""
        self._tracks.clear()
        self._removed = []

    def set_frame_size(self, width: int, height: int) -> None:
        """The frame size the boxes refer to, so a track that left through the frame edge is not held."""
        self._frame_size = (width, height)

    def dormant_ids(self) -> frozenset[int]:
        """Lost tracks held past max_age_s for re-entry linking: their events stay open."""
        return frozenset(e.track_id for e in self._tracks.values() if self._dormant(e, self._ts))

    def update(self, detections: Sequence[Detection], ts: float) -> list[Track]:
        cfg = self._cfg
        self._ts = ts
        high = [d for d in detections if d.score >= cfg.high_score]
        low = [d for d in detections if cfg.low_score <= d.score < cfg.high_score]
        matched: set[int] = set()
        live = [e for e in self._tracks.values() if not self._dormant(e, ts)]
        unmatched_high = self._associate(_Pass(live, high, cfg.match_iou), ts, matched)
        # Second pass: weak detections may only continue tracks already confirmed.
        rest = [e for e in live if e.track_id not in matched and e.state is not TrackState.TENTATIVE]
        self._associate(_Pass(rest, low, cfg.low_match_iou), ts, matched)
        removed: list[Track] = []
        for entry in list(self._tracks.values()):
            if entry.track_id not in matched:
                self._miss(entry, ts, removed)
        for det in unmatched_high:
            if self._contained(det, [self._tracks[i] for i in matched]):
                self.suppressed_boxes += 1
            else:
                self._start(det, ts, removed)
        self._removed = removed
        return self._snapshots()

    def appearance_requests(self) -> list[AppearanceRequest]:
        """Tracks seen in the latest frame whose crop would decide something: a new track (its first
        embedding; once more on its last TENTATIVE hit while a lost track of its label waits, as a
        first crop is often cut by an occluder), and every reid.every_n_frames-th hit of a track.
        Empty without `reid`."""
        reid = self._cfg.reid
        if reid is None:
            return []
        waiting = {e.label for e in self._tracks.values() if e.state is TrackState.LOST and e.gallery}
        out: list[AppearanceRequest] = []
        for e in self._tracks.values():
            if e.last_seen != self._ts or e.label not in reid.labels or e.box.height < reid.min_box_height_px:
                continue
            candidate = e.state is TrackState.TENTATIVE and e.label in waiting and e.hits == self._cfg.min_hits - 1
            if not e.gallery or candidate or e.hits % reid.every_n_frames == 0:
                out.append(AppearanceRequest(e.track_id, e.box))
        return out

    def attach(self, embeddings: Mapping[int, Embedding]) -> list[Track]:
        """Store the embeddings of the latest frame's requests and link new tracks to lost ones they
        match; returns what `update` returned, with linked tracks under their old ids."""
        reid = self._cfg.reid
        if reid is None:
            return self._snapshots()
        for track_id, embedding in embeddings.items():
            if (entry := self._tracks.get(track_id)) is not None:
                entry.gallery.add(embedding)
        fresh = [
            e for i, e in self._tracks.items() if i in embeddings and (e.state is TrackState.TENTATIVE or e.hits == 1)
        ]
        lost = [e for e in self._tracks.values() if e.state is TrackState.LOST and e.gallery]
        if fresh and lost:
            distances = [
                [o.gallery.distance(embeddings[n.track_id]) if o.label == n.label else 2.0 for o in lost] for n in fresh
            ]
            for r, c in pair_by_distance(distances, reid.max_cosine_distance):
                self._relink(fresh[r], lost[c])
        return self._snapshots()

    def _distance(self, new: _Entry, old: _Entry, embedding: Embedding) -> float:
        """Cosine distance of `new`'s crop to `old`'s gallery; 2.0 (no match) for another label, or when
        `new` is farther from where `old` was last seen than a slowly moving hidden person could be."""
        reid = self._cfg.reid
        if reid is None or old.label != new.label:
            return 2.0
        lost_s = max(0.0, self._ts - old.last_seen)
        reach_px = old.box.height * (1.0 + reid.max_speed_heights_per_s * lost_s)
        nx, ny = new.box.center
        # From where it was last seen (it stood still) or from where its motion would have taken it.
        seen_at = (old.box.center, old.motion.predict(self._ts).center)
        if all((x - nx) ** 2 + (y - ny) ** 2 > reach_px**2 for x, y in seen_at):
            return 2.0
        return old.gallery.distance(embedding)

    def _left_view(self, entry: _Entry) -> bool:
        if self._frame_size is None or self._cfg.reid is None:
            return False
        return touches_edge(entry.box, self._frame_size[0], self._frame_size[1], self._cfg.reid.edge_margin_px)

    def _snapshots(self) -> list[Track]:
        alive = [e.snapshot() for e in self._tracks.values() if not self._dormant(e, self._ts)]
        return alive + self._removed

    def _dormant(self, entry: _Entry, ts: float) -> bool:
        return entry.state is TrackState.LOST and ts - entry.last_seen > self._cfg.max_age_s

    def _contained(self, det: Detection, matched: list[_Entry]) -> bool:
        area = det.box.area
        if area <= 0.0:
            return False
        for entry in matched:
            if entry.label != det.label:
                continue
            b = entry.box
            w = min(det.box.x2, b.x2) - max(det.box.x1, b.x1)
            h = min(det.box.y2, b.y2) - max(det.box.y1, b.y1)
            if w > 0.0 and h > 0.0 and w * h / area >= self._cfg.contained_ratio:
                return True
        return False

    def _relink(self, new: _Entry, old: _Entry) -> None:
        """`old` (lost) continues with `new`'s sighting; `new`'s id is dropped unseen (it was TENTATIVE)."""
        old.box, old.score, old.motion = new.box, new.score, new.motion
        old.last_seen = new.last_seen
        old.hits += new.hits
        old.state = TrackState.CONFIRMED
        old.gallery.extend(new.gallery)
        del self._tracks[new.track_id]
        self.relinked_tracks += 1

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
        holdable = bool(entry.gallery) and not self._left_view(entry)
        hold_s = self._cfg.reid_hold_s(entry.label) if holdable else self._cfg.max_age_s
        if entry.state is TrackState.TENTATIVE or ts - entry.last_seen > hold_s:
            del self._tracks[entry.track_id]
            removed.append(entry.snapshot(TrackState.REMOVED))

    def _start(self, det: Detection, ts: float, removed: list[Track]) -> None:
        if len(self._tracks) >= self._cfg.max_tracks and not self._evict_oldest_lost(removed):
            self.refused_tracks += 1
            return
        state = TrackState.CONFIRMED if self._cfg.min_hits <= 1 else TrackState.TENTATIVE
        gallery_size = self._cfg.reid.gallery_size if self._cfg.reid is not None else 1
        self._tracks[self._next_id] = _Entry(self._next_id, det, ts, state, gallery_size)
        self._next_id += 1

    def _evict_oldest_lost(self, removed: list[Track]) -> bool:
        lost = [e for e in self._tracks.values() if e.state is TrackState.LOST]
        if not lost:
            return False
        oldest = min(lost, key=lambda e: e.last_seen)
        del self._tracks[oldest.track_id]
        removed.append(oldest.snapshot(TrackState.REMOVED))
        return True
