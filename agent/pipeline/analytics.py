"""The analytics thread: everything after the detector, for every camera, in frame order.

Detector threads hand it (camera, frame, result); it runs the camera's processor (tracker,
events, zones, lines, counts, snapshots, anomalies), hands its records to the sink, releases the frame
to its ring, ticks every camera once a second and ends the events of retired cameras.
It works on frame n while a detector thread invokes the model on frame n + 1."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from agent.pipeline.failures import log_frame_failure
from agent.pipeline.lanes import CameraLane, LaneTable
from agent.records import FrameTap, Record, Sink
from agent.types import DetectionResult, Frame

log = logging.getLogger(__name__)

TICK_INTERVAL_S = 1.0  # periodic per-camera work (stream-fault anomalies) runs this often
IDLE_WAIT_S = 0.2  # longest sleep with nothing queued, so ticks and heartbeats stay on time


@dataclass(frozen=True, slots=True)
class DetectedFrame:
    lane: CameraLane
    frame: Frame
    result: DetectionResult | None  # None: the motion gate skipped the detector
    failed: bool  # the detection raised: the frame only goes back to its ring


@dataclass(frozen=True, slots=True)
class FinishLane:
    lane: CameraLane


class AnalyticsWorker(threading.Thread):
    """One thread that owns every camera's processor."""

    def __init__(self, table: LaneTable, sink: Sink, taps: tuple[FrameTap, ...] = ()) -> None:
        super().__init__(name="analytics", daemon=True)
        self._table = table
        self._sink = sink
        self._taps = taps  # clips, live views (agent.records.FrameTap); none: no per-frame cost
        # Unbounded by type, bounded in fact: a camera has at most max_in_flight frames out of its
        # ring (LaneTable.claim_next), and a camera is finished once.
        self._queue: queue.SimpleQueue[DetectedFrame | FinishLane] = queue.SimpleQueue()
        self._stop_event = threading.Event()
        self._next_tick_mono = 0.0
        self.heartbeat_mono = time.monotonic()
        self.errors = 0

    def submit(self, lane: CameraLane, frame: Frame, result: DetectionResult | None, failed: bool) -> None:
        """Called by a detector thread; never blocks."""
        self._queue.put(DetectedFrame(lane, frame, result, failed))

    def finish_lane(self, lane: CameraLane) -> None:
        """End a retired camera's open events and anomalies, after the frames already queued for it."""
        self._queue.put(FinishLane(lane))

    def stop(self) -> None:
        """Stop once everything queued so far has been handled."""
        self._stop_event.set()

    def run(self) -> None:
        while True:
            now = time.monotonic()
            self.heartbeat_mono = now
            if now >= self._next_tick_mono:
                self._next_tick_mono = now + TICK_INTERVAL_S
                self._tick_all()
            try:
                item = self._queue.get(timeout=min(IDLE_WAIT_S, max(self._next_tick_mono - now, 0.0)))
            except queue.Empty:
                if self._stop_event.is_set():
                    return
                continue
            self._handle(item)

    def finish_remaining(self, ts_wall: float) -> None:
        """After the thread has stopped: handle what is still queued, then end every camera's events."""
        if self.is_alive():
            raise RuntimeError("finish_remaining() while the analytics thread runs; stop() and join() it first")
        while True:
            try:
                self._handle(self._queue.get_nowait())
            except queue.Empty:
                break
        for lane in self._table.drain_all():
            self._finish(lane, ts_wall)

    def _handle(self, item: DetectedFrame | FinishLane) -> None:
        if isinstance(item, FinishLane):
            self._finish(item.lane, time.time())
            return
        try:
            records = [] if item.failed else self._analyse(item)
            if not item.failed:
                self._tap(item.frame, records)
        finally:
            self._table.frame_done(item.lane, item.frame)
        self._hand_out(records)

    def _analyse(self, item: DetectedFrame) -> list[Record]:
        try:
            return item.lane.processor.process(item.frame, item.result)
        except Exception as exc:
            self.errors += 1
            log_frame_failure("analysing", item.lane.name, item.frame.seq, self.errors, exc)
            return []

    def _tap(self, frame: Frame, records: list[Record]) -> None:
        for tap in self._taps:
            try:
                tap.on_frame(frame, records)
            except Exception as exc:
                self.errors += 1
                log_frame_failure("tapping", frame.camera, frame.seq, self.errors, exc)

    def _finish(self, lane: CameraLane, ts_wall: float) -> None:
        try:
            self._hand_out(lane.processor.finish(ts_wall))
        except Exception:
            self.errors += 1
            log.exception("camera %s: ending its open events failed", lane.name)

    def _tick_all(self) -> None:
        ts_wall = time.time()
        for lane in self._table.lanes():
            self._hand_out(lane.processor.tick(ts_wall))

    def _hand_out(self, records: list[Record]) -> None:
        for record in records:
            self._sink.accept(record)
