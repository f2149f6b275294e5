"""The running cameras: starts and stops them, hands their lanes to the pipeline, and reads their health.

Started at start-up (main thread) and changed by the reconciler (config thread). The table is replaced,
never mutated, so the main thread (watchdog, stats, shutdown) always reads a whole snapshot of it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from agent.config.schema import CameraConfig
from agent.daemon.cameras import CameraDeps, CameraUnit, build_camera
from agent.daemon.health import JOIN_TIMEOUT_S
from agent.daemon.state import InForce
from agent.pipeline.processor import SecondStageHooks, Snapshots
from agent.pipeline.wake import WakeSignal
from agent.pipeline.workers import PipelineWorkers
from agent.records import CameraStatus, Sink
from agent.snapshots.worker import SnapshotWorker
from agent.storage.health import StorageHealth
from agent.toggles import ToggleController
from agent.types import Heartbeat

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CameraWiring:
    """What every camera is built from; the config in force is read at each build."""

    in_force: InForce
    sink: Sink  # the pipeline's sinks: a camera's status is a record like the others
    frame_ready: WakeSignal
    snapshot_worker: SnapshotWorker | None
    storage: StorageHealth
    second_stage: SecondStageHooks | None = None

    def deps(self) -> CameraDeps:
        config = self.in_force.config
        snapshots = Snapshots(self.snapshot_worker, config.snapshots) if self.snapshot_worker else None
        return CameraDeps(config, self.frame_ready, snapshots, self.camera_status, self.storage, self.second_stage)

    def camera_status(self, camera: str, online: bool) -> None:
        """Called on the camera's capture thread when its source comes up or goes away."""
        log.info("camera %s is %s", camera, "online" if online else "offline")
        self.sink.accept(CameraStatus(camera, online))


class RunningCameras:
    """Every running camera by name, and its lane in the pipeline."""

    def __init__(self, wiring: CameraWiring, pipeline: PipelineWorkers, toggles: ToggleController) -> None:
        self._wiring = wiring
        self._pipeline = pipeline
        self._toggles = toggles
        self._units: dict[str, CameraUnit] = {}

    def units(self) -> Mapping[str, CameraUnit]:
        """A snapshot: later starts and stops replace the table rather than change this one."""
        return self._units

    def start(self, name: str, cfg: CameraConfig) -> None:
        unit = build_camera(name, cfg, self._wiring.deps(), self._toggles.attach(name))
        self._units = {**self._units, name: unit}
        self._pipeline.set_lane(unit.lane())
        unit.capture.start()

    def stop(self, name: str) -> None:
        """Stop one camera: capture first, then its lane; its open events and anomalies end."""
        unit = self._units[name]
        self._units = {key: value for key, value in self._units.items() if key != name}
        unit.capture.stop()
        unit.capture.join(JOIN_TIMEOUT_S)
        self._pipeline.retire_lane(name)

    def replace_stages(self, name: str) -> None:
        """New detector or topics for a camera whose capture keeps running: frames continue without a gap."""
        unit = self._units[name]
        unit.replace_stages(self._wiring.deps())
        self._pipeline.set_lane(unit.lane())

    def stop_captures(self) -> None:
        """At shutdown: every capture thread asked to stop first, then each joined (bounded)."""
        units = list(self._units.values())
        for unit in units:
            unit.capture.stop()
        for unit in units:
            unit.capture.join(JOIN_TIMEOUT_S)

    def online(self) -> tuple[int, int]:
        """(cameras online, cameras running)."""
        units = list(self._units.values())
        return sum(1 for unit in units if unit.capture.stats().online), len(units)

    def all_up(self) -> bool:
        """Every camera is online or its file has ended (what READY waits for)."""
        return all(unit.capture.stats().online or unit.capture.ended.is_set() for unit in self._units.values())

    def all_sources_done(self) -> bool:
        """Every camera's file has ended and its last frame is processed (never with no cameras)."""
        units = list(self._units.values())
        if not units:
            return False
        return all(unit.capture.ended.is_set() and self._pipeline.idle_for(unit.name) for unit in units)

    def heartbeats(self) -> list[Heartbeat]:
        return [
            Heartbeat(f"capture-{name}", unit.capture.heartbeat_mono, not unit.capture.ended.is_set())
            for name, unit in self._units.items()
        ]
