"""Which named zones each tracked object is in, with inertia against flicker.

A track is in a zone when its box's bottom-centre is inside the zone polygon.
Pure; one instance per camera, called by the analytics thread after the tracker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.config.analytics import ZoneConfig
from agent.geometry import Point, point_in_polygon, to_pixels
from agent.types import Track, TrackState

ZoneNames = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Zone:
    name: str
    polygon: tuple[Point, ...]
    objects: frozenset[str]
    inertia_frames: int


class _Presence:
    """One track's standing in one zone: reported state plus a streak of contrary frames."""

    __slots__ = ("inside", "streak")

    def __init__(self) -> None:
        self.inside = False
        self.streak = 0

    def observe(self, raw_inside: bool, inertia_frames: int) -> None:
        if raw_inside == self.inside:
            self.streak = 0
            return
        self.streak += 1
        if self.streak >= inertia_frames:
            self.inside = raw_inside
            self.streak = 0


class ZoneTracker:
    """Reports each track's current zones.

    Entering needs `inertia_frames` consecutive frames inside, leaving as many
    consecutive frames outside. Only CONFIRMED tracks are observed; LOST tracks keep
    their last zones; state of tracks that are REMOVED or absent from the input is
    forgotten. A zone with `objects` ignores other labels."""

    def __init__(self, zones: Mapping[str, ZoneConfig], width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        self._zones = tuple(
            _Zone(name, to_pixels(z.points, width, height), frozenset(z.objects), z.inertia_frames)
            for name, z in zones.items()
        )
        self._state: dict[int, list[_Presence]] = {}

    def __len__(self) -> int:
        """Number of tracks with zone state held."""
        return len(self._state)

    def update(self, tracks: Sequence[Track]) -> dict[int, ZoneNames]:
        """Current zones (config order) of every CONFIRMED or LOST track in `tracks`."""
        alive = {t.track_id for t in tracks if t.state is not TrackState.REMOVED}
        for track_id in [tid for tid in self._state if tid not in alive]:
            del self._state[track_id]
        result: dict[int, ZoneNames] = {}
        for track in tracks:
            if track.state is TrackState.CONFIRMED:
                self._observe(track)
            elif track.state is not TrackState.LOST:
                continue
            result[track.track_id] = self.zones_of(track.track_id)
        return result

    def zones_of(self, track_id: int) -> ZoneNames:
        """The zones the track is in now; () for unknown tracks."""
        presences = self._state.get(track_id)
        if presences is None:
            return ()
        return tuple(zone.name for zone, p in zip(self._zones, presences, strict=True) if p.inside)

    def _observe(self, track: Track) -> None:
        presences = self._state.get(track.track_id)
        if presences is None:
            presences = [_Presence() for _ in self._zones]
            self._state[track.track_id] = presences
        foot = track.box.bottom_center
        for zone, presence in zip(self._zones, presences, strict=True):
            allowed = not zone.objects or track.label in zone.objects
            presence.observe(allowed and point_in_polygon(foot, zone.polygon), zone.inertia_frames)
