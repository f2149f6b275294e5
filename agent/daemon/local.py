"""Builds the on-device views of the agent (issue 19): the event store and its clips (sinks and a frame
tap of the pipeline), live pictures, and the HTTP server that reads them. Each is None when its
config section is off, so an agent without them pays nothing per frame. Called by agent.daemon.root
(main thread); started and stopped by agent.daemon.lifecycle."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.config.schema import AgentConfig
from agent.records import FrameTap, Sink
from agent.store.writer import EventStore, store_root
from agent.types import Heartbeat, StatsSnapshot
from agent.web.live import LiveViews

if TYPE_CHECKING:  # PyAV, Flask and waitress are the [web] extra: imported only when turned on
    from agent.clips.recorder import ClipRecorder
    from agent.web.server import WebServer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LocalViews:
    store: EventStore | None
    clips: ClipRecorder | None
    live: LiveViews | None

    def sinks(self) -> dict[str, Sink]:
        out: dict[str, Sink] = {}
        if self.store is not None:
            out["store"] = self.store
        if self.clips is not None:
            out["clips"] = self.clips
        return out

    def taps(self) -> tuple[FrameTap, ...]:
        return tuple(tap for tap in (self.clips, self.live) if tap is not None)

    def heartbeats(self) -> list[Heartbeat]:
        return [
            Heartbeat(worker.name, worker.heartbeat_mono, worker.is_alive())
            for worker in (self.store, self.clips)
            if worker is not None
        ]

    def counters(self) -> dict[str, int]:
        """What the store and the clip thread wrote, dropped (full queues) and failed, so far."""
        out: dict[str, int] = {}
        if self.store is not None:
            out |= {"store_written": self.store.written, "store_dropped": self.store.dropped}
            out |= {"store_errors": self.store.errors, "store_pruned": self.store.pruned}
        if self.clips is not None:
            out |= {"clips_written": self.clips.written, "clips_dropped": self.clips.dropped}
            out |= {"clips_errors": self.clips.errors, "clips_preroll_bytes": self.clips.preroll_bytes()}
        return out

    def start(self) -> None:
        """Before the pipeline: the store has swept its directory already (at construction)."""
        if self.store is not None:
            self.store.start()
        if self.clips is not None:
            self.clips.start()

    def stop(self, join_timeout_s: float) -> None:
        """After the pipeline: clips close (and tell the store), then the store writes what is queued."""
        for worker in (self.clips, self.store):
            if worker is not None and worker.is_alive():
                worker.stop()
                worker.join(join_timeout_s)
                if worker.is_alive():
                    log.error("%s thread did not stop within %.0f s", worker.name, join_timeout_s)


def build_local_views(config: AgentConfig, config_now: Callable[[], AgentConfig]) -> LocalViews:
    store = clips = live = None
    if config.storage.enabled:
        store = EventStore(store_root(config.state_dir), config.storage, config.snapshots)
        if config.storage.clips.enabled:
            from agent.clips.recorder import ClipRecorder, start_lag_s

            def lag_s(camera: str) -> float:
                cfg = config_now().cameras.get(camera)
                if cfg is None:
                    return 0.0
                return start_lag_s(cfg.events.min_duration_s, cfg.tracker.min_hits, cfg.detect_fps)

            clips = ClipRecorder(store.root, config.storage.clips, store.clip_done, lag_s)
    if config.http.enabled:
        live = LiveViews(config.http.mjpeg_fps, config.http.max_viewers)
    return LocalViews(store, clips, live)


def build_web_server(
    config: AgentConfig,
    views: LocalViews,
    config_now: Callable[[], AgentConfig],
    stats: Callable[[], StatsSnapshot],
    ready: Callable[[], bool],
    metrics_text: Callable[[], bytes] | None,
    config_state: Callable[[], dict[str, object]],
) -> WebServer | None:
    """The HTTP server (not started), None when http is off; raises WebConfigError when it cannot listen."""
    if not config.http.enabled or views.live is None:
        return None
    from agent.web.app import create_app  # Flask only when the page is on
    from agent.web.context import WebContext
    from agent.web.server import WebServer

    store = views.store
    ctx = WebContext(
        config=config_now,
        stats=stats,
        ready=ready,
        metrics_text=metrics_text,
        config_state=config_state,
        store_root=None if store is None else store.root,
        store_db=None if store is None else store.db_path,
        live=views.live,
        counters=views.counters,
    )
    return WebServer(create_app(ctx, config.http), config.http)
