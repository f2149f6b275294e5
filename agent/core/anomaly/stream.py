"""Stream faults: camera offline, frozen picture, frame-rate collapse.

Pure: the caller (analytics thread, from the capture thread's counters) passes a
StreamStatus each update; this module only applies sustain and hysteresis."""

from __future__ import annotations

from dataclasses import dataclass

from agent.config.anomaly import StreamAnomalyConfig
from agent.core.anomaly.common import AnomalyBook, Latch
from agent.types import Anomaly


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """What the capture side knows about a camera's stream right now."""

    online: bool
    frozen: bool = False
    fps: float = 0.0
    nominal_fps: float = 0.0


class StreamDetector:
    """Three latches (offline, frozen, fps_low); offline masks the other two."""

    def __init__(self, cfg: StreamAnomalyConfig, book: AnomalyBook) -> None:
        self._cfg = cfg
        self._book = book
        self._latches = {
            "offline": Latch(cfg.offline_sustain_s, cfg.resolve_s),
            "frozen": Latch(cfg.frozen_sustain_s, cfg.resolve_s),
            "fps_low": Latch(cfg.fps_sustain_s, cfg.resolve_s),
        }

    def update(self, ts: float, status: StreamStatus) -> list[Anomaly]:
        cfg = self._cfg
        floor_fps = cfg.fps_min_ratio * status.nominal_fps
        slow = status.online and not status.frozen and status.nominal_fps > 0 and status.fps < floor_fps
        conditions = {
            "offline": (not status.online, status.online),
            "frozen": (status.online and status.frozen, status.online and not status.frozen),
            "fps_low": (slow, status.online and status.fps >= floor_fps),
        }
        details: dict[str, dict[str, float | str]] = {
            "offline": {"observed": "offline" if not status.online else "online", "expected": "online"},
            "frozen": {"observed": "frozen" if status.frozen else "moving", "expected": "moving"},
            "fps_low": {
                "observed": round(status.fps, 2),
                "expected": status.nominal_fps,
                "threshold": round(floor_fps, 2),
            },
        }
        out: list[Anomaly] = []
        for kind, (firing, clear) in conditions.items():
            latch = self._latches[kind]
            change = latch.step(ts, firing, clear)
            key = ("stream", kind)
            if change is True:
                opened = self._book.open(key, f"stream_{kind}", cfg.severity, latch.started_ts, details[kind])
                out.extend([opened] if opened else [])
            elif change is False:
                closed = self._book.close(key, ts)
                out.extend([closed] if closed else [])
        return out

    @property
    def offline(self) -> bool:
        return self._latches["offline"].on
