"""The composition root: builds every part of one agent from a config and wires them together, so this
file reads as the wiring diagram. Called once on the main thread, before any thread starts;
agent.daemon.lifecycle then starts, runs and stops what it returns."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.catalog.resolve import ModelDigests
from agent.classify.stage import SecondStage, build_second_stage
from agent.config.schema import AgentConfig
from agent.daemon.camera_set import CameraWiring, RunningCameras
from agent.daemon.detectors import load_detectors
from agent.daemon.local import LocalViews, build_local_views, build_web_server
from agent.daemon.metrics import MetricsError, MetricsExporter
from agent.daemon.notify import SystemdNotifier
from agent.daemon.publisher_swap import SwappablePublisher
from agent.daemon.reconcile import ConfigRounds, Reconciler
from agent.daemon.state import InForce
from agent.daemon.stats import StatsReporter
from agent.daemon.watchdog import Readiness, Watchdog
from agent.pipeline.fanout import FanOutSink
from agent.pipeline.wake import WakeSignal
from agent.pipeline.workers import PipelineWorkers
from agent.publish.sink import MqttSink
from agent.records import Sink
from agent.remote.controller import RemoteConfigController
from agent.remote.worker import ConfigWorker, Liveness
from agent.snapshots.store import RetentionLimits, SnapshotStore
from agent.snapshots.worker import SnapshotWorker
from agent.storage.health import StorageHealth
from agent.toggles import ToggleController

if TYPE_CHECKING:
    from agent.web.server import WebServer


@dataclass(frozen=True, slots=True)
class RunningAgent:
    """The parts of one agent. Which parts there are is fixed; the config and model in force
    (`in_force`), the publisher's connection and the running cameras change inside them."""

    in_force: InForce
    notifier: SystemdNotifier
    stop_requested: threading.Event  # set by SIGTERM/SIGINT
    reload_requested: threading.Event  # set by SIGHUP, served by the config thread
    publisher: SwappablePublisher
    metrics: MetricsExporter | None
    snapshot_worker: SnapshotWorker | None
    second_stage: SecondStage
    pipeline: PipelineWorkers
    toggles: ToggleController
    cameras: RunningCameras
    reconciler: Reconciler
    remote: RemoteConfigController
    config_worker: ConfigWorker
    stats: StatsReporter
    readiness: Readiness
    watchdog: Watchdog
    local: LocalViews  # event store, clips, live pictures (each None when off)
    web: WebServer | None


def build_agent(config: AgentConfig, config_path: Path, notifier: SystemdNotifier) -> RunningAgent:
    """Every part of the agent, built but not started; a bad model or broker setting raises here."""
    started_mono = time.monotonic()
    digests = ModelDigests()  # one per agent: a reload of an unchanged model costs a stat
    in_force = InForce(config, load_detectors(config, digests))
    config.state_dir.mkdir(parents=True, exist_ok=True)
    storage = StorageHealth(config.state_dir)  # every writer under state_dir reports here
    publisher = SwappablePublisher(config, storage)
    frame_ready = WakeSignal()
    snapshot_worker = build_snapshot_worker(config, publisher, storage)
    second_stage = build_second_stage(config, storage)
    local = build_local_views(config, lambda: in_force.config)
    sink = build_sinks(publisher, snapshot_worker, second_stage, local)
    pipeline = PipelineWorkers(in_force.model.detectors, sink, frame_ready, local.taps())
    toggles = ToggleController(
        config.state_dir, publisher.send, snapshots_available=snapshot_worker is not None, storage=storage
    )
    metrics = build_metrics(config)
    wiring = CameraWiring(in_force, sink, frame_ready, snapshot_worker, storage, second_stage.hooks)
    cameras = RunningCameras(wiring, pipeline, toggles)
    config_alive = Liveness()
    reconciler = Reconciler(in_force, digests, publisher, cameras, pipeline, toggles, storage, config_alive.beat)
    remote = RemoteConfigController(reconciler, publisher, config_path)
    reload_requested = threading.Event()
    config_worker = ConfigWorker(ConfigRounds(reload_requested, remote, toggles, reconciler), config_alive)
    stats = StatsReporter(in_force, cameras, publisher, metrics, started_mono, second_stage.stats)
    web = build_web_server(
        config,
        local,
        lambda: in_force.config,
        stats.snapshot,
        lambda: cameras.all_up() and publisher.connected,
        None if metrics is None else metrics.exposition,
        remote.state_view,
    )
    return RunningAgent(
        in_force=in_force,
        notifier=notifier,
        stop_requested=threading.Event(),
        reload_requested=reload_requested,
        publisher=publisher,
        metrics=metrics,
        snapshot_worker=snapshot_worker,
        second_stage=second_stage,
        pipeline=pipeline,
        toggles=toggles,
        cameras=cameras,
        reconciler=reconciler,
        remote=remote,
        config_worker=config_worker,
        stats=stats,
        readiness=Readiness(notifier, cameras, publisher, in_force),
        watchdog=Watchdog(notifier, pipeline, cameras, snapshot_worker, config_worker, second_stage, local),
        local=local,
        web=web,
    )


def build_metrics(config: AgentConfig) -> MetricsExporter | None:
    """The Prometheus registry: served on its own port when metrics are on, and at the web server's
    /metrics when http is on (the same registry). Without prometheus-client the page goes without it."""
    if config.metrics.enabled:
        return MetricsExporter(config.metrics)
    if not config.http.enabled:
        return None
    try:
        return MetricsExporter(config.metrics)
    except MetricsError:
        return None


def build_snapshot_worker(
    config: AgentConfig, publisher: SwappablePublisher, storage: StorageHealth
) -> SnapshotWorker | None:
    """The snapshot worker, None when snapshots are off; it renders, publishes and saves on its own thread."""
    cfg = config.snapshots
    if not cfg.enabled:
        return None
    store = None
    if cfg.save:
        store = SnapshotStore(cfg.save_dir or config.state_dir / "snapshots", RetentionLimits.from_config(cfg))
    return SnapshotWorker(publisher.topics, cfg, publisher.send, store, storage=storage)


def build_sinks(
    publisher: SwappablePublisher, snapshot_worker: SnapshotWorker | None, second_stage: SecondStage, local: LocalViews
) -> FanOutSink:
    """Every consumer of the pipeline's records (agent.records); adding one is a line here."""
    sinks: dict[str, Sink] = {"mqtt": MqttSink(publisher)}
    if snapshot_worker is not None:
        sinks["snapshots"] = snapshot_worker
    sinks.update(second_stage.sinks())  # classifier, states, datasets
    sinks.update(local.sinks())  # the event store and the clip recorder, when storage is on
    fan_out = FanOutSink(sinks)
    second_stage.bind(fan_out)  # state changes are records for every sink
    return fan_out
