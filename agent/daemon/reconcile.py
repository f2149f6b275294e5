"""Applies a config to the running agent, touching only what the reconcile plan says changed: the
first one at start (main thread), then every reload and remote request (config thread, which
ConfigRounds drives). The parts that can fail come up first, so a failure keeps the old config."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from agent.catalog.resolve import ModelDigests
from agent.config.schema import AgentConfig
from agent.daemon.camera_set import RunningCameras
from agent.daemon.detectors import load_detectors
from agent.daemon.health import JOIN_TIMEOUT_S
from agent.daemon.memory import release_memory
from agent.daemon.publisher_swap import SwappablePublisher
from agent.daemon.state import InForce
from agent.errors import AgentError
from agent.pipeline.workers import PipelineWorkers
from agent.publish.discovery import STATE_FILE as DISCOVERY_STATE_FILE
from agent.publish.discovery import build_plan, sync_discovery
from agent.remote.controller import RemoteConfigController
from agent.remote.plan import ReconcilePlan
from agent.storage.health import StorageHealth
from agent.toggles import ToggleController

log = logging.getLogger(__name__)

# Removed cameras' buffers are freed as their lanes drain, after the apply: trim again then.
LATE_TRIMS_S = (1.0, 3.0, 6.0)


class Reconciler:
    """The remote controller's ConfigTarget: the config in force, and the one way to change it."""

    def __init__(
        self,
        in_force: InForce,
        digests: ModelDigests,
        publisher: SwappablePublisher,
        cameras: RunningCameras,
        pipeline: PipelineWorkers,
        toggles: ToggleController,
        storage: StorageHealth,
        beat: Callable[[], None],
    ) -> None:
        self._in_force = in_force
        self._digests = digests
        self._publisher = publisher
        self._cameras = cameras
        self._pipeline = pipeline
        self._toggles = toggles
        self._storage = storage
        self._beat = beat  # the config thread's liveness: a big apply is slow, not stalled
        self._trims_due: list[float] = []  # late trims after cameras were removed

    @property
    def config(self) -> AgentConfig:
        return self._in_force.config

    def bring_up(self) -> None:
        """At start: toggles on their topics, discovery, then every enabled camera."""
        config = self._in_force.config
        self._toggles.use_topics(self._publisher.topics, self._publisher.subscribe)
        self._toggles.forget_missing(config.cameras)
        self._sync_discovery()
        for name, camera in config.cameras.items():
            if camera.enabled:
                self._cameras.start(name, camera)

    def apply_config(self, new: AgentConfig, plan: ReconcilePlan) -> str | None:
        """Move the running agent to `new`, touching only what changed.

        The parts that can fail (a new model, a new broker connection) come up first;
        if one fails the old config stays in force and the reason is returned."""
        model = self._in_force.model
        if plan.model_reload:
            try:
                model = load_detectors(new, self._digests)
            except AgentError as exc:
                return f"model did not load: {exc}"
        if plan.mqtt_reconnect:
            failure = self._publisher.swap(self._in_force.config, new)
            if failure is not None:
                return failure
        reloaded = model is not self._in_force.model
        self._in_force.replace(new, model)
        if reloaded and not self._pipeline.replace_detectors(model.detectors, JOIN_TIMEOUT_S):
            log.error("a detector thread did not stop within %.0f s after the model reload", JOIN_TIMEOUT_S)
        self._reconcile_cameras(new, plan)
        self._sync_discovery()
        return None

    def _reconcile_cameras(self, new: AgentConfig, plan: ReconcilePlan) -> None:
        """Removed cameras stop first (and their memory is trimmed), then changed ones restart, new ones start."""
        for name in plan.cameras_removed:
            self._cameras.stop(name)
            self._toggles.detach(name)
            self._beat()
        if plan.cameras_removed:
            release_memory()
            self._trims_due = [time.monotonic() + delay for delay in LATE_TRIMS_S]
        self._toggles.forget_missing(new.cameras)
        if plan.mqtt_reconnect:
            self._toggles.use_topics(self._publisher.topics, self._publisher.subscribe)
        for name in plan.cameras_restarted:
            self._cameras.stop(name)
            self._cameras.start(name, new.cameras[name])
        for name in plan.cameras_added:
            self._cameras.start(name, new.cameras[name])
            self._beat()
        if plan.model_reload or plan.mqtt_reconnect or "snapshots" in plan.other_changed:
            for name in plan.cameras_unchanged:
                self._cameras.replace_stages(name)

    def trim_if_due(self, now_mono: float) -> None:
        """Give memory back once more as removed cameras' lanes drain."""
        if self._trims_due and now_mono >= self._trims_due[0]:
            self._trims_due.pop(0)
            release_memory()

    def _sync_discovery(self) -> None:
        config = self._in_force.config
        try:
            sync_discovery(build_plan(config, config.discovery), config.state_dir, self._publisher.send)
        except OSError as exc:  # a full disk must not stop a start or a reload
            consequence = "entities removed from the config may stay in Home Assistant after a restart"
            self._storage.write_failed(config.state_dir / DISCOVERY_STATE_FILE, exc, consequence)


class ConfigRounds:
    """What the config thread does each tick: SIGHUP, remote requests, toggles, the file watch, late trims."""

    def __init__(
        self,
        reload_requested: threading.Event,
        remote: RemoteConfigController,
        toggles: ToggleController,
        reconciler: Reconciler,
    ) -> None:
        self._reload_requested = reload_requested
        self._remote = remote
        self._toggles = toggles
        self._reconciler = reconciler

    def config_tick(self, now_mono: float) -> None:
        """One round on the config thread: SIGHUP, remote requests, toggles, the file watch."""
        if self._reload_requested.is_set():
            self._reload_requested.clear()
            self._remote.reload_file("SIGHUP")
        self._remote.process_pending()
        self._toggles.process_pending()
        self._remote.watch_file(now_mono)
        self._reconciler.trim_if_due(now_mono)
