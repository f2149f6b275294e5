"""Drops detections a camera does not want: labels outside its allow-list, low scores,
boxes outside the per-label area range, and boxes whose bottom-centre is in a mask.

Pure; called by the analytics thread between the detector and the tracker."""

from __future__ import annotations

from collections.abc import Sequence

from agent.config.analytics import LabelFilter
from agent.config.schema import CameraConfig
from agent.geometry import Point, point_in_polygon, to_pixels
from agent.types import Detection

_NO_FILTER = LabelFilter()


class DetectionFilter:
    """Applies one camera's `objects`, `min_score`, `filters` and `masks`.

    Score threshold of a label: filters[label].min_score, else the camera's
    min_score, else `model_min_score`. Areas are box width × height in pixels²."""

    def __init__(self, camera: CameraConfig, model_min_score: float) -> None:
        if not 0.0 <= model_min_score <= 1.0:
            raise ValueError(f"model_min_score must be within 0..1, got {model_min_score}")
        self._objects = frozenset(camera.objects)
        self._filters = dict(camera.filters)
        self._default_min_score = camera.min_score if camera.min_score is not None else model_min_score
        self._masks_cfg = camera.masks
        self._masks_px: tuple[tuple[Point, ...], ...] = ()
        self._masks_size: tuple[int, int] | None = None

    def min_score(self, label: str) -> float:
        """The score below which `label` is dropped."""
        flt = self._filters.get(label)
        if flt is not None and flt.min_score is not None:
            return flt.min_score
        return self._default_min_score

    def lowest_min_score(self) -> float:
        """The lowest score any label may pass with: the detector need not report below it."""
        return min([self._default_min_score, *(self.min_score(label) for label in self._filters)])

    def apply(
        self, detections: Sequence[Detection], width: int, height: int, *, score_floor: float | None = None
    ) -> tuple[Detection, ...]:
        """The detections that pass every filter, in their original order.

        With `score_floor`, a label's score threshold is lowered to it (the tracker's
        second pass wants weak detections that pass every other filter)."""
        masks = self._masks_for(width, height)
        return tuple(d for d in detections if self._keep(d, masks, score_floor))

    def _keep(self, det: Detection, masks: tuple[tuple[Point, ...], ...], score_floor: float | None) -> bool:
        if self._objects and det.label not in self._objects:
            return False
        threshold = self.min_score(det.label)
        if score_floor is not None:
            threshold = min(threshold, score_floor)
        if det.score < threshold:
            return False
        flt = self._filters.get(det.label, _NO_FILTER)
        area = det.box.area
        if area < flt.min_area_px or (flt.max_area_px is not None and area > flt.max_area_px):
            return False
        foot = det.box.bottom_center
        return not any(point_in_polygon(foot, mask) for mask in masks)

    def _masks_for(self, width: int, height: int) -> tuple[tuple[Point, ...], ...]:
        # Normalised masks depend on the frame size; convert once per size.
        if self._masks_size != (width, height):
            self._masks_px = tuple(to_pixels(mask, width, height) for mask in self._masks_cfg)
            self._masks_size = (width, height)
        return self._masks_px
