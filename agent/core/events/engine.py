"""Turns tracks into events: one start, some updates and one end per tracked object.

Also tells a snapshot worker when an event's best frame improved. Pure (wall
time comes in as `ts_wall`); one instance per camera, called by the inference
thread after the tracker and the zone tracker."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from agent.config.analytics import EventsConfig
from agent.geometry import touches_edge
from agent.types import Event, EventKind, Track, TrackState

ZoneNames = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BestFrame:
    """This frame is the best so far of an event: keep it as the event's snapshot.

    Best = a box not cut by the frame edge beats one that is; then the higher score."""

    event_id: str
    track: Track
    cut_by_edge: bool


class _Open:
    """The engine's mutable record of one confirmed track's (pending or started) event."""

    __slots__ = (
        "best",
        "current",
        "dirty",
        "entered",
        "event_id",
        "last_confirmed_wall",
        "last_sent_wall",
        "start_ts",
        "top_score",
        "track",
    )

    def __init__(self, track: Track, ts_wall: float) -> None:
        self.track = track
        self.event_id: str | None = None  # allocated when the event starts
        self.start_ts = ts_wall
        self.top_score = track.score
        self.current: ZoneNames = ()
        self.entered: list[str] = []
        self.last_sent_wall = ts_wall
        self.last_confirmed_wall = ts_wall
        self.dirty = False  # top_score improved since the last message
        self.best: tuple[bool, float] | None = None  # (not cut by edge, score) of the best frame


class EventEngine:
    """Keeps one event per CONFIRMED track.

    - start: once the track has lasted min_duration_s (track.last_seen - first_seen).
    - update: at once when its zones change; when its top score improved, at most
      once per update_interval_s.
    - end: when the track is REMOVED or absent from `tracks`, or LOST for more than
      max_age_s of wall time. end_ts is the last wall time it was seen. A track in `held`
      (lost, kept by the tracker for re-entry linking) keeps its event open: the end comes
      when the tracker removes it, or never if the track comes back.
    A track that never reached start produces no message. State is held only for
    tracks in the latest `tracks`, so it is bounded by the tracker's max_tracks."""

    def __init__(
        self,
        camera: str,
        cfg: EventsConfig,
        max_age_s: float,
        id_factory: Callable[[], str],
        *,
        frame_size: tuple[int, int] | None = None,
    ) -> None:
        if max_age_s <= 0.0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s}")
        self._camera = camera
        self._cfg = cfg
        self._max_age_s = max_age_s
        self._new_id = id_factory
        self._frame_size = frame_size
        self._open: dict[int, _Open] = {}
        self.best_frames: tuple[BestFrame, ...] = ()
        """Events whose best frame is the current frame, from the latest update (start included)."""

    def set_frame_size(self, width: int, height: int) -> None:
        """The frame size the boxes refer to, so a box cut by the frame edge is known (best frames)."""
        self._frame_size = (width, height)

    def __len__(self) -> int:
        """Number of tracks with event state held (pending or started)."""
        return len(self._open)

    def open_event_id(self, track_id: int) -> str | None:
        """The id of the track's started event, else None."""
        state = self._open.get(track_id)
        return state.event_id if state is not None else None

    def update(
        self,
        tracks: Sequence[Track],
        zones_by_track: Mapping[int, ZoneNames],
        ts_wall: float,
        held: Collection[int] = (),
    ) -> list[Event]:
        events: list[Event] = []
        best: list[BestFrame] = []
        removed = {t.track_id: t for t in tracks if t.state is TrackState.REMOVED}
        alive: set[int] = set()
        for track in tracks:
            if track.state in (TrackState.CONFIRMED, TrackState.LOST):
                alive.add(track.track_id)
                self._observe(track, zones_by_track.get(track.track_id, ()), ts_wall, events, best)
        for track_id, state in list(self._open.items()):
            if track_id in held:
                continue
            lost_too_long = ts_wall - state.last_confirmed_wall > self._max_age_s
            if track_id not in alive or lost_too_long:
                self._close(track_id, removed.get(track_id), ts_wall, events)
        self.best_frames = tuple(best)
        return events

    def open_event_ids(self) -> list[str]:
        """The ids of every started event."""
        return [state.event_id for state in self._open.values() if state.event_id is not None]

    def announce(self, event_ids: Collection[str], ts_wall: float) -> list[Event]:
        """An update now for these started events: something outside the engine (a sub_label from a
        second-stage classifier) changed what their messages say."""
        events: list[Event] = []
        for state in self._open.values():
            if state.event_id is not None and state.event_id in event_ids:
                self._send(EventKind.UPDATE, state, ts_wall, events)
        return events

    def end_all(self, ts_wall: float) -> list[Event]:
        """End every started event (shutdown, camera stop) and forget all state."""
        events: list[Event] = []
        for track_id in list(self._open):
            self._close(track_id, None, ts_wall, events)
        self.best_frames = ()
        return events

    def _observe(
        self, track: Track, zones: ZoneNames, ts_wall: float, events: list[Event], best: list[BestFrame]
    ) -> None:
        state = self._open.get(track.track_id)
        confirmed = track.state is TrackState.CONFIRMED
        if state is None:
            if not confirmed:
                return
            state = self._open[track.track_id] = _Open(track, ts_wall)
        state.track = track
        zones_changed = zones != state.current
        if zones_changed:
            state.current = zones
            state.entered.extend(z for z in zones if z not in state.entered)
        if confirmed:
            state.last_confirmed_wall = ts_wall
        if track.score > state.top_score:
            state.top_score = track.score
            state.dirty = True
        if state.event_id is None:
            if confirmed and track.last_seen - track.first_seen >= self._cfg.min_duration_s:
                state.event_id = self._new_id()
                state.start_ts = ts_wall - (track.last_seen - track.first_seen)
                self._send(EventKind.START, state, ts_wall, events)
                self._offer_best(state, track, best)
            return
        if confirmed:
            self._offer_best(state, track, best)
        interval_passed = ts_wall - state.last_sent_wall >= self._cfg.update_interval_s
        if zones_changed or (state.dirty and interval_passed):
            self._send(EventKind.UPDATE, state, ts_wall, events)

    def _offer_best(self, state: _Open, track: Track, best: list[BestFrame]) -> None:
        cut = self._frame_size is not None and touches_edge(
            track.box, self._frame_size[0], self._frame_size[1], self._cfg.snapshot_edge_margin_px
        )
        quality = (not cut, track.score)
        if state.best is None or quality > state.best:
            state.best = quality
            assert state.event_id is not None
            best.append(BestFrame(state.event_id, track, cut))

    def _send(self, kind: EventKind, state: _Open, ts_wall: float, events: list[Event]) -> None:
        events.append(self._event(kind, state, ts_wall, None))
        state.last_sent_wall = ts_wall
        state.dirty = False

    def _close(self, track_id: int, final: Track | None, ts_wall: float, events: list[Event]) -> None:
        state = self._open.pop(track_id)
        if state.event_id is None:
            return  # never started: a ghost, nothing was published
        if final is not None:
            state.track = final
        elif state.track.state is not TrackState.REMOVED:
            state.track = dataclasses.replace(state.track, state=TrackState.REMOVED)
        events.append(self._event(EventKind.END, state, ts_wall, state.last_confirmed_wall))

    def _event(self, kind: EventKind, state: _Open, ts_wall: float, end_ts: float | None) -> Event:
        assert state.event_id is not None
        return Event(
            kind=kind,
            event_id=state.event_id,
            camera=self._camera,
            track=state.track,
            top_score=state.top_score,
            current_zones=state.current,
            entered_zones=tuple(state.entered),
            start_ts=state.start_ts,
            ts_wall=ts_wall,
            end_ts=end_ts,
        )
