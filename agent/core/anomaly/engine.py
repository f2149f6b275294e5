"""AnomalyEngine: one camera's anomaly detectors composed behind one `update` call.

Pure: the analytics thread passes time, tracks, their zones, an optional small grey
frame (at the tamper check rate) and the stream status; it gets Anomaly state
changes back and persists `to_state()` itself (see state.py for the record and its JSON)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.config.anomaly import AnomalyConfig
from agent.core.anomaly.baseline import CountDetector
from agent.core.anomaly.common import AnomalyBook, AnomalyStateError, IdFactory, load_zone, local_time
from agent.core.anomaly.loitering import LoiteringDetector
from agent.core.anomaly.rare import RareObjectDetector
from agent.core.anomaly.restricted import RestrictedZoneDetector
from agent.core.anomaly.state import STATE_VERSION, AnomalyState
from agent.core.anomaly.stream import StreamDetector, StreamStatus
from agent.core.anomaly.tamper import KINDS as TAMPER_KINDS
from agent.core.anomaly.tamper import TamperDetector, tamper_features
from agent.types import Anomaly, Image, Track

_NO_EVENTS: Mapping[int, str] = {}
STREAM_KINDS = ("offline", "frozen", "fps_low")
COUNT_KINDS = ("surge", "absence")


def anomaly_kinds(cfg: AnomalyConfig) -> tuple[str, ...]:
    """Every Anomaly.kind an engine built from `cfg` can emit (e.g. for Home Assistant entities)."""
    if not cfg.enabled:
        return ()
    kinds: list[str] = []
    if cfg.count.enabled:
        kinds += [f"count_{k}" for k in COUNT_KINDS]
    if cfg.restricted_zone.enabled and cfg.restricted_zone.rules:
        kinds.append("restricted_zone")
    if cfg.loitering.enabled:
        kinds.append("loitering")
    if cfg.tamper.enabled:
        kinds += [f"tamper_{k}" for k in TAMPER_KINDS]
    if cfg.stream.enabled:
        kinds += [f"stream_{k}" for k in STREAM_KINDS]
    if cfg.rare_object.enabled:
        kinds.append("rare_object")
    return tuple(kinds)


class AnomalyEngine:
    """Runs each enabled kind for one camera; disabled kinds cost nothing."""

    def __init__(self, camera: str, cfg: AnomalyConfig, id_factory: IdFactory) -> None:
        self.camera = camera
        self.cfg = cfg
        self._tz = load_zone(cfg.timezone)
        self._book = AnomalyBook(camera, id_factory)
        self._stream = StreamDetector(cfg.stream, self._book) if cfg.stream.enabled else None
        self._tamper = TamperDetector(cfg.tamper, self._book) if cfg.tamper.enabled else None
        self._count = CountDetector(cfg.count, self._tz, self._book) if cfg.count.enabled else None
        self._restricted = (
            RestrictedZoneDetector(cfg.restricted_zone, self._book) if cfg.restricted_zone.enabled else None
        )
        self._loitering = LoiteringDetector(cfg.loitering, self._book) if cfg.loitering.enabled else None
        self._rare = RareObjectDetector(cfg.rare_object, self._book) if cfg.rare_object.enabled else None

    def update(
        self,
        ts_wall: float,
        tracks: Sequence[Track],
        zones_by_track: Mapping[int, tuple[str, ...]],
        grey_frame: Image | None = None,
        stream_status: StreamStatus | None = None,
        event_ids: Mapping[int, str] = _NO_EVENTS,
        detecting: bool = True,
    ) -> list[Anomaly]:
        """Advance every kind to `ts_wall`; return the anomalies that started or resolved.

        `event_ids` maps track_id to the track's event id so anomalies can name related events.
        `detecting` False (the camera's detect toggle is OFF): no tracks exist, so counts mean
        nothing and their buckets are neither judged nor learned."""
        if not self.cfg.enabled:
            return []
        out: list[Anomaly] = []
        if self._stream is not None and stream_status is not None:
            out.extend(self._stream.update(ts_wall, stream_status))
        offline = self._stream is not None and self._stream.offline
        if self._tamper is not None and grey_frame is not None and not offline:
            out.extend(self._tamper.update(ts_wall, tamper_features(grey_frame)))
        now = local_time(ts_wall, self._tz)
        if self._count is not None:
            out.extend(self._count.update(ts_wall, tracks, suppressed=self.view_impaired or not detecting))
        if self._restricted is not None:
            out.extend(self._restricted.update(ts_wall, now, tracks, zones_by_track, event_ids))
        if self._loitering is not None:
            out.extend(self._loitering.update(ts_wall, tracks, zones_by_track, event_ids))
        if self._rare is not None:
            out.extend(self._rare.update(ts_wall, now, tracks, event_ids))
        return out

    @property
    def view_impaired(self) -> bool:
        """True while a tamper or stream anomaly is open: object counts then mean nothing."""
        return any(self._book.is_open(("tamper", k)) for k in TAMPER_KINDS) or any(
            self._book.is_open(("stream", k)) for k in STREAM_KINDS
        )

    def resolve_all(self, ts_wall: float) -> list[Anomaly]:
        """Resolve every open anomaly (shutdown or camera removal) and forget pending conditions."""
        if self._tamper is not None:
            self._tamper.reset()
        return self._book.close_all(ts_wall)

    def to_state(self) -> AnomalyState:
        """The learned history worth keeping across restarts."""
        return AnomalyState(
            schema_version=STATE_VERSION,
            camera=self.camera,
            count=self._count.to_state() if self._count is not None else None,
            rare_object=self._rare.to_state() if self._rare is not None else None,
        )

    def from_state(self, state: AnomalyState) -> None:
        """Load what `to_state` saved; raises AnomalyStateError if it is not ours.

        A kind saved but now disabled, or enabled but not saved, is skipped (it starts fresh)."""
        if state.schema_version != STATE_VERSION:
            raise AnomalyStateError(
                f"anomaly state version {state.schema_version!r} is not {STATE_VERSION}; delete it to relearn"
            )
        if self._count is not None and state.count is not None:
            self._count.from_state(state.count)
        if self._rare is not None and state.rare_object is not None:
            self._rare.from_state(state.rare_object)
