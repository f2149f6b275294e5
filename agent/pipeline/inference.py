"""A detector thread: one interpreter serving every camera in turn.

It claims the stalest due camera from the LaneTable, runs the camera's motion gate,
regions and the detector on the freshest frame, and hands frame and result to the
analytics thread. Several of these may share one table (model.interpreters)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from agent.detect import Detector
from agent.pipeline.lanes import CameraLane, LaneTable
from agent.types import DetectionResult, Frame

log = logging.getLogger(__name__)

ERRORS_LOGGED_IN_FULL = 10  # then one in ERROR_LOG_EVERY, so a persistent fault cannot flood the journal
ERROR_LOG_EVERY = 1000

# (lane, frame, result, failed): result None means the gate skipped the detector; failed means the
# detection raised (counted and logged here), so analytics only gives the frame back to its ring.
HandOff = Callable[[CameraLane, Frame, DetectionResult | None, bool], None]


def should_log_error(count: int) -> bool:
    return count <= ERRORS_LOGGED_IN_FULL or count % ERROR_LOG_EVERY == 0


class DetectorWorker(threading.Thread):
    """Serves cameras fairly with one detector: stalest first, each capped at its detect fps."""

    def __init__(
        self,
        name: str,
        detector: Detector,
        table: LaneTable,
        frame_ready: threading.Event,
        hand_off: HandOff,
        finish_lane: Callable[[CameraLane], None],
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.detector = detector
        self._table = table
        self._frame_ready = frame_ready
        self._hand_off = hand_off
        self._finish_lane = finish_lane
        self._stop_event = threading.Event()
        self.heartbeat_mono = time.monotonic()
        self.served = 0  # frames this thread took (detected, skipped by the gate, or failed)
        self.errors = 0

    def stop(self) -> None:
        self._stop_event.set()
        self._frame_ready.set()

    def run(self) -> None:
        while not self._stop_event.is_set():
            now = time.monotonic()
            self.heartbeat_mono = now
            # Cleared before looking, so a frame committed after the look still wakes the wait below.
            self._frame_ready.clear()
            claim = self._table.claim_next(now)
            if claim.lane is None or claim.frame is None:
                if claim.wait_s > 0.0:
                    self._frame_ready.wait(claim.wait_s)
                continue
            self._serve(claim.lane, claim.frame)

    def _serve(self, lane: CameraLane, frame: Frame) -> None:
        self.served += 1
        failed = False
        try:
            result = lane.detection.run(
                frame, self.detector, lane.processor.detector_floor, lane.processor.active_boxes
            )
        except Exception:
            # One bad frame or camera must not stop the others; counted and logged with its stack.
            self.errors += 1
            if should_log_error(self.errors):
                log.exception(
                    "camera %s: detecting on frame %d failed (%d failures so far)", lane.name, frame.seq, self.errors
                )
            result, failed = None, True
        self._hand_off(lane, frame, result, failed)
        if self._table.release_claim(lane):
            self._finish_lane(lane)
