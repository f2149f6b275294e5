"""Motion detector on real video frames (people, lighting changes, a masked clock) and the gate policy."""

from __future__ import annotations

from typing import cast

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from agent.config.perf import MotionConfig
from agent.gate.motion import MotionDetector, MotionGate, MotionResult
from agent.types import BBox, Image
from tests.support import assets

PED_SIZE = (768, 576)
TRAFFIC_SIZE = (640, 480)
# Walking people on frame 5 of pedestrians_vtest.avi, labelled by eye (the parked van is at 650-725, 45-100).
PEOPLE_FRAME5 = (BBox(283, 213, 322, 302), BBox(486, 163, 516, 238), BBox(590, 240, 645, 326))
PARKED_VAN = BBox(650, 45, 725, 100)
# The burned-in clock of the traffic video; its last digits change on most frames.
CLOCK = BBox(0, 0, 260, 30)
CLOCK_MASK_PX = ((0.0, 0.0), (262.0, 0.0), (262.0, 32.0), (0.0, 32.0))
CLOCK_MASK_NORMALISED = ((0.0, 0.0), (0.41, 0.0), (0.41, 0.067), (0.0, 0.067))


def read_frames(path: str, count: int) -> list[Image]:
    capture = cv2.VideoCapture(path)
    frames: list[Image] = []
    try:
        while len(frames) < count:
            ok, frame = capture.read()
            assert ok, f"could not decode frame {len(frames)} of {path}"
            frames.append(cast(Image, frame))  # cv2 decodes 8-bit BGR
    finally:
        capture.release()
    return frames


@pytest.fixture(scope="module")
def ped_frames() -> list[Image]:
    return read_frames(str(assets.video(assets.PEDESTRIANS)), 6)


@pytest.fixture(scope="module")
def traffic_frames() -> list[Image]:
    return read_frames(str(assets.video(assets.TRAFFIC)), 12)


def scaled(frame: Image, gain: float) -> Image:
    out: Image = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)  # np.clip of floats is typed Any
    return out


def overlap_fraction(inner: BBox, outer: BBox) -> float:
    """Share of `inner`'s area inside `outer`."""
    w = min(inner.x2, outer.x2) - max(inner.x1, outer.x1)
    h = min(inner.y2, outer.y2) - max(inner.y1, outer.y1)
    return max(0.0, w) * max(0.0, h) / inner.area


def intersects(a: BBox, b: BBox) -> bool:
    return min(a.x2, b.x2) > max(a.x1, b.x1) and min(a.y2, b.y2) > max(a.y1, b.y1)


def test_repeated_real_frame_has_no_motion(ped_frames: list[Image]) -> None:
    """The same real frame over and over never reports motion."""
    detector = MotionDetector(MotionConfig(), PED_SIZE)
    results = [detector.update(ped_frames[0]) for _ in range(5)]
    assert not any(r.moving for r in results)
    assert all(r.boxes == () for r in results)


def test_walking_people_are_boxed(ped_frames: list[Image]) -> None:
    """Consecutive frames of walking people give boxes covering each person and none on the parked van."""
    detector = MotionDetector(MotionConfig(), PED_SIZE)
    results = [detector.update(frame) for frame in ped_frames]
    assert not results[0].moving  # the first frame only seeds the background
    assert all(r.moving for r in results[1:])
    last = results[-1]
    for person in PEOPLE_FRAME5:
        assert max(overlap_fraction(person, box) for box in last.boxes) >= 0.8, person
    assert not any(intersects(box, PARKED_VAN) for box in last.boxes)
    assert 0.0 < last.changed_fraction < 0.1
    assert all(0 <= b.x1 < b.x2 <= PED_SIZE[0] and 0 <= b.y1 < b.y2 <= PED_SIZE[1] for b in last.boxes)


def test_brightness_jump_is_not_motion(ped_frames: list[Image]) -> None:
    """Halving the brightness of a still scene at once reports no motion, then or after."""
    detector = MotionDetector(MotionConfig(), PED_SIZE)
    for _ in range(3):
        detector.update(ped_frames[0])
    darker = scaled(ped_frames[0], 0.5)
    assert not any(detector.update(darker).moving for _ in range(3))


@pytest.mark.parametrize("final_gain", [0.4, 1.4])
def test_gradual_brightness_ramp_is_not_motion(ped_frames: list[Image], final_gain: float) -> None:
    """A still scene slowly darkening or brightening (auto-exposure) gives motion on at most one frame."""
    detector = MotionDetector(MotionConfig(), PED_SIZE)
    detector.update(ped_frames[0])
    gains = np.linspace(1.0, final_gain, 15)
    moving = sum(detector.update(scaled(ped_frames[0], float(g))).moving for g in gains)
    assert moving <= 1


def test_people_still_seen_after_a_brightness_jump(ped_frames: list[Image]) -> None:
    """After the exposure halves, walking people are still boxed: normalisation keeps sensitivity."""
    detector = MotionDetector(MotionConfig(), PED_SIZE)
    detector.update(ped_frames[0])
    results = [detector.update(scaled(frame, 0.5)) for frame in ped_frames]
    assert not results[0].moving
    for person in PEOPLE_FRAME5:
        assert max(overlap_fraction(person, box) for box in results[-1].boxes) >= 0.8, person


def test_unexplained_global_change_recalibrates(ped_frames: list[Image]) -> None:
    """A change over most of the frame that no brightness map explains (a day/night switch) is reported
    as a lighting change without motion, and the new look becomes the background at once."""
    detector = MotionDetector(MotionConfig(), PED_SIZE)
    detector.update(ped_frames[0])
    night = cast(Image, cv2.bitwise_not(ped_frames[0]))  # same dtype as its uint8 input
    switched = detector.update(night)
    assert switched.lighting_change
    assert not switched.moving
    assert switched.changed_fraction > MotionConfig().lighting_change_fraction
    after = detector.update(night)
    assert after == MotionResult(moving=False, boxes=(), changed_fraction=0.0)


# At default sensitivity the clock's thin red digits stay under the grey-level threshold; a
# sensitive setting (as for small, distant objects) sees them change, which is what masks are for.
SENSITIVE = {"frame_width_px": 640, "blur_kernel_px": 3, "pixel_threshold": 10, "min_area_fraction": 0.0}


def clock_boxes(frames: list[Image], cfg: MotionConfig) -> list[BBox]:
    detector = MotionDetector(cfg, TRAFFIC_SIZE)
    return [box for frame in frames for box in detector.update(frame).boxes if intersects(box, CLOCK)]


def test_traffic_clock_moves_without_a_mask(traffic_frames: list[Image]) -> None:
    """At a sensitive setting the burned-in clock of the traffic video is seen as motion when not masked."""
    assert clock_boxes(traffic_frames, MotionConfig.model_validate(SENSITIVE))


@pytest.mark.parametrize("polygon", [CLOCK_MASK_PX, CLOCK_MASK_NORMALISED], ids=["pixels", "normalised"])
def test_mask_suppresses_the_traffic_clock(
    traffic_frames: list[Image], polygon: tuple[tuple[float, float], ...]
) -> None:
    """A mask polygon over the clock removes every motion box there, while cars still move elsewhere."""
    cfg = MotionConfig.model_validate({**SENSITIVE, "mask": (polygon,)})
    assert clock_boxes(traffic_frames, cfg) == []
    detector = MotionDetector(cfg, TRAFFIC_SIZE)
    assert any(detector.update(frame).moving for frame in traffic_frames)


def test_frame_of_another_size_is_rejected(ped_frames: list[Image]) -> None:
    """A frame whose size differs from the detector's raises ValueError saying to build a new detector."""
    detector = MotionDetector(MotionConfig(), TRAFFIC_SIZE)
    with pytest.raises(ValueError, match="build a new MotionDetector"):
        detector.update(ped_frames[0])


def test_mask_over_the_whole_frame_is_rejected() -> None:
    """A mask that hides every pixel is refused at construction."""
    whole = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    with pytest.raises(ValueError, match="covers the whole frame"):
        MotionDetector(MotionConfig(mask=(whole,)), TRAFFIC_SIZE)


@pytest.mark.parametrize(("field", "value"), [("blur_kernel_px", 4), ("frame_width_px", 8), ("background_alpha", 0.0)])
def test_bad_motion_config_is_rejected(field: str, value: float) -> None:
    """Even blur kernels, tiny motion frames and a zero background weight fail validation."""
    with pytest.raises(ValidationError, match=field):
        MotionConfig.model_validate({field: value})


STILL = MotionResult(moving=False, boxes=(), changed_fraction=0.0)
MOVING = MotionResult(moving=True, boxes=(BBox(10, 10, 50, 90),), changed_fraction=0.02)


def test_gate_runs_first_frame_then_skips_when_still() -> None:
    """The first frame is always detected; afterwards a still scene without tracks is skipped."""
    gate = MotionGate(MotionConfig(idle_recheck_interval_s=0.0))
    assert gate.should_detect(STILL, active_tracks=0, ts_mono=100.0)
    gate.mark_detected(100.0)
    assert not any(gate.should_detect(STILL, 0, 100.0 + t) for t in (0.1, 5.0, 1000.0))


def test_gate_runs_on_motion() -> None:
    """Motion runs the detector no matter how recently it ran."""
    gate = MotionGate(MotionConfig())
    gate.mark_detected(10.0)
    assert gate.should_detect(MOVING, active_tracks=0, ts_mono=10.01)


def test_gate_rechecks_active_tracks_at_the_interval() -> None:
    """With active tracks and no motion the detector runs again once recheck_interval_s has passed."""
    gate = MotionGate(MotionConfig(recheck_interval_s=2.0))
    gate.mark_detected(50.0)
    assert not gate.should_detect(STILL, active_tracks=3, ts_mono=51.9)
    assert gate.should_detect(STILL, active_tracks=3, ts_mono=52.0)
    gate.mark_detected(52.0)
    assert not gate.should_detect(STILL, active_tracks=3, ts_mono=53.0)
    assert not gate.should_detect(STILL, active_tracks=0, ts_mono=54.5)


def test_gate_idle_recheck_without_tracks() -> None:
    """With no tracks and no motion the detector still runs every idle_recheck_interval_s."""
    gate = MotionGate(MotionConfig(idle_recheck_interval_s=30.0))
    gate.mark_detected(0.0)
    assert not gate.should_detect(STILL, active_tracks=0, ts_mono=29.0)
    assert gate.should_detect(STILL, active_tracks=0, ts_mono=30.0)


def test_gate_disabled_always_runs() -> None:
    """With motion gating disabled every frame offered is detected."""
    gate = MotionGate(MotionConfig(enabled=False))
    gate.mark_detected(1.0)
    assert gate.should_detect(STILL, active_tracks=0, ts_mono=1.0)


def test_motion_state_turns_off_only_after_the_off_delay() -> None:
    """Motion is ON from a moving frame and stays ON through still frames until off_delay_s has passed."""
    gate = MotionGate(MotionConfig(off_delay_s=5.0))
    assert not gate.motion_active(0.0)
    gate.observe(STILL, 0.0)
    assert not gate.motion_active(0.0)
    gate.observe(MOVING, 1.0)
    assert gate.motion_active(1.0)
    for ts in (2.0, 4.0, 6.0):  # still frames inside the delay: no flapping
        gate.observe(STILL, ts)
        assert gate.motion_active(ts)
    gate.observe(STILL, 6.1)
    assert not gate.motion_active(6.1)
    gate.observe(MOVING, 7.0)
    assert gate.motion_active(7.0)


def test_motion_state_never_on_with_the_gate_disabled() -> None:
    """With motion analysis disabled no frame counts as moving, so the state stays OFF."""
    gate = MotionGate(MotionConfig(enabled=False))
    gate.observe(MOVING, 1.0)
    assert not gate.motion_active(1.0)
