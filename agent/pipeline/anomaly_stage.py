"""Feeds one camera's anomaly engine from the analytics thread: tracks and zones
every processed frame, a small grey frame at the tamper check rate, the stream's
health once a second even while no frames arrive, and persists the learned baselines
(agent.core.anomaly.state's JSON; a file that does not decode is set aside, not fatal)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from agent.config.anomaly import AnomalyConfig
from agent.core.anomaly import AnomalyEngine
from agent.core.anomaly.common import AnomalyStateError
from agent.core.anomaly.state import decode, encode
from agent.core.anomaly.stream import StreamStatus
from agent.core.anomaly.tamper import tamper_grey
from agent.storage.health import StorageHealth
from agent.types import Anomaly, Frame, Track

log = logging.getLogger(__name__)

STATE_SAVE_INTERVAL_S = 300.0


class AnomalyStage:
    """One camera's anomaly engine plus the timing and persistence around it."""

    def __init__(
        self,
        camera: str,
        cfg: AnomalyConfig,
        state_path: Path,
        stream_status: Callable[[], StreamStatus],
        storage: StorageHealth | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """`wall_clock` stamps the name a rejected state file is renamed to."""
        self._cfg = cfg
        self._wall_clock = wall_clock
        self._storage = storage  # counts and logs a failed save (a full state_dir)
        self._engine = AnomalyEngine(camera, cfg, lambda: uuid.uuid4().hex)
        self._state_path = state_path
        self._stream_status = stream_status
        self._next_grey_wall = 0.0
        self._next_save_wall = 0.0
        self._load_state()

    def on_frame(
        self,
        frame: Frame,
        tracks: Sequence[Track],
        zones: Mapping[int, tuple[str, ...]],
        event_ids: Mapping[int, str],
        detecting: bool = True,
    ) -> list[Anomaly]:
        """`detecting` False: the camera's detect toggle is OFF (see AnomalyEngine.update)."""
        if not self._cfg.enabled:
            return []
        grey = None
        if self._cfg.tamper.enabled and frame.ts_wall >= self._next_grey_wall:
            grey = tamper_grey(frame.image, self._cfg.tamper.grey_width_px)
            self._next_grey_wall = frame.ts_wall + self._cfg.tamper.check_interval_s
        found = self._engine.update(
            frame.ts_wall, tracks, zones, grey, self._stream_status(), event_ids, detecting=detecting
        )
        self._maybe_save(frame.ts_wall)
        return found

    def on_tick(
        self, ts_wall: float, tracks: Sequence[Track], zones: Mapping[int, tuple[str, ...]], detecting: bool = True
    ) -> list[Anomaly]:
        """Called about once a second whether or not frames arrive, so stream faults start and end."""
        if not self._cfg.enabled:
            return []
        found = self._engine.update(ts_wall, tracks, zones, None, self._stream_status(), detecting=detecting)
        self._maybe_save(ts_wall)
        return found

    def finish(self, ts_wall: float) -> list[Anomaly]:
        resolved = self._engine.resolve_all(ts_wall)
        self.save_state()
        return resolved

    def _maybe_save(self, ts_wall: float) -> None:
        if ts_wall >= self._next_save_wall:
            if self._next_save_wall > 0.0:
                self.save_state()
            self._next_save_wall = ts_wall + STATE_SAVE_INTERVAL_S

    def save_state(self) -> None:
        """Atomic write of the learned baselines; a failure is logged, the agent keeps running."""
        tmp = self._state_path.with_suffix(".tmp")
        try:
            self._state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(encode(self._engine.to_state()))
            os.replace(tmp, self._state_path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)  # a partial temp file would hold space on a full disk
            if self._storage is None:
                log.warning("cannot save anomaly state to %s: %s", self._state_path, exc)
            else:
                self._storage.write_failed(self._state_path, exc, "the baselines are saved again at the next interval")

    def _load_state(self) -> None:
        path = self._state_path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except UnicodeDecodeError as exc:
            self._reject(AnomalyStateError(f"not UTF-8 text ({exc})"))
            return
        except OSError as exc:  # unreadable (permissions, I/O error): the file may be fine, so it stays
            log.warning("cannot read anomaly state %s (baselines relearn from now): %s", path, exc)
            return
        try:
            self._engine.from_state(decode(text))
        except AnomalyStateError as exc:
            self._reject(exc)
            return
        log.info("loaded anomaly baselines from %s", path)

    def _reject(self, reason: AnomalyStateError) -> None:
        """Move a state file that does not decode aside (kept for a look) so the next save starts clean."""
        path = self._state_path
        stamp = dt.datetime.fromtimestamp(self._wall_clock(), dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        target = path.with_name(f"{path.name}.rejected-{stamp}")
        try:
            os.replace(path, target)
        except OSError as exc:
            log.warning(
                "rejected anomaly state %s (%s); could not rename it to %s (%s); baselines relearn from now",
                path,
                reason,
                target,
                exc,
            )
            return
        log.warning(
            "rejected anomaly state %s (%s); renamed it to %s; baselines relearn from now", path, reason, target
        )
