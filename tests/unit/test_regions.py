"""Region planning: square crops covering motion and track boxes, modes, mapping back, merging detections."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.config.perf import RegionMode, RegionsConfig
from agent.gate.regions import (
    Region,
    full_frame,
    map_box_from_region,
    map_detections_from_region,
    merge_detections,
    plan_regions,
)
from agent.types import BBox, Detection

W, H = 1920, 1080
MODEL = 300
CFG = RegionsConfig(mode=RegionMode.MOTION_REGIONS)


def covers(region: Region, box: BBox) -> bool:
    return region.x1 <= box.x1 and region.y1 <= box.y1 and region.x2 >= box.x2 and region.y2 >= box.y2


def assert_valid_crops(regions: tuple[Region, ...], boxes: list[BBox], frame_w: int, frame_h: int) -> None:
    for region in regions:
        assert region.width == region.height >= MODEL
        assert covers(full_frame(frame_w, frame_h), region.box)
    for box in boxes:
        assert any(covers(region, box.clipped(frame_w, frame_h)) for region in regions), box


def test_full_frame_mode_ignores_boxes() -> None:
    """full_frame mode always returns the whole frame."""
    regions = plan_regions(RegionMode.FULL_FRAME, W, H, MODEL, [BBox(10, 10, 50, 50)], [], CFG)
    assert regions == (Region(0, 0, W, H),)


@pytest.mark.parametrize("mode", [RegionMode.MOTION_REGIONS, RegionMode.AUTO])
def test_no_boxes_gives_the_full_frame(mode: RegionMode) -> None:
    """Without motion or track boxes (first frame, a re-check) the whole frame is scanned."""
    assert plan_regions(mode, W, H, MODEL, [], [], CFG) == (full_frame(W, H),)


@pytest.mark.parametrize(
    ("frame_w", "frame_h", "model", "expect_crops"),
    [
        (1920, 1080, 300, True),  # short side 3.6x the model
        (1280, 720, 300, True),  # exactly 2.4x
        (1280, 720, 416, False),  # 1.7x: crops would gain little
        (640, 480, 300, False),
        (600, 600, 300, True),  # exactly auto_min_scale
    ],
)
def test_auto_mode_uses_crops_only_on_large_frames(frame_w: int, frame_h: int, model: int, expect_crops: bool) -> None:
    """auto plans crops when the frame's short side is at least auto_min_scale x the model input."""
    box = BBox(100, 100, 140, 200)
    regions = plan_regions(RegionMode.AUTO, frame_w, frame_h, model, [box], [], RegionsConfig())
    assert (regions != (full_frame(frame_w, frame_h),)) is expect_crops


def test_single_box_gets_a_model_sized_crop_centred_on_it() -> None:
    """A small box gets one crop of exactly the model size around its centre."""
    box = BBox(900, 500, 940, 580)
    (region,) = plan_regions(RegionMode.MOTION_REGIONS, W, H, MODEL, [box], [], CFG)
    assert region == Region(770, 390, 1070, 690)


def test_crop_at_the_frame_corner_is_shifted_inside() -> None:
    """A box in the bottom-right corner gets a crop clamped inside the frame that still covers it."""
    box = BBox(1890, 1050, 1920, 1080)
    (region,) = plan_regions(RegionMode.MOTION_REGIONS, W, H, MODEL, [box], [], CFG)
    assert region == Region(W - MODEL, H - MODEL, W, H)


def test_large_box_gets_a_padded_crop_larger_than_the_model() -> None:
    """A box larger than the model input gets a square crop of its larger side plus padding."""
    box = BBox(400, 300, 800, 500)  # 400 wide
    (region,) = plan_regions(RegionMode.MOTION_REGIONS, W, H, MODEL, [box], [], CFG)
    assert region.width == 600  # 400 * (1 + 2 * 0.25)
    assert covers(region, box)


def test_overlapping_boxes_share_one_crop() -> None:
    """Two nearby boxes (a person's motion box and their track box) are merged into one crop."""
    motion = BBox(1000, 400, 1060, 540)
    track = BBox(1030, 410, 1090, 550)
    regions = plan_regions(RegionMode.MOTION_REGIONS, W, H, MODEL, [motion], [track], CFG)
    assert len(regions) == 1
    assert_valid_crops(regions, [motion, track], W, H)


def test_distant_boxes_get_separate_crops() -> None:
    """Boxes far apart get one crop each instead of one huge crop."""
    boxes = [BBox(100, 100, 150, 200), BBox(1700, 800, 1750, 900)]
    regions = plan_regions(RegionMode.MOTION_REGIONS, W, H, MODEL, boxes, [], CFG)
    assert len(regions) == 2
    assert_valid_crops(regions, boxes, W, H)


def test_crops_are_capped_at_max_regions() -> None:
    """Two rows of three boxes with max_regions 2 give two crops (one per row), still covering every box."""
    top = [BBox(x, 200, x + 40, 290) for x in (100, 350, 600)]
    boxes = top + [BBox(x, 800, x + 40, 890) for x in (1200, 1450, 1700)]
    cfg = RegionsConfig(mode=RegionMode.MOTION_REGIONS, max_regions=2)
    assert len(plan_regions(cfg.mode, W, H, MODEL, boxes, [], RegionsConfig(mode=cfg.mode, max_regions=6))) == 6
    regions = plan_regions(cfg.mode, W, H, MODEL, boxes, [], cfg)
    assert len(regions) == 2
    assert_valid_crops(regions, boxes, W, H)


def test_box_too_large_for_any_crop_gives_the_full_frame() -> None:
    """When covering a box would need a crop taller than the frame, the whole frame is used."""
    box = BBox(0, 0, 1500, 700)
    assert plan_regions(RegionMode.MOTION_REGIONS, W, H, MODEL, [box], [], CFG) == (full_frame(W, H),)


def test_model_larger_than_the_frame_gives_the_full_frame() -> None:
    """A model input larger than the frame's short side cannot be cropped for: the whole frame is used."""
    regions = plan_regions(RegionMode.MOTION_REGIONS, 640, 360, 416, [BBox(10, 10, 40, 40)], [], CFG)
    assert regions == (full_frame(640, 360),)


box_strategy = st.builds(
    lambda x, y, w, h: BBox(x, y, x + w, y + h),
    st.floats(-50, W),
    st.floats(-50, H),
    st.floats(1, 900),
    st.floats(1, 600),
)


@settings(max_examples=150, deadline=None)
@given(
    motion=st.lists(box_strategy, max_size=12),
    tracks=st.lists(box_strategy, max_size=6),
    max_regions=st.integers(1, 6),
)
def test_planned_regions_always_cover_every_box(motion: list[BBox], tracks: list[BBox], max_regions: int) -> None:
    """For any boxes: either the full frame, or <= max_regions square crops >= model size, inside the frame,
    each box inside one crop."""
    cfg = RegionsConfig(mode=RegionMode.MOTION_REGIONS, max_regions=max_regions)
    regions = plan_regions(cfg.mode, W, H, MODEL, motion, tracks, cfg)
    assert regions
    if regions == (full_frame(W, H),):
        return
    assert len(regions) <= max_regions
    visible = [b for b in motion + tracks if b.clipped(W, H).area > 0]
    assert_valid_crops(regions, visible, W, H)


def test_box_maps_from_region_to_frame_and_back() -> None:
    """A box found in a crop maps to frame pixels by the crop's offset; subtracting it gives the original."""
    region = Region(770, 390, 1070, 690)
    local = BBox(12.5, 30.0, 80.0, 200.0)
    mapped = map_box_from_region(local, region)
    assert mapped == BBox(782.5, 420.0, 850.0, 590.0)
    back = BBox(mapped.x1 - region.x1, mapped.y1 - region.y1, mapped.x2 - region.x1, mapped.y2 - region.y1)
    assert back == local


def test_box_past_the_crop_edge_is_clipped_to_the_region() -> None:
    """A box reaching slightly outside the crop (models do this) stays inside the region once mapped."""
    region = Region(100, 200, 400, 500)
    assert map_box_from_region(BBox(-3.0, 250.0, 310.0, 320.0), region) == BBox(100.0, 450.0, 400.0, 500.0)


def detection(label: str, class_id: int, score: float, box: BBox) -> Detection:
    return Detection(label=label, class_id=class_id, score=score, box=box)


def test_same_object_seen_by_two_crops_is_merged() -> None:
    """One person seen in two overlapping crops is reported once, with the better score."""
    left, right = Region(0, 0, 300, 300), Region(200, 0, 500, 300)
    in_left = map_detections_from_region([detection("person", 0, 0.7, BBox(210, 50, 260, 180))], left)
    in_right = map_detections_from_region([detection("person", 0, 0.9, BBox(12, 52, 61, 181))], right)
    merged = merge_detections(in_left + in_right, iou_threshold=0.5)
    assert len(merged) == 1
    assert merged[0].score == 0.9
    assert merged[0].box == BBox(212, 52, 261, 181)


def test_merge_keeps_other_classes_and_separate_objects() -> None:
    """Overlapping boxes of different classes, and same-class boxes apart, are all kept."""
    person = detection("person", 0, 0.8, BBox(100, 100, 150, 250))
    bicycle = detection("bicycle", 1, 0.6, BBox(102, 102, 150, 250))
    other_person = detection("person", 0, 0.5, BBox(400, 100, 450, 250))
    merged = merge_detections([other_person, bicycle, person], iou_threshold=0.5)
    assert merged == (person, bicycle, other_person)
