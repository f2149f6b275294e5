"""Detection filter (allow-list, scores, areas, masks) and validation of the analytics config."""

from __future__ import annotations

from typing import Any

import pytest

from agent.config import load_config_text
from agent.config.schema import CameraConfig
from agent.core.filters import DetectionFilter
from agent.errors import ConfigError
from agent.types import BBox, Detection

W, H = 640, 480

BOX = BBox(100, 100, 140, 200)


def det(label: str = "person", score: float = 0.9, box: BBox = BOX) -> Detection:
    return Detection(label, 0, score, box)


def camera(**fields: Any) -> CameraConfig:
    return CameraConfig.model_validate({"source": "/dev/video0", **fields})


def test_objects_allow_list() -> None:
    """Labels outside the camera's objects list are dropped; an empty list keeps every label."""
    dets = (det("person"), det("car"), det("dog"))
    assert DetectionFilter(camera(objects=["person", "dog"]), 0.5).apply(dets, W, H) == (dets[0], dets[2])
    assert DetectionFilter(camera(), 0.5).apply(dets, W, H) == dets


@pytest.mark.parametrize(
    ("fields", "kept_scores"),
    [
        ({}, [0.5, 0.7, 0.9]),
        ({"min_score": 0.6}, [0.7, 0.9]),
        ({"min_score": 0.6, "filters": {"person": {"min_score": 0.8}}}, [0.9]),
        ({"filters": {"car": {"min_score": 0.8}}}, [0.5, 0.7, 0.9]),
    ],
)
def test_min_score_per_label_then_camera_then_model(fields: dict[str, Any], kept_scores: list[float]) -> None:
    """A label's threshold is its filter's min_score, else the camera's, else the model's."""
    dets = [det(score=s) for s in (0.3, 0.5, 0.7, 0.9)]
    kept = DetectionFilter(camera(**fields), 0.5).apply(dets, W, H)
    assert [d.score for d in kept] == kept_scores


def test_area_limits_in_pixels() -> None:
    """Boxes outside [min_area_px, max_area_px] of their label are dropped; other labels are untouched."""
    small, mid, big = BBox(0, 0, 10, 10), BBox(0, 0, 50, 50), BBox(0, 0, 200, 200)
    flt = DetectionFilter(camera(filters={"person": {"min_area_px": 1000, "max_area_px": 10_000}}), 0.5)
    dets = [det(box=small), det(box=mid), det(box=big), det("car", box=small)]
    assert flt.apply(dets, W, H) == (dets[1], dets[3])


@pytest.mark.parametrize(
    "mask",
    [
        [[0, 0], [320, 0], [320, 480], [0, 480]],
        [[0, 0], [0.5, 0], [0.5, 1], [0, 1]],
    ],
)
def test_masks_drop_boxes_whose_foot_is_inside(mask: list[list[float]]) -> None:
    """A box whose bottom-centre is in a mask (pixel or normalised) is dropped, even if the box overlaps out of it."""
    flt = DetectionFilter(camera(masks=[mask]), 0.5)
    inside = det(box=BBox(250, 100, 380, 200))  # foot x = 315
    outside = det(box=BBox(300, 100, 360, 200))  # foot x = 330
    assert flt.apply([inside, outside], W, H) == (outside,)


CONFIG = """
device_id: dev1
model: {path: m.tflite}
cameras:
  front:
    source: /dev/video0
"""


@pytest.mark.parametrize(
    ("snippet", "field", "message"),
    [
        ("zones: {yard: {points: [[0, 0], [10, 0]]}}", "cameras.front.zones.yard.points", "at least 3 points"),
        ("zones: {yard: {points: [[0, 0], [5, 5], [10, 10]]}}", "cameras.front.zones.yard.points", "zero area"),
        (
            "zones: {yard: {points: [[0, 0], [9, 0], [9, 9]], inertia_frames: 0}}",
            "zones.yard.inertia_frames",
            "greater than or equal to 1",
        ),
        ("masks: [[[0, 0], [-5, 0], [9, 9]]]", "cameras.front.masks.0", ">= 0"),
        ("lines: {door: {a: [1, 1], b: [1, 1]}}", "cameras.front.lines.door", "different points"),
        ("filters: {person: {min_area_px: 50, max_area_px: 10}}", "cameras.front.filters.person", "max_area_px"),
        ("tracker: {low_score: 0.6, high_score: 0.5}", "cameras.front.tracker", "low_score"),
        ("tracker: {max_age: 3}", "cameras.front.tracker.max_age", "Extra inputs"),
    ],
)
def test_config_errors_name_the_field(snippet: str, field: str, message: str) -> None:
    """Bad analytics settings fail at load with a line naming the field and the problem."""
    with pytest.raises(ConfigError) as info:
        load_config_text(CONFIG + "    " + snippet + "\n")
    line = next(e for e in info.value.errors if field in e)
    assert message in line
    assert line.startswith("<config>:")


def test_defaults_keep_old_configs_valid() -> None:
    """A camera without analytics settings loads with empty zones, lines, masks and default tracker/events."""
    cam = load_config_text(CONFIG).cameras["front"]
    assert (cam.zones, cam.lines, cam.masks, cam.filters) == ({}, {}, (), {})
    assert cam.tracker.min_hits >= 1
    assert cam.events.min_duration_s >= 0
