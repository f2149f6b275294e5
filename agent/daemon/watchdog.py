"""What the agent tells systemd and the log about its health: READY once the cameras are up, STATUS and
one log line each time the number of cameras online changes, and WATCHDOG pings only while every
worker's heartbeat is fresh. Called on the main thread only."""

from __future__ import annotations

import logging
import threading
import time

from agent.classify.stage import SecondStage
from agent.daemon.camera_set import RunningCameras
from agent.daemon.health import stalled_workers
from agent.daemon.local import LocalViews
from agent.daemon.notify import SystemdNotifier
from agent.daemon.publisher_swap import SwappablePublisher
from agent.daemon.state import InForce
from agent.pipeline.workers import PipelineWorkers
from agent.remote.worker import ConfigWorker
from agent.snapshots.worker import SnapshotWorker
from agent.types import Heartbeat

log = logging.getLogger(__name__)

READY_FRAME_WAIT_S = 10.0
READY_POLL_S = 0.05


class Readiness:
    """READY=1 and STATUS lines: the cameras online, the broker connection and the model."""

    def __init__(
        self, notifier: SystemdNotifier, cameras: RunningCameras, publisher: SwappablePublisher, in_force: InForce
    ) -> None:
        self._notifier = notifier
        self._cameras = cameras
        self._publisher = publisher
        self._in_force = in_force
        self._told_online = (0, 0)  # the camera count last logged

    def announce_ready(self, stop_requested: threading.Event) -> None:
        """READY once every camera is online (or its file has ended), or after READY_FRAME_WAIT_S.
        The wait and the count read the same online flags, so the line states what was waited for."""
        deadline = time.monotonic() + READY_FRAME_WAIT_S
        while time.monotonic() < deadline and not stop_requested.is_set():
            if self._cameras.all_up():
                break
            time.sleep(READY_POLL_S)
        self._told_online = self._cameras.online()
        self._notifier.ready(self.status_line(self._told_online))
        log.info("ready: %s", self.status_line(self._told_online))

    def tell_online_changes(self) -> None:
        """After READY, one line (and systemd STATUS) each time the number of cameras online changes."""
        online = self._cameras.online()
        if online != self._told_online:
            self._told_online = online
            self._notifier.status(self.status_line(online))
            log.info("now %s", self.status_line(online))

    def tell_status(self) -> None:
        """systemd STATUS with the current line (after each stats message)."""
        self._notifier.status(self.status_line())

    def status_line(self, cameras_online: tuple[int, int] | None = None) -> str:
        online, total = cameras_online if cameras_online is not None else self._cameras.online()
        broker = "connected" if self._publisher.connected else "disconnected"
        return f"{online}/{total} cameras online, broker {broker}, model {self._in_force.model.name}"


class Watchdog:
    """Pings the systemd watchdog while every worker beats; logs when that changes."""

    def __init__(
        self,
        notifier: SystemdNotifier,
        pipeline: PipelineWorkers,
        cameras: RunningCameras,
        snapshot_worker: SnapshotWorker | None,
        config_worker: ConfigWorker,
        second_stage: SecondStage | None = None,
        local: LocalViews | None = None,
    ) -> None:
        self._local = local  # the event store's and clip recorder's threads
        self._notifier = notifier
        self._second_stage = second_stage
        self._pipeline = pipeline
        self._cameras = cameras
        self._snapshot_worker = snapshot_worker
        self._config_worker = config_worker
        self._stalled: list[str] = []

    def ping(self, now_mono: float, stall_s: float) -> None:
        """WATCHDOG=1 only while every worker's heartbeat is fresh: a hung worker gets us restarted."""
        stalled = stalled_workers(self.heartbeats(), now_mono, stall_s)
        if stalled != self._stalled:  # log transitions only: one line per change, not one per ping
            if stalled:
                log.error("not pinging the systemd watchdog: stalled workers %s", ", ".join(stalled))
                self._notifier.status(f"stalled: {', '.join(stalled)}")
            else:
                log.info("every worker is alive again; watchdog pings resume")
            self._stalled = stalled
        if not stalled:
            self._notifier.watchdog()

    def heartbeats(self) -> list[Heartbeat]:
        beats = self._pipeline.heartbeats()
        beats += self._cameras.heartbeats()
        if self._snapshot_worker is not None:
            beats.append(Heartbeat("snapshots", self._snapshot_worker.heartbeat_mono, True))
        if self._second_stage is not None:
            beats += self._second_stage.heartbeats()
        beats.append(Heartbeat("config", self._config_worker.heartbeat_mono, self._config_worker.is_alive()))
        if self._local is not None:
            beats += self._local.heartbeats()
        return beats
