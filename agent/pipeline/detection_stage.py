"""Decides whether and where the detector runs on a camera's frame: the detect toggle, motion
gate, then region crops; afterwards maps each crop's detections back to the full frame and merges
them. Motion is analysed even while the detect toggle is OFF, so `<camera>/motion` keeps working.

One DetectionStage per camera; only the detector thread that has claimed the camera calls it.
The detector thread runs the detector on the planned regions between plan() and merge()."""

from __future__ import annotations

from collections.abc import Sequence

from agent.config.perf import MotionConfig, RegionsConfig
from agent.detect import Detector
from agent.gate.motion import MotionDetector, MotionGate, MotionResult
from agent.gate.regions import Region, map_detections_from_region, merge_detections, plan_regions
from agent.toggles import CameraToggles
from agent.types import BBox, Detection, DetectionResult, Frame


class DetectionStage:
    """Motion gate, region planning and merging of region detections for one camera."""

    def __init__(
        self,
        motion_cfg: MotionConfig,
        regions_cfg: RegionsConfig,
        nms_iou: float,
        toggles: CameraToggles | None = None,
    ) -> None:
        self._motion_cfg = motion_cfg
        self._regions_cfg = regions_cfg
        self._nms_iou = nms_iou
        self._toggles = toggles if toggles is not None else CameraToggles()
        self._gate = MotionGate(motion_cfg)
        self._motion: MotionDetector | None = None

    def motion_active(self, ts_mono: float) -> bool:
        """The camera's motion state at `ts_mono` (any thread may ask; see MotionGate.motion_active)."""
        return self._gate.motion_active(ts_mono)

    def plan(self, frame: Frame, model_side: int, track_boxes: Sequence[BBox]) -> tuple[Region, ...]:
        """The regions to run the detector on; none when detect is OFF or the gate says it is not needed."""
        motion = self._motion_result(frame)
        self._gate.observe(motion, frame.ts_mono)
        if not self._toggles.detect or not self._gate.should_detect(motion, len(track_boxes), frame.ts_mono):
            return ()
        self._gate.mark_detected(frame.ts_mono)
        return tuple(
            plan_regions(
                self._regions_cfg.mode,
                frame.width,
                frame.height,
                model_side,
                motion.boxes,
                track_boxes,
                self._regions_cfg,
            )
        )

    def merge(self, regions: Sequence[Region], results: Sequence[DetectionResult]) -> DetectionResult:
        """One result in full-frame pixels from each region's result (in pixels of its crop)."""
        inference_ms = sum(result.inference_ms for result in results)
        if len(regions) == 1 and (regions[0].x1, regions[0].y1) == (0, 0):
            # The whole frame (or a crop at its origin): crop pixels are frame pixels already.
            return DetectionResult(results[0].detections, inference_ms)
        found: list[Detection] = []
        for region, result in zip(regions, results, strict=True):
            found.extend(map_detections_from_region(result.detections, region))
        return DetectionResult(merge_detections(found, self._nms_iou), inference_ms)

    def run(
        self, frame: Frame, detector: Detector, min_score: float, track_boxes: Sequence[BBox]
    ) -> DetectionResult | None:
        """plan(), the detector on each region, merge() in one call (tools and tests); None when gated."""
        regions = self.plan(frame, min(detector.input_size), track_boxes)
        if not regions:
            return None
        return self.merge(regions, [detector.detect(region.crop(frame.image), min_score) for region in regions])

    def _motion_result(self, frame: Frame) -> MotionResult:
        if not self._motion_cfg.enabled:
            return MotionResult(moving=True, boxes=(), changed_fraction=1.0)
        if self._motion is None or self._motion.frame_size != (frame.width, frame.height):
            self._motion = MotionDetector(self._motion_cfg, (frame.width, frame.height))
        return self._motion.update(frame.image)
