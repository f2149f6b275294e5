"""The pipeline's threads as one unit: a detector thread and an invoke thread per
interpreter, one analytics thread, and the table of cameras they share. The supervisor adds and retires cameras,
swaps interpreters after a model reload, and stops it all in order."""

from __future__ import annotations

from collections.abc import Sequence

from agent.detect import Detector
from agent.pipeline.analytics import AnalyticsWorker
from agent.pipeline.inference import DetectorWorker
from agent.pipeline.lanes import CameraLane, LaneTable
from agent.pipeline.wake import WakeSignal
from agent.records import FrameTap, Sink
from agent.types import Heartbeat


class PipelineWorkers:
    """Detector threads -> analytics thread, over the cameras in a LaneTable."""

    def __init__(
        self, detectors: Sequence[Detector], sink: Sink, frame_ready: WakeSignal, taps: tuple[FrameTap, ...] = ()
    ) -> None:
        if not detectors:
            raise ValueError("PipelineWorkers needs at least one detector")
        self._frame_ready = frame_ready
        self.table = LaneTable(frame_ready)
        self.analytics = AnalyticsWorker(self.table, sink, taps)
        self.detector_workers = self._make_detector_workers(detectors)
        self._started = False

    def _make_detector_workers(self, detectors: Sequence[Detector]) -> list[DetectorWorker]:
        return [
            DetectorWorker(
                f"detector-{i}",
                detector,
                self.table,
                self._frame_ready,
                self.analytics.submit,
                self.analytics.finish_lane,
            )
            for i, detector in enumerate(detectors)
        ]

    def start(self) -> None:
        self.analytics.start()
        for worker in self.detector_workers:
            worker.start()
        self._started = True

    def set_lane(self, lane: CameraLane) -> None:
        """Add a camera, or replace one (its old lane's events end after its queued frames)."""
        finishable = self.table.add(lane)
        if finishable is not None:
            self.analytics.finish_lane(finishable)

    def retire_lane(self, name: str) -> None:
        """Stop serving a camera; its open events and anomalies end on the analytics thread."""
        lane = self.table.retire(name)
        if lane is not None:
            self.analytics.finish_lane(lane)

    def idle_for(self, name: str) -> bool:
        return self.table.idle(name)

    def replace_detectors(self, detectors: Sequence[Detector], join_timeout_s: float) -> bool:
        """New interpreters (a model reload): the old detector threads finish their frame and stop.
        False if one did not stop in time (it is left to end on its own; its heartbeat goes stale)."""
        stopped = self._stop_detector_workers(join_timeout_s)
        self.detector_workers = self._make_detector_workers(detectors)
        if self._started:
            for worker in self.detector_workers:
                worker.start()
        return stopped

    def _stop_detector_workers(self, join_timeout_s: float) -> bool:
        for worker in self.detector_workers:
            worker.stop()
        threads = [t for worker in self.detector_workers for t in (worker, worker.invoker)]
        for thread in threads:
            if thread.is_alive():
                thread.join(join_timeout_s)
        return not any(thread.is_alive() for thread in threads)

    def stop(self, ts_wall: float, join_timeout_s: float) -> bool:
        """Ordered stop: detector threads, then analytics drains what they handed over, then
        every camera's open events end. False if a thread did not stop (events are not ended then)."""
        if not self._stop_detector_workers(join_timeout_s):
            return False
        self.analytics.stop()
        if self.analytics.is_alive():
            self.analytics.join(join_timeout_s)
        if self.analytics.is_alive():
            return False
        self.analytics.finish_remaining(ts_wall)
        return True

    def heartbeats(self) -> list[Heartbeat]:
        beats = [
            Heartbeat(t.name, t.heartbeat_mono, t.is_alive())
            for worker in self.detector_workers
            for t in (worker, worker.invoker)
        ]
        beats.append(Heartbeat("analytics", self.analytics.heartbeat_mono, self.analytics.is_alive()))
        return beats
