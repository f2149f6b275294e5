"""Counts tracked objects crossing named lines, per direction.

Side A of a line is on the left when walking from its point a to its point b on
screen (image y grows down), side B on the right. Pure; one instance per camera,
called by the analytics thread after the tracker and the event engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from agent.config.analytics import LineConfig
from agent.geometry import Point, segments_intersect, side_of_line, to_pixels
from agent.types import LineCrossing, Track, TrackState

A_TO_B = "a_to_b"
B_TO_A = "b_to_a"


@dataclass(frozen=True, slots=True)
class LineTotals:
    """Crossings counted on one line since start."""

    a_to_b: int = 0
    b_to_a: int = 0


@dataclass(frozen=True, slots=True)
class _Line:
    name: str
    a: Point
    b: Point
    objects: frozenset[str]
    deadband_px: float


@dataclass(frozen=True, slots=True)
class _Anchor:
    """The last point of a track that lay clearly on one side of a line."""

    point: Point
    right: bool


class LineCounter:
    """Turns track movements into LineCrossing records and running totals.

    The reference point is the box's bottom-centre. A crossing is counted when the
    point moves from one side to the other (each at least deadband_px from the line)
    and the segment between the two points cuts the line segment a-b. A track going
    back and forth counts every crossing; jitter inside the deadband counts none.
    Only CONFIRMED tracks move; LOST tracks keep their anchors; state of REMOVED or
    absent tracks is forgotten."""

    def __init__(self, camera: str, lines: Mapping[str, LineConfig], width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        self._camera = camera
        self._lines = tuple(self._line(name, cfg, width, height) for name, cfg in lines.items())
        self._anchors: dict[int, dict[str, _Anchor]] = {}
        self._totals = {line.name: LineTotals() for line in self._lines}

    @staticmethod
    def _line(name: str, cfg: LineConfig, width: int, height: int) -> _Line:
        a, b = to_pixels((cfg.a, cfg.b), width, height)
        return _Line(name, a, b, frozenset(cfg.objects), cfg.deadband_px)

    def __len__(self) -> int:
        """Number of tracks with line state held."""
        return len(self._anchors)

    @property
    def totals(self) -> dict[str, LineTotals]:
        """Totals per line name (a copy), for the retained <camera>/lines/<line> topic."""
        return dict(self._totals)

    def update(
        self, tracks: Sequence[Track], event_id_of: Callable[[int], str | None], ts_wall: float
    ) -> list[LineCrossing]:
        alive = {t.track_id for t in tracks if t.state is not TrackState.REMOVED}
        for track_id in [tid for tid in self._anchors if tid not in alive]:
            del self._anchors[track_id]
        crossings: list[LineCrossing] = []
        for track in tracks:
            if track.state is not TrackState.CONFIRMED:
                continue
            anchors = self._anchors.setdefault(track.track_id, {})
            for line in self._lines:
                if line.objects and track.label not in line.objects:
                    continue
                direction = self._move(anchors, line, track.box.bottom_center)
                if direction is not None:
                    crossings.append(
                        LineCrossing(
                            self._camera,
                            line.name,
                            direction,
                            track.track_id,
                            event_id_of(track.track_id),
                            track.label,
                            ts_wall,
                        )
                    )
        return crossings

    def _move(self, anchors: dict[str, _Anchor], line: _Line, point: Point) -> str | None:
        """Move the track's anchor on `line` to `point`; the direction if that crossed the line."""
        distance = side_of_line(point, line.a, line.b)
        if abs(distance) < line.deadband_px or distance == 0.0:
            return None
        right = distance > 0.0
        previous = anchors.get(line.name)
        anchors[line.name] = _Anchor(point, right)
        if previous is None or previous.right == right:
            return None
        if not segments_intersect(previous.point, point, line.a, line.b):
            return None  # went round an end of the line
        totals = self._totals[line.name]
        if right:
            self._totals[line.name] = LineTotals(totals.a_to_b + 1, totals.b_to_a)
            return A_TO_B
        self._totals[line.name] = LineTotals(totals.a_to_b, totals.b_to_a + 1)
        return B_TO_A
