"""The supervisor (main thread): builds the workers from a config, keeps them
healthy, publishes stats, speaks sd_notify, and shuts down in order.

Threads it owns: one capture thread per camera, the detector thread(s) and the analytics
thread (agent.pipeline.workers), the snapshot worker, the publisher's threads and the config
thread (agent.remote.worker). Only the supervisor starts or stops them. Remote config, reloads
and runtime toggles arrive on paho's thread and are applied on the config thread; the main
thread keeps pinging systemd meanwhile. `cameras` is replaced, never mutated, so the main
thread always reads a whole snapshot of it."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import cv2

from agent import __version__
from agent.catalog.resolve import ModelDigests
from agent.config.schema import AgentConfig, CameraConfig
from agent.core.anomaly.storage import FullDisk, outbox_loss
from agent.daemon.cameras import CameraDeps, CameraUnit, build_camera, build_detection, build_processor
from agent.daemon.detectors import load_detectors
from agent.daemon.health import stalled_workers
from agent.daemon.memory import release_memory
from agent.daemon.metrics import MetricsExporter
from agent.daemon.notify import SystemdNotifier
from agent.daemon.publisher_swap import SwappablePublisher
from agent.errors import AgentError
from agent.pipeline.processor import Snapshots
from agent.pipeline.wake import WakeSignal
from agent.pipeline.workers import PipelineWorkers
from agent.publish import messages
from agent.publish.discovery import STATE_FILE as DISCOVERY_STATE_FILE
from agent.publish.discovery import build_plan, sync_discovery
from agent.publish.messages import CameraStats, OutboundMessage, StatsSnapshot
from agent.publish.outbox_ledger import Recovery
from agent.remote.controller import ConfigHandler, RemoteConfigController
from agent.remote.plan import ReconcilePlan
from agent.remote.worker import ConfigWorker
from agent.snapshots.store import RetentionLimits, SnapshotStore
from agent.snapshots.worker import SnapshotWorker
from agent.storage.health import StorageHealth
from agent.toggles import ToggleController
from agent.types import Heartbeat

log = logging.getLogger(__name__)

SUPERVISOR_TICK_S = 0.25
JOIN_TIMEOUT_S = 2.0
READY_FRAME_WAIT_S = 10.0
CONFIG_JOIN_TIMEOUT_S = 10.0  # an apply under way when the stop comes may finish its camera
# Removed cameras' buffers are freed as their lanes drain, after the apply: trim again then.
LATE_TRIMS_S = (1.0, 3.0, 6.0)


class Supervisor:
    """Owns every worker of one running agent."""

    def __init__(self, config: AgentConfig, config_path: Path, notifier: SystemdNotifier | None = None) -> None:
        # OpenCV's own thread pool would compete with the interpreter's threads for the same cores on
        # every resize and colour conversion; one thread measured 3% more detections/s on 2 cores.
        cv2.setNumThreads(1)
        self.config = config
        self.notifier = notifier if notifier is not None else SystemdNotifier()
        self.stop_requested = threading.Event()
        self.reload_requested = threading.Event()
        self._stalled: list[str] = []
        self._told_online = (0, 0)  # the camera count last logged
        self._frame_ready = WakeSignal()
        self._started_mono = time.monotonic()
        self._full_disk = FullDisk(messages.new_msg_id)
        self._reported_loss: Recovery | None = None
        self._digests = ModelDigests()
        self.model = load_detectors(config, self._digests)
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.storage = StorageHealth(config.state_dir)  # every writer under state_dir reports here
        self.publisher = SwappablePublisher(config, self.storage)
        self.snapshot_worker = self._make_snapshot_worker()
        self.toggles = ToggleController(
            config.state_dir, self.send, snapshots_available=self.snapshot_worker is not None, storage=self.storage
        )
        self.metrics = MetricsExporter(config.metrics) if config.metrics.enabled else None
        self.pipeline = PipelineWorkers(self.model.detectors, self.send, self._frame_ready)
        self.cameras: dict[str, CameraUnit] = {}
        self.remote = RemoteConfigController(self, config_path)
        self.config_worker = ConfigWorker(self)
        self._trims_due: list[float] = []  # config thread: late trims after cameras were removed

    def send(self, message: OutboundMessage) -> None:
        self.publisher.send(message)

    def subscribe(self, topic_filter: str, handler: ConfigHandler) -> None:
        self.publisher.subscribe(topic_filter, handler)

    def _make_snapshot_worker(self) -> SnapshotWorker | None:
        cfg = self.config.snapshots
        if not cfg.enabled:
            return None
        store = None
        if cfg.save:
            store = SnapshotStore(cfg.save_dir or self.config.state_dir / "snapshots", RetentionLimits.from_config(cfg))
        return SnapshotWorker(self.publisher.topics, cfg, self.send, store, storage=self.storage)

    def _deps(self) -> CameraDeps:
        snapshots = Snapshots(self.snapshot_worker, self.config.snapshots) if self.snapshot_worker else None
        return CameraDeps(
            self.config, self.publisher.topics, self._frame_ready, snapshots, self._camera_status, self.storage
        )

    # --- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        if self.metrics is not None:
            self.metrics.start()
        self.publisher.start()
        self._report_outbox_loss()
        if self.snapshot_worker is not None:
            self.snapshot_worker.start()
        self.toggles.use_topics(self.publisher.topics, self.subscribe)
        self.toggles.forget_missing(self.config.cameras)
        self._sync_discovery()
        for name, camera in self.config.cameras.items():
            if camera.enabled:
                self.start_camera(name, camera)
        self.pipeline.start()
        self.remote.start()
        self.config_worker.start()

    def _sync_discovery(self) -> None:
        try:
            sync_discovery(build_plan(self.config, self.config.discovery), self.config.state_dir, self.send)
        except OSError as exc:  # a full disk must not stop a start or a reload
            consequence = "entities removed from the config may stay in Home Assistant after a restart"
            self.storage.write_failed(self.config.state_dir / DISCOVERY_STATE_FILE, exc, consequence)

    def start_camera(self, name: str, cfg: CameraConfig) -> None:
        unit = build_camera(name, cfg, self._deps(), self.toggles.attach(name))
        self.cameras = {**self.cameras, name: unit}
        self.pipeline.set_lane(unit.lane())
        unit.capture.start()

    def stop_camera(self, name: str) -> None:
        """Stop one camera: capture first, then its lane; its open events and anomalies end."""
        unit = self.cameras[name]
        self.cameras = {key: value for key, value in self.cameras.items() if key != name}
        unit.capture.stop()
        unit.capture.join(JOIN_TIMEOUT_S)
        self.pipeline.retire_lane(name)

    def _camera_status(self, camera: str, online: bool) -> None:
        log.info("camera %s is %s", camera, "online" if online else "offline")
        self.send(messages.encode_camera_status(self.publisher.topics, camera, online))

    def run(self) -> int:
        """Supervise until a stop is requested or every file source has ended; return the exit code."""
        self.start()
        self._announce_ready()
        next_stats = time.monotonic() + self.config.mqtt.stats_interval_s
        next_ping = time.monotonic()
        while not self.stop_requested.wait(SUPERVISOR_TICK_S):
            now = time.monotonic()
            self._tell_online_changes()
            if self._all_sources_done():
                log.info("every source has ended and its last frame is processed; stopping")
                break
            if now >= next_stats:
                self.publish_stats()
                next_stats = now + self.config.mqtt.stats_interval_s
            if self.notifier.watchdog_interval_s is not None and now >= next_ping:
                next_ping = now + self.notifier.watchdog_interval_s / 3.0
                self._ping_watchdog(now)
        self.shutdown()
        return 0

    # --- reconcile (config thread) ----------------------------------------------------
    def config_tick(self, now_mono: float) -> None:
        """One round on the config thread: SIGHUP, remote requests, toggles, the file watch."""
        if self.reload_requested.is_set():
            self.reload_requested.clear()
            self.remote.reload_file("SIGHUP")
        self.remote.process_pending()
        self.toggles.process_pending()
        self.remote.watch_file(now_mono)
        if self._trims_due and now_mono >= self._trims_due[0]:
            self._trims_due.pop(0)
            release_memory()

    def apply_config(self, new: AgentConfig, plan: ReconcilePlan) -> str | None:
        """Move the running agent to `new`, touching only what changed.

        The parts that can fail (a new model, a new broker connection) come up first;
        if one fails the old config stays in force and the reason is returned."""
        model = self.model
        if plan.model_reload:
            try:
                model = load_detectors(new, self._digests)
            except AgentError as exc:
                return f"model did not load: {exc}"
        if plan.mqtt_reconnect:
            failure = self.publisher.swap(self.config, new)
            if failure is not None:
                return failure
        self.config = new
        if model is not self.model:
            self.model = model
            if not self.pipeline.replace_detectors(model.detectors, JOIN_TIMEOUT_S):
                log.error("a detector thread did not stop within %.0f s after the model reload", JOIN_TIMEOUT_S)
        for name in plan.cameras_removed:
            self.stop_camera(name)
            self.toggles.detach(name)
            self.config_worker.beat()
        if plan.cameras_removed:
            release_memory()
            self._trims_due = [time.monotonic() + delay for delay in LATE_TRIMS_S]
        self.toggles.forget_missing(new.cameras)
        if plan.mqtt_reconnect:
            self.toggles.use_topics(self.publisher.topics, self.subscribe)
        for name in plan.cameras_restarted:
            self.stop_camera(name)
            self.start_camera(name, new.cameras[name])
        for name in plan.cameras_added:
            self.start_camera(name, new.cameras[name])
            self.config_worker.beat()  # alive between cameras: a big apply is slow, not stalled
        if plan.model_reload or plan.mqtt_reconnect or "snapshots" in plan.other_changed:
            for name in plan.cameras_unchanged:
                self._replace_processor(name)
        self._sync_discovery()
        return None

    def _replace_processor(self, name: str) -> None:
        """New detector or topics for a camera whose capture keeps running: frames continue without a gap."""
        unit, deps = self.cameras[name], self._deps()
        unit.detection = build_detection(unit.config, deps, unit.toggles)
        unit.processor, unit.counters = build_processor(
            name, unit.config, deps, unit.capture, unit.detection, unit.toggles
        )
        self.pipeline.set_lane(unit.lane())

    # --- health ----------------------------------------------------------------------
    def _ping_watchdog(self, now_mono: float) -> None:
        """WATCHDOG=1 only while every worker's heartbeat is fresh: a hung worker gets us restarted."""
        stalled = stalled_workers(self.heartbeats(), now_mono, self.config.worker_stall_s)
        if stalled != self._stalled:  # log transitions only: one line per change, not one per ping
            if stalled:
                log.error("not pinging the systemd watchdog: stalled workers %s", ", ".join(stalled))
                self.notifier.status(f"stalled: {', '.join(stalled)}")
            else:
                log.info("every worker is alive again; watchdog pings resume")
            self._stalled = stalled
        if not stalled:
            self.notifier.watchdog()

    def heartbeats(self) -> list[Heartbeat]:
        beats = self.pipeline.heartbeats()
        beats += [
            Heartbeat(f"capture-{name}", unit.capture.heartbeat_mono, not unit.capture.ended.is_set())
            for name, unit in self.cameras.items()
        ]
        if self.snapshot_worker is not None:
            beats.append(Heartbeat("snapshots", self.snapshot_worker.heartbeat_mono, True))
        beats.append(Heartbeat("config", self.config_worker.heartbeat_mono, self.config_worker.is_alive()))
        return beats

    def _announce_ready(self) -> None:
        """READY once every camera is online (or its file has ended), or after READY_FRAME_WAIT_S.
        The wait and the count read the same online flags, so the line states what was waited for."""
        deadline = time.monotonic() + READY_FRAME_WAIT_S
        while time.monotonic() < deadline and not self.stop_requested.is_set():
            if all(unit.capture.stats().online or unit.capture.ended.is_set() for unit in self.cameras.values()):
                break
            time.sleep(0.05)
        self._told_online = self.cameras_online()
        self.notifier.ready(self.status_line(self._told_online))
        log.info("ready: %s", self.status_line(self._told_online))

    def _tell_online_changes(self) -> None:
        """After READY, one line (and systemd STATUS) each time the number of cameras online changes."""
        online = self.cameras_online()
        if online != self._told_online:
            self._told_online = online
            self.notifier.status(self.status_line(online))
            log.info("now %s", self.status_line(online))

    def cameras_online(self) -> tuple[int, int]:
        """(cameras online, cameras running)."""
        units = list(self.cameras.values())
        return sum(1 for unit in units if unit.capture.stats().online), len(units)

    def status_line(self, cameras_online: tuple[int, int] | None = None) -> str:
        online, total = cameras_online if cameras_online is not None else self.cameras_online()
        broker = "connected" if self.publisher.connected else "disconnected"
        return f"{online}/{total} cameras online, broker {broker}, model {self.model.name}"

    def _all_sources_done(self) -> bool:
        if not self.cameras:
            return False
        return all(unit.capture.ended.is_set() and self.pipeline.idle_for(unit.name) for unit in self.cameras.values())

    def stats_snapshot(self) -> StatsSnapshot:
        now = time.monotonic()
        cameras: dict[str, CameraStats] = {}
        for name, unit in self.cameras.items():
            capture = unit.capture.stats()
            detect = unit.counters.snapshot(now)
            ring = unit.ring.counters()
            cameras[name] = CameraStats(
                capture_fps=capture.fps,
                detect_fps=detect.detect_fps,
                frames=ring.committed,
                rate_capped=ring.rate_capped,
                overwritten=ring.overwritten,
                reconnects=capture.reconnects,
                online=capture.online,
                offline_s=capture.offline_s,
                online_s=capture.online_s,
                inference_ms_p50=detect.inference_ms_p50,
                inference_ms_p95=detect.inference_ms_p95,
                skipped=detect.skipped,
                starved=detect.starved,
            )
        return StatsSnapshot(
            version=__version__,
            uptime_s=now - self._started_mono,
            runtime=self.model.runtime_name,
            model=self.model.name,
            cameras=cameras,
            publisher=self.publisher.stats(),
            ts_wall=time.time(),
        )

    def publish_stats(self) -> None:
        snapshot = self.stats_snapshot()
        self.send(messages.encode_stats(self.publisher.topics, snapshot))
        self._report_outbox_loss()
        storage = self._full_disk.update(snapshot.publisher.storage, snapshot.publisher.outbox_unstored, time.time())
        if storage is not None:
            self.send(messages.encode_anomaly(self.publisher.topics, storage))
        if self.metrics is not None:
            self.metrics.update(snapshot)
        self.notifier.status(self.status_line())

    def _report_outbox_loss(self) -> None:
        """A `storage` anomaly for each loss the outbox found (at start, or a file replaced since)."""
        recovery = self.publisher.outbox_recovery
        if recovery is not None and recovery is not self._reported_loss:
            self._reported_loss = recovery
            self.send(
                messages.encode_anomaly(self.publisher.topics, outbox_loss(recovery, time.time(), messages.new_msg_id))
            )

    def shutdown(self) -> None:
        """Ordered stop: capture, detection, analytics, end open events, publish offline, disconnect."""
        self.notifier.stopping()
        self.config_worker.stop()
        if self.config_worker.is_alive():
            self.config_worker.join(CONFIG_JOIN_TIMEOUT_S)
        if self.config_worker.is_alive():
            log.error("the config thread is still applying after %.0f s; stopping anyway", CONFIG_JOIN_TIMEOUT_S)
        else:
            self.toggles.process_pending()  # a switch just before the stop is kept too
        for unit in self.cameras.values():
            unit.capture.stop()
        for unit in self.cameras.values():
            unit.capture.join(JOIN_TIMEOUT_S)
        if not self.pipeline.stop(time.time(), JOIN_TIMEOUT_S):
            log.error("a pipeline thread did not stop within %.0f s; open events are not ended", JOIN_TIMEOUT_S)
        if self.snapshot_worker is not None:
            self.snapshot_worker.stop()
            self.snapshot_worker.join(JOIN_TIMEOUT_S)
        self.publish_stats()
        self.publisher.stop()
        if self.metrics is not None:
            self.metrics.stop()
        self.notifier.close()
