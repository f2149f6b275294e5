"""Zone tracker: inertia on entering and leaving, per-zone allow-lists, normalised polygons."""

from __future__ import annotations

import pytest

from agent.config.analytics import ZoneConfig
from agent.core.zones import ZoneTracker
from agent.types import BBox, Track, TrackState

W, H = 640, 480
YARD_PX = ((0.0, 240.0), (640.0, 240.0), (640.0, 480.0), (0.0, 480.0))  # the bottom half


def trk(foot_y: float, track_id: int = 1, label: str = "person", state: TrackState = TrackState.CONFIRMED) -> Track:
    """A track whose box's bottom-centre is at (320, foot_y)."""
    return Track(track_id, label, BBox(300, foot_y - 100, 340, foot_y), 0.9, state, 0.0, 0.0, 5)


@pytest.mark.parametrize("inertia", [1, 3])
def test_enter_and_leave_need_inertia_frames(inertia: int) -> None:
    """Entering takes `inertia` frames inside in a row, leaving `inertia` frames outside in a row."""
    zones = ZoneTracker({"yard": ZoneConfig(points=YARD_PX, inertia_frames=inertia)}, W, H)
    for _ in range(inertia - 1):
        assert zones.update([trk(300)]) == {1: ()}
    assert zones.update([trk(300)]) == {1: ("yard",)}
    assert zones.update([trk(100)]) == {1: () if inertia == 1 else ("yard",)}
    for _ in range(inertia - 1):
        zones.update([trk(100)])
    assert zones.update([trk(100)]) == {1: ()}


def test_flicker_shorter_than_inertia_is_ignored() -> None:
    """Alternating inside/outside frames never reach inertia 2, so the track never enters."""
    zones = ZoneTracker({"yard": ZoneConfig(points=YARD_PX, inertia_frames=2)}, W, H)
    for i in range(10):
        assert zones.update([trk(300 if i % 2 else 100)]) == {1: ()}


def test_objects_allow_list() -> None:
    """A zone limited to cars never contains a person standing in it."""
    cfg = {
        "drive": ZoneConfig(points=YARD_PX, objects=("car",), inertia_frames=1),
        "all": ZoneConfig(points=YARD_PX, inertia_frames=1),
    }
    zones = ZoneTracker(cfg, W, H)
    got = zones.update([trk(300, 1, "person"), trk(300, 2, "car")])
    assert got == {1: ("all",), 2: ("drive", "all")}


def test_normalised_zone_coordinates() -> None:
    """A zone given in 0..1 units covers the same pixels as its pixel twin."""
    norm = ((0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0))
    zones = ZoneTracker({"yard": ZoneConfig(points=norm, inertia_frames=1)}, W, H)
    assert zones.update([trk(250)]) == {1: ("yard",)}
    assert zones.update([trk(230)]) == {1: ()}


def test_lost_keeps_zones_and_removed_is_forgotten() -> None:
    """LOST tracks keep their zones without being observed; REMOVED or absent tracks are forgotten."""
    zones = ZoneTracker({"yard": ZoneConfig(points=YARD_PX, inertia_frames=1)}, W, H)
    zones.update([trk(300, 1), trk(300, 2), trk(300, 3, state=TrackState.TENTATIVE)])
    assert len(zones) == 2
    got = zones.update([trk(100, 1, state=TrackState.LOST), trk(300, 2, state=TrackState.REMOVED)])
    assert got == {1: ("yard",)}
    assert len(zones) == 1
    assert zones.update([]) == {}
    assert len(zones) == 0
