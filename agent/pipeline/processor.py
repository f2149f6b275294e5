"""Per-camera analytics on the analytics thread: filters, tracker, zones, events, lines,
counts, snapshots, anomalies and the motion state, turned into domain records (agent.records).

One CameraProcessor per camera; only the analytics thread calls it. Geometry that
depends on the frame size (zones, lines) is built at the first frame. The camera's runtime
toggles are read on every frame: with detect OFF its events end and tracking pauses."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from agent.classify.region import region_pixels
from agent.classify.schedule import StateSchedule
from agent.classify.sub_labels import SubLabel
from agent.config.outputs import SnapshotConfig
from agent.config.schema import CameraConfig
from agent.core.counts import ObjectCounter
from agent.core.events import EventEngine
from agent.core.filters import DetectionFilter
from agent.core.lines import LineCounter
from agent.core.track import Tracker
from agent.core.zones import ZoneTracker
from agent.errors import ConfigError
from agent.pipeline.anomaly_stage import AnomalyStage
from agent.pipeline.counters import DetectCounters
from agent.records import (
    BestCrop,
    CountChange,
    FrameDetections,
    LineTotals,
    MotionChange,
    Record,
    RegionCrop,
    SnapshotJob,
)
from agent.reid import Embedder
from agent.snapshots.worker import bounded_copy, crop_region, make_jobs
from agent.toggles import CameraToggles
from agent.types import (
    Anomaly,
    BBox,
    DetectionResult,
    Event,
    EventKind,
    Frame,
    FrameClock,
    LineCrossing,
    Track,
    TrackState,
)

log = logging.getLogger(__name__)

ZonesByTrack = dict[int, tuple[str, ...]]
MotionReader = Callable[[float], bool]  # is there motion at this monotonic time (DetectionStage.motion_active)


def new_event_id() -> str:
    return uuid.uuid4().hex


class SnapshotIndex(Protocol):
    """Which events have a published snapshot (agent.snapshots.worker.SnapshotWorker, which also
    takes the SnapshotJob records as a sink and forgets an event at its end record)."""

    def has_snapshot(self, event_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Snapshots:
    index: SnapshotIndex
    config: SnapshotConfig


class SubLabelIndex(Protocol):
    """The sub_labels second-stage classifiers gave to open events (agent.classify.sub_labels.SubLabelBook)."""

    def of(self, event_id: str) -> SubLabel | None: ...

    def forget(self, event_id: str) -> None: ...


CROP_MARGIN_FRAC = 0.1  # a little context around the box, as the classifiers were trained on (agent.dataset)
CROP_MAX_PX = 320  # crops for classifiers and datasets are bounded copies: the backbone sees 224x224
FRAME_MAX_PX = 1280  # whole frames for datasets (detector training images)


@dataclass(frozen=True, slots=True)
class SecondStageHooks:
    """What the second stage (agent.classify, agent.dataset) needs from a camera's analytics: the best
    crops of events of `crop_labels`, and the sub_labels to put on event messages."""

    sub_labels: SubLabelIndex
    crop_labels: frozenset[str]
    frame_labels: frozenset[str] = frozenset()  # labels whose crops also carry the whole frame (datasets)


class CameraProcessor:
    """Everything that happens to one camera's frame after capture."""

    def __init__(
        self,
        name: str,
        cfg: CameraConfig,
        model_min_score: float,
        counters: DetectCounters,
        anomalies: AnomalyStage | None = None,
        snapshots: Snapshots | None = None,
        event_ids: Callable[[], str] = new_event_id,
        toggles: CameraToggles | None = None,
        motion: MotionReader | None = None,
        second_stage: SecondStageHooks | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.name = name
        self.cfg = cfg
        self._counters = counters
        self._anomalies = anomalies
        self._snapshots = snapshots
        self._toggles = toggles if toggles is not None else CameraToggles()
        self._motion = motion
        self._motion_reported: bool | None = None
        self._second_stage = second_stage
        self._state_schedules = {state: StateSchedule(c) for state, c in cfg.states.items()}
        self._state_regions: dict[str, tuple[int, int, int, int] | None] = {}
        self._stamped: dict[str, SubLabel] = {}  # open events: the sub_label their last message carried
        self._paused = False  # detect is OFF and this processor has ended its events for it
        self._filter = DetectionFilter(cfg, model_min_score)
        self._tracker = Tracker(cfg.tracker)
        self._embedder = embedder if cfg.tracker.reid is not None else None
        self._events = EventEngine(name, cfg.events, cfg.tracker.max_age_s, event_ids)
        self._counter = ObjectCounter()
        self._detector_floor = min(self._filter.lowest_min_score(), cfg.tracker.low_score)
        self._frame_size: tuple[int, int] | None = None
        self._zones: ZoneTracker | None = None
        self._lines: LineCounter | None = None
        self._tracks: list[Track] = []
        self._zones_now: ZonesByTrack = {}
        self._media_ts_wall: float | None = None  # a video file's: the last frame's media time on the wall clock
        # Read by the detector thread (motion gate, regions) while this thread replaces it: one
        # reference assignment per frame, so the reader sees the old or the new tuple, never half.
        self.active_boxes: tuple[BBox, ...] = ()

    @property
    def detector_floor(self) -> float:
        """The lowest score any filter or the tracker's second pass can use: the detector's cut-off."""
        return self._detector_floor

    def process(self, frame: Frame, result: DetectionResult | None) -> list[Record]:
        """A frame and what the detector found on it; None: the detector did not run (motion gate, detect OFF).

        With detect OFF a result is dropped: it was detected before the switch."""
        if frame.clock is FrameClock.MEDIA:
            self._media_ts_wall = frame.ts_wall
        if not self._toggles.detect:
            out = self._pause(frame.ts_wall)
            out.extend(self._anomaly_records(frame))
        elif result is None:
            self._paused = False
            self._counters.skipped()
            out = self._anomaly_records(frame)
        else:
            self._paused = False
            self._counters.detected(result.inference_ms, time.monotonic())  # the pipeline's own pace
            out = self.analyse(frame, result)
        if self._toggles.detect:
            out.extend(self._region_crops(frame))
        # Last: if the analysis of this frame raised, the motion change is reported with the next one.
        out.extend(self._motion_records(frame.ts_mono))
        return self._on_clock(out)

    def analyse(self, frame: Frame, result: DetectionResult) -> list[Record]:
        """Everything after the detector for one frame; separate so a scripted detector result can drive it."""
        zones_tracker, lines = self._geometry(frame.width, frame.height)
        candidates = self._filter.apply(result.detections, frame.width, frame.height, score_floor=self._detector_floor)
        reported = tuple(d for d in candidates if d.score >= self._filter.min_score(d.label))
        out: list[Record] = []
        if reported:
            out.append(FrameDetections.of(frame, DetectionResult(reported, result.inference_ms)))
        self._tracks = self._tracker.update(candidates, frame.ts_mono)
        if self._embedder is not None:
            self._tracks = self._reidentify(frame)
        self.active_boxes = tuple(t.box for t in self._tracks if t.state in (TrackState.CONFIRMED, TrackState.LOST))
        self._zones_now = zones_tracker.update(self._tracks)
        events = self._events.update(self._tracks, self._zones_now, frame.ts_wall, self._tracker.dormant_ids())
        events += self._sub_label_updates(events, frame.ts_wall)
        out.extend(self._snapshot_jobs(frame))
        out.extend(self._best_crops(frame))
        out.extend(self._event_records(events))
        out.extend(self._line_records(lines, frame.ts_wall))
        out.extend(self._count_records())
        out.extend(self._anomaly_records(frame))
        return out

    def _reidentify(self, frame: Frame) -> list[Track]:
        """Embed the crops the tracker asks for (births, re-entry candidates, every Nth hit) and hand them back."""
        assert self._embedder is not None
        requests = self._tracker.appearance_requests()
        if not requests:
            return self._tracks
        vectors = self._embedder.embed(frame.image, [r.box for r in requests])
        return self._tracker.attach({r.track_id: v for r, v in zip(requests, vectors, strict=True)})

    def tick(self, ts_wall: float) -> list[Record]:
        """Periodic work that must happen even without frames: stream-fault anomalies, and ending
        the events of a camera whose detect was switched OFF while no frame came.

        A video file's time moves only with its frames: its ticks wait for them, as the wall clock
        says nothing about where the clip is."""
        detecting = self._toggles.detect
        if self._media_ts_wall is not None:
            return [] if detecting else self._on_clock(self._pause(self._media_ts_wall))
        out = [] if detecting else self._pause(ts_wall)
        if self._anomalies is not None:
            found = self._anomalies.on_tick(ts_wall, self._tracks, self._zones_now, detecting=detecting)
            out.extend(found)
        return out

    def finish(self, ts_wall: float) -> list[Record]:
        """End every open event and anomaly (shutdown or camera removal), report counts as 0 and motion OFF.

        A video file's end at its last frame's media time, not at the moment the run stops."""
        if self._media_ts_wall is not None:
            ts_wall = self._media_ts_wall
        out = self._end_tracking(ts_wall)
        if self._anomalies is not None:
            out.extend(self._anomalies.finish(ts_wall))
        if self._motion_reported:
            self._motion_reported = False
            out.append(MotionChange(self.name, False))
        return self._on_clock(out)

    def _on_clock(self, records: list[Record]) -> list[Record]:
        """Records of a video file say they carry media time (FrameDetections take it from their frame)."""
        if self._media_ts_wall is None:
            return records
        return [
            dataclasses.replace(r, clock=FrameClock.MEDIA) if isinstance(r, Event | LineCrossing | Anomaly) else r
            for r in records
        ]

    def _pause(self, ts_wall: float) -> list[Record]:
        """Detect is OFF: end the open events once and forget the tracks (the detector no longer runs)."""
        if self._paused:
            return []
        self._paused = True
        return self._end_tracking(ts_wall)

    def _end_tracking(self, ts_wall: float) -> list[Record]:
        """End every open event, forget every track (ids go on) and report the counts as 0."""
        out = self._event_records(self._events.end_all(ts_wall))
        self._tracker.clear()
        self._tracks, self._zones_now = [], {}
        self.active_boxes = ()
        out.extend(self._count_records())
        return out

    def _motion_records(self, ts_mono: float) -> list[Record]:
        """`<camera>/motion` on change only (the gate's off delay gives the hysteresis), and at the first frame."""
        if self._motion is None:
            return []
        on = self._motion(ts_mono)
        if on == self._motion_reported:
            return []
        self._motion_reported = on
        return [MotionChange(self.name, on)]

    def _geometry(self, width: int, height: int) -> tuple[ZoneTracker, LineCounter]:
        if self._zones is None or self._lines is None or self._frame_size != (width, height):
            self._frame_size = (width, height)
            self._zones = ZoneTracker(self.cfg.zones, width, height)
            self._lines = LineCounter(self.name, self.cfg.lines, width, height)
            self._events.set_frame_size(width, height)
            self._tracker.set_frame_size(width, height)
        return self._zones, self._lines

    def _snapshot_jobs(self, frame: Frame) -> list[SnapshotJob]:
        """Copies of this frame for the events it is the best frame of (before the frame goes back to its ring)."""
        if self._snapshots is None or not self._snapshots.config.enabled or not self._toggles.snapshots:
            return []
        best = ((b.event_id, b.track) for b in self._events.best_frames)
        return make_jobs(frame, best, self._snapshots.config)

    def _best_crops(self, frame: Frame) -> list[BestCrop]:
        """Bounded copies of the boxes of this frame's best frames, for labels the second stage wants."""
        if self._second_stage is None or not self._second_stage.crop_labels:
            return []
        crops = []
        for best in self._events.best_frames:
            track = best.track
            if track.label not in self._second_stage.crop_labels:
                continue
            box = track.box.clipped(frame.width, frame.height)
            x1, y1, x2, y2 = crop_region(box, frame.width, frame.height, CROP_MARGIN_FRAC)
            image, _ = bounded_copy(frame.image[y1:y2, x1:x2], CROP_MAX_PX, CROP_MAX_PX)
            image.flags.writeable = False
            size = (frame.width, frame.height)
            crop = BestCrop(self.name, track.label, best.event_id, image, box, size, track.score, frame.ts_wall)
            if track.label in self._second_stage.frame_labels:
                whole, _ = bounded_copy(frame.image, FRAME_MAX_PX, FRAME_MAX_PX)
                whole.flags.writeable = False
                confirmed = tuple(t for t in self._tracks if t.state is TrackState.CONFIRMED)
                crop = dataclasses.replace(crop, frame=whole, frame_tracks=confirmed)
            crops.append(crop)
        return crops

    def _region_crops(self, frame: Frame) -> list[RegionCrop]:
        """Copies of the state classifiers' regions that are due at this frame."""
        crops = []
        motion = self._motion(frame.ts_mono) if self._motion is not None else True
        for state, schedule in self._state_schedules.items():
            if not schedule.due(frame.ts_wall, motion):
                continue
            region = self._state_region(state, frame.width, frame.height)
            if region is not None:
                x1, y1, x2, y2 = region
                image = np.array(frame.image[y1:y2, x1:x2], copy=True)
                image.flags.writeable = False
                crops.append(RegionCrop(self.name, state, image, frame.ts_wall, frame.clock))
        return crops

    def _state_region(self, state: str, width: int, height: int) -> tuple[int, int, int, int] | None:
        """The region in pixels, worked out at the first frame; a region outside the frame is logged once and skipped."""
        if state not in self._state_regions:
            try:
                self._state_regions[state] = region_pixels(self.name, state, self.cfg.states[state], width, height)
            except ConfigError as exc:
                log.error("state classifier %s/%s is off: %s", self.name, state, exc)
                self._state_regions[state] = None
        return self._state_regions[state]

    def _event_records(self, events: list[Event]) -> list[Record]:
        out: list[Record] = []
        for event in events:
            if self._snapshots is not None:
                event = dataclasses.replace(event, has_snapshot=self._snapshots.index.has_snapshot(event.event_id))
            if self._second_stage is not None:
                event = self._with_sub_label(event, self._second_stage.sub_labels)
            out.append(event)
        return out

    def _sub_label_updates(self, events: list[Event], ts_wall: float) -> list[Event]:
        """An update for each open event whose sub_label changed since its last message (and has none in
        this frame), so a dashboard learns the sub_label without waiting for the next score update."""
        if self._second_stage is None:
            return []
        sent = {event.event_id for event in events}
        changed = [
            event_id
            for event_id in self._events.open_event_ids()
            if event_id not in sent and self._second_stage.sub_labels.of(event_id) != self._stamped.get(event_id)
        ]
        return self._events.announce(changed, ts_wall) if changed else []

    def _with_sub_label(self, event: Event, sub_labels: SubLabelIndex) -> Event:
        sub_label = sub_labels.of(event.event_id)
        if event.kind is EventKind.END:
            sub_labels.forget(event.event_id)
            self._stamped.pop(event.event_id, None)
        elif sub_label is not None:
            self._stamped[event.event_id] = sub_label
        if sub_label is None:
            return event
        return dataclasses.replace(event, sub_label=sub_label.label, sub_label_score=sub_label.score)

    def _line_records(self, lines: LineCounter, ts_wall: float) -> list[Record]:
        crossings = lines.update(self._tracks, self._events.open_event_id, ts_wall)
        out: list[Record] = list(crossings)
        totals = lines.totals
        for line in sorted({c.line for c in crossings}):
            out.append(LineTotals(self.name, line, totals[line].a_to_b, totals[line].b_to_a))
        return out

    def _count_records(self) -> list[Record]:
        self._counter.update(self._tracks, self._zones_now)
        return [CountChange(self.name, key.label, key.zone, count) for key, count in self._counter.changes().items()]

    def _anomaly_records(self, frame: Frame) -> list[Record]:
        if self._anomalies is None:
            return []
        event_ids = {t.track_id: eid for t in self._tracks if (eid := self._events.open_event_id(t.track_id))}
        found = self._anomalies.on_frame(frame, self._tracks, self._zones_now, event_ids, detecting=not self._paused)
        return list(found)
