"""LaneTable: which detector thread may take which camera's frame, and when a camera may be finished."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from agent.capture.ring import FrameRing
from agent.gate.regions import Region
from agent.pipeline.counters import DetectCounters
from agent.pipeline.lanes import CameraLane, LaneTable
from agent.pipeline.wake import WakeSignal
from agent.records import Record
from agent.types import BBox, DetectionResult, Frame


class NoDetection:
    """A DetectionPlanner that is never called in these tests (the table does not run detection)."""

    def plan(self, frame: Frame, model_side: int, track_boxes: Sequence[BBox]) -> tuple[Region, ...]:
        raise AssertionError("the lane table must not run detection")

    def merge(self, regions: Sequence[Region], results: Sequence[DetectionResult]) -> DetectionResult:
        raise AssertionError("the lane table must not run detection")


class NoProcessor:
    detector_floor = 0.3
    active_boxes: tuple[BBox, ...] = ()

    def process(self, frame: Frame, result: DetectionResult | None) -> list[Record]:
        return []

    def tick(self, ts_wall: float) -> list[Record]:
        return []

    def finish(self, ts_wall: float) -> list[Record]:
        return []


def ring_with_frames(name: str, count: int, slots: int = 4) -> FrameRing:
    ring = FrameRing(name, slots)
    for i in range(count):
        ring.writable((2, 2, 3))[...] = i
        ring.commit(float(i), 1000.0 + i)
    return ring


def lane(ring: FrameRing, interval_s: float = 0.0) -> CameraLane:
    return CameraLane(ring.camera, ring, NoDetection(), NoProcessor(), interval_s, DetectCounters())


@pytest.mark.parametrize(("slots", "expected"), [(3, 1), (4, 2), (8, 2)])
def test_frames_in_flight_follow_ring_size(slots: int, expected: int) -> None:
    """A camera may have ring_slots - 2 frames out of its ring (at most 2), so the producer never starves."""
    assert lane(FrameRing("cam", slots)).max_in_flight == expected


def test_claim_takes_freshest_frame_of_stalest_camera() -> None:
    """The never-served camera goes first, and the frame taken is its newest one."""
    table = LaneTable(WakeSignal())
    a, b = lane(ring_with_frames("a", 3)), lane(ring_with_frames("b", 2))
    a.last_detect_mono = 5.0
    table.add(a)
    table.add(b)
    claim = table.claim_next(10.0, "d0")
    assert claim.lane is b
    assert claim.frame is not None
    assert claim.frame.seq == 2


def test_frames_between_rate_capped_claims_count_as_rate_capped_and_late_ones_as_overwritten() -> None:
    """An 8 fps camera claimed at 4 fps passes every other frame over because of the rate cap; once the
    detector comes late, the frames superseded after the camera was due count as overwritten."""
    period_s, lag_s = 0.125, 1 / 1024  # binary fractions: the due-time comparisons are exact
    table = LaneTable(WakeSignal())
    ring = ring_with_frames("a", 0)
    cam = lane(ring, interval_s=2 * period_s)
    table.add(cam)
    for step in range(10):  # a claim right after each frame; every second one finds the camera due
        now = step * period_s
        ring.writable((2, 2, 3))
        ring.commit(now, 1000.0 + now)
        claim = table.claim_next(now + lag_s, "d0")
        if claim.lane is not None:
            assert claim.frame is not None
            table.release_claim(claim.lane)
            table.frame_done(claim.lane, claim.frame)
    assert (ring.counters().rate_capped, ring.counters().overwritten) == (4, 0)
    for step in range(10, 13):  # the detector is busy elsewhere for three frames
        ring.writable((2, 2, 3))
        ring.commit(step * period_s, 1000.0 + step * period_s)
    assert (ring.counters().rate_capped, ring.counters().overwritten) == (5, 2)


def test_a_camera_with_frames_in_one_detector_thread_is_not_claimed_by_another() -> None:
    """While one detector thread still has a camera's frames, another thread gets nothing from it; the
    holder may take the next frame (it prepares frame n + 1 while frame n is invoked), in order."""
    table = LaneTable(WakeSignal())
    ring = ring_with_frames("a", 1)
    table.add(lane(ring))
    first = table.claim_next(1.0, "d0")
    assert first.lane is not None
    ring.writable((2, 2, 3))
    ring.commit(2.0, 1002.0)
    assert table.claim_next(2.0, "d1").lane is None
    second = table.claim_next(2.0, "d0")
    assert second.lane is first.lane
    assert second.frame is not None
    assert second.frame.seq == 2
    assert table.release_claim(first.lane) is False
    ring.writable((2, 2, 3))
    ring.commit(3.0, 1003.0)
    assert table.claim_next(3.0, "d1").lane is None  # d0 still has frame 2
    table.release_claim(first.lane)
    assert first.frame is not None
    table.frame_done(first.lane, first.frame)
    table.frame_done(first.lane, second.frame)
    assert table.claim_next(4.0, "d1").lane is first.lane


def test_a_busy_thread_leaves_free_cameras_to_an_idle_one() -> None:
    """With another detector thread idle, a thread that holds frames takes only its own cameras' next
    frames; once every thread is busy, any thread takes free cameras (stalest first)."""
    table = LaneTable(WakeSignal())
    rings = {name: ring_with_frames(name, 1) for name in "abc"}
    cams = {name: lane(ring) for name, ring in rings.items()}
    for cam in cams.values():
        table.add(cam)
    table.register("d0")
    table.register("d1")
    assert table.claim_next(1.0, "d0").lane is cams["a"]
    rings["a"].writable((2, 2, 3))
    rings["a"].commit(2.0, 1002.0)
    assert table.claim_next(2.0, "d0").lane is cams["a"]  # its own camera's next frame
    assert table.claim_next(2.0, "d0").lane is None  # b and c are left to the idle d1
    assert table.claim_next(2.0, "d1").lane is cams["b"]
    assert table.claim_next(3.0, "d0").lane is cams["c"]  # nobody is idle now
    table.unregister("d1")
    table.release_claim(cams["a"])
    table.release_claim(cams["a"])
    assert table.claim_next(4.0, "d0").lane is None  # a has no new frame; b is still held by d1's frame


def test_camera_waits_while_its_frames_are_in_analytics() -> None:
    """With max_in_flight frames out of the ring, the camera is not claimed until analytics returns one."""
    table = LaneTable(WakeSignal())
    ring = ring_with_frames("a", 1, slots=3)  # max_in_flight 1
    cam = lane(ring)
    table.add(cam)
    claim = table.claim_next(1.0, "d0")
    assert claim.frame is not None
    table.release_claim(cam)
    ring.writable((2, 2, 3))
    ring.commit(2.0, 1002.0)
    assert table.claim_next(2.0, "d0").lane is None
    assert not table.idle("a")
    table.frame_done(cam, claim.frame)
    assert ring.held_count == 0
    assert table.claim_next(3.0, "d0").lane is cam


def test_idle_only_after_the_last_frame_is_back() -> None:
    """A batch run may end only when the newest frame was taken and analytics has released it."""
    table = LaneTable(WakeSignal())
    cam = lane(ring_with_frames("a", 1))
    table.add(cam)
    assert not table.idle("a")
    claim = table.claim_next(1.0, "d0")
    assert claim.frame is not None
    table.release_claim(cam)
    assert not table.idle("a")
    table.frame_done(cam, claim.frame)
    assert table.idle("a")
    assert cam.processed == 1


def test_retiring_an_unclaimed_camera_finishes_it_now() -> None:
    """retire() hands back a camera nobody holds, and it is no longer served."""
    table = LaneTable(WakeSignal())
    cam = lane(ring_with_frames("a", 1))
    table.add(cam)
    assert table.retire("a") is cam
    assert cam.retired
    assert table.claim_next(1.0, "d0").lane is None
    assert table.retire("a") is None


def test_retiring_a_claimed_camera_is_finished_by_its_holder() -> None:
    """A camera retired while a detector thread holds frames of it is finished when the thread lets
    go of the last one, not before."""
    table = LaneTable(WakeSignal())
    ring = ring_with_frames("a", 1)
    cam = lane(ring)
    table.add(cam)
    assert table.claim_next(1.0, "d0").lane is cam
    ring.writable((2, 2, 3))
    ring.commit(2.0, 1002.0)
    assert table.claim_next(2.0, "d0").lane is cam
    assert table.retire("a") is None
    assert table.release_claim(cam) is False
    assert table.release_claim(cam) is True


def test_replacing_a_camera_retires_the_old_lane() -> None:
    """Adding a lane under an existing name retires the old one and serves the new one."""
    table = LaneTable(WakeSignal())
    ring = ring_with_frames("a", 1)
    old, new = lane(ring), lane(ring)
    table.add(old)
    assert table.add(new) is old
    assert table.lanes() == [new]
    assert old.retired
    assert not new.retired


def test_starved_counted_when_a_due_camera_waited_an_extra_interval() -> None:
    """A camera served more than two intervals after its last detection, with frames skipped, counts as starved."""
    table = LaneTable(WakeSignal())
    ring = ring_with_frames("a", 1)
    cam = lane(ring, interval_s=0.1)
    table.add(cam)
    claim = table.claim_next(1.0, "d0")
    assert claim.frame is not None
    table.release_claim(cam)
    table.frame_done(cam, claim.frame)
    for i in range(3):
        ring.writable((2, 2, 3))[...] = np.uint8(i)
        ring.commit(2.0 + i, 1002.0 + i)
    assert table.claim_next(1.5, "d0").lane is cam
    assert cam.counters.snapshot(1.5).starved == 1
