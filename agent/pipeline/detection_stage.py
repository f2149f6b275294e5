"""Decides whether and where the detector runs on a camera's frame: motion gate,
region crops, then the detector, with boxes mapped back to the full frame.

One DetectionStage per camera; only the detector thread that has claimed the camera
calls it, with that thread's detector."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from agent.config.perf import MotionConfig, RegionsConfig
from agent.detect import Detector
from agent.motion import MotionDetector, MotionGate, MotionResult
from agent.regions import Region, full_frame, map_detections_from_region, merge_detections, plan_regions
from agent.types import BBox, Detection, DetectionResult, Frame


@dataclass(frozen=True, slots=True)
class StageTimings:
    """Milliseconds spent in each step for the last frame (for the benchmark's per-stage costs)."""

    motion_ms: float
    detect_ms: float
    regions: int


class DetectionStage:
    """Motion gate, region planning and detection for one camera."""

    def __init__(self, motion_cfg: MotionConfig, regions_cfg: RegionsConfig, nms_iou: float) -> None:
        self._motion_cfg = motion_cfg
        self._regions_cfg = regions_cfg
        self._nms_iou = nms_iou
        self._gate = MotionGate(motion_cfg)
        self._motion: MotionDetector | None = None
        self.last_timings = StageTimings(0.0, 0.0, 0)

    def run(
        self, frame: Frame, detector: Detector, min_score: float, track_boxes: Sequence[BBox]
    ) -> DetectionResult | None:
        """Detections in full-frame pixels, or None when the gate says the detector is not needed."""
        started = time.perf_counter()
        motion = self._motion_result(frame)
        motion_ms = (time.perf_counter() - started) * 1000.0
        if not self._gate.should_detect(motion, len(track_boxes), frame.ts_mono):
            self.last_timings = StageTimings(motion_ms, 0.0, 0)
            return None
        self._gate.mark_detected(frame.ts_mono)
        model_side = min(detector.input_size)
        regions = plan_regions(
            self._regions_cfg.mode, frame.width, frame.height, model_side, motion.boxes, track_boxes, self._regions_cfg
        )
        if len(regions) == 1 and regions[0] == full_frame(frame.width, frame.height):
            result = detector.detect(frame.image, min_score)
        else:
            result = self._detect_regions(frame, detector, regions, min_score)
        self.last_timings = StageTimings(motion_ms, result.inference_ms, len(regions))
        return result

    def _motion_result(self, frame: Frame) -> MotionResult:
        if not self._motion_cfg.enabled:
            return MotionResult(moving=True, boxes=(), changed_fraction=1.0)
        if self._motion is None or self._motion.frame_size != (frame.width, frame.height):
            self._motion = MotionDetector(self._motion_cfg, (frame.width, frame.height))
        return self._motion.update(frame.image)

    def _detect_regions(
        self, frame: Frame, detector: Detector, regions: Sequence[Region], min_score: float
    ) -> DetectionResult:
        found: list[Detection] = []
        inference_ms = 0.0
        for region in regions:
            crop_result = detector.detect(region.crop(frame.image), min_score)
            inference_ms += crop_result.inference_ms
            found.extend(map_detections_from_region(crop_result.detections, region))
        return DetectionResult(merge_detections(found, self._nms_iou), inference_ms)
