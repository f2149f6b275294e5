"""Pydantic models of a camera's analytics settings: filters, masks, zones, lines, tracker, events.

Shapes (mask and zone polygons, line end points) are in pixels of the original
frame, or in normalised 0..1 frame units when EVERY coordinate of the shape is
<= 1.0. Areas are always in pixels². Used by agent.config.schema.CameraConfig."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from agent.config.base import StrictModel
from agent.config.reid import ReidConfig
from agent.geometry import Point, polygon_area

MIN_POLYGON_POINTS = 3


def _check_point(point: Point) -> Point:
    x, y = point
    if not (math.isfinite(x) and math.isfinite(y)) or x < 0.0 or y < 0.0:
        raise ValueError(f"point {point} must have finite coordinates >= 0 (pixels, or 0..1 normalised)")
    return point


def _check_polygon(points: tuple[Point, ...]) -> tuple[Point, ...]:
    if len(points) < MIN_POLYGON_POINTS:
        raise ValueError(f"a polygon needs at least {MIN_POLYGON_POINTS} points, got {len(points)}")
    for point in points:
        _check_point(point)
    if polygon_area(points) <= 0.0:
        raise ValueError("the polygon's points are all on one line (zero area)")
    return points


CheckedPoint = Annotated[Point, AfterValidator(_check_point)]
Polygon = Annotated[tuple[Point, ...], AfterValidator(_check_polygon)]


class LabelFilter(StrictModel):
    min_score: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Drop this label's detections below this score; default the camera's min_score.",
    )
    min_area_px: float = Field(
        default=0.0,
        ge=0.0,
        description="Drop boxes smaller than this area in pixels² of the analysed frame (native, or detect_resolution when set).",
    )
    max_area_px: float | None = Field(
        default=None, gt=0.0, description="Drop boxes larger than this area in pixels²; None: no limit."
    )

    @model_validator(mode="after")
    def _area_order(self) -> LabelFilter:
        if self.max_area_px is not None and self.max_area_px < self.min_area_px:
            raise ValueError(f"max_area_px ({self.max_area_px}) must be >= min_area_px ({self.min_area_px})")
        return self


class ZoneConfig(StrictModel):
    points: Polygon = Field(
        description="Polygon of >= 3 [x, y] points: pixels, or 0..1 of the frame when every coordinate is <= 1."
    )
    objects: tuple[str, ...] = Field(
        default=(), description="Labels that can be in this zone; empty allows every label."
    )
    inertia_frames: int = Field(
        default=3,
        ge=1,
        le=1000,
        description="Consecutive frames a box must be inside (or outside) before it enters (or leaves).",
    )


class LineConfig(StrictModel):
    a: CheckedPoint = Field(
        description="First end [x, y] of the count line (pixels, or 0..1 if a and b are both <= 1)."
    )
    b: CheckedPoint = Field(
        description="Second end. Walking from a to b on screen, side A is on your left, side B on your right; "
        "a crossing from A to B is counted as a_to_b."
    )
    objects: tuple[str, ...] = Field(default=(), description="Labels counted on this line; empty counts every label.")
    deadband_px: float = Field(
        default=4.0,
        ge=0.0,
        description="Points closer than this many pixels to the line keep their previous side (stops jitter).",
    )

    @model_validator(mode="after")
    def _distinct_ends(self) -> LineConfig:
        if self.a == self.b:
            raise ValueError(f"a and b must be different points (both are {self.a})")
        return self


class TrackerConfig(StrictModel):
    min_hits: int = Field(default=3, ge=1, le=100, description="Matched frames before a track is confirmed (reported).")
    max_age_s: float = Field(
        default=2.0, gt=0.0, le=3600.0, description="Seconds a track may go unmatched before it is dropped."
    )
    high_score: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Detections at or above this score are matched first and may start tracks.",
    )
    low_score: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Detections in [low_score, high_score) only continue existing tracks (ByteTrack second pass). "
        "They reach the tracker only when the camera or model min_score is below high_score.",
    )
    # 0.2 and 0.3: measured with tools/event_quality.py on the real videos (docs/events.md); at 5
    # detector runs a second small people and fast cars overlap their prediction less than 0.3.
    match_iou: float = Field(
        default=0.2, gt=0.0, le=1.0, description="Least IoU between a predicted track box and a detection."
    )
    low_match_iou: float = Field(default=0.3, gt=0.0, le=1.0, description="Least IoU for the low-score second pass.")
    max_tracks: int = Field(
        default=256, ge=1, le=100_000, description="Most tracks held; the oldest lost track is evicted first."
    )
    contained_ratio: float = Field(
        default=0.8,
        gt=0.0,
        le=1.0,
        description="An unmatched detection with this share of its area inside a box of a same-label track "
        "matched in the same frame starts no track (a detector's second box on one object); 1.0: only boxes "
        "wholly inside.",
    )
    reid_window_s: float = Field(
        default=15.0,
        ge=0.0,
        le=600.0,
        description="With `reid` on, a lost track of a re-id label is kept this long (beyond max_age_s) for a "
        "new track with a matching appearance to continue it: same id, same event. Its event's end is "
        "published only after this window passes without a match.",
    )
    reid: ReidConfig | None = Field(
        default=None, description="Appearance re-identification (off when null: tracks end at max_age_s)."
    )

    @model_validator(mode="after")
    def _score_order(self) -> TrackerConfig:
        if self.low_score > self.high_score:
            raise ValueError(f"low_score ({self.low_score}) must be <= high_score ({self.high_score})")
        return self

    def reid_hold_s(self, label: str) -> float:
        """Seconds a lost track of `label` is held before it is removed (and its event ends)."""
        if self.reid is not None and label in self.reid.labels:
            return max(self.max_age_s, self.reid_window_s)
        return self.max_age_s


class EventsConfig(StrictModel):
    # 2 s: no event can be shorter than this (no flapping) and short-lived duplicate boxes stay
    # silent, while a car crossing an intersection in 3 s still gets its event (docs/events.md).
    min_duration_s: float = Field(
        default=2.0,
        ge=0.0,
        le=3600.0,
        description="A confirmed track must last this long before its event starts (no ghosts).",
    )
    update_interval_s: float = Field(
        default=5.0,
        ge=0.0,
        le=3600.0,
        description="Least seconds between score-driven update messages; zone changes go at once.",
    )
    snapshot_edge_margin_px: float = Field(
        default=2.0,
        ge=0.0,
        description="A box this close to the frame edge counts as cut off when choosing the best frame.",
    )
