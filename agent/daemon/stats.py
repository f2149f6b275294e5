"""The agent's stats: one snapshot of every camera and the publisher, published on the stats topic and
handed to the Prometheus exporter, plus the `storage` anomalies for a full disk and for what the outbox
lost. Called on the main thread (each stats interval, and once at shutdown)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from agent import __version__
from agent.core.anomaly.storage import FullDisk, outbox_loss
from agent.daemon.camera_set import RunningCameras
from agent.daemon.metrics import MetricsExporter
from agent.daemon.publisher_swap import SwappablePublisher
from agent.daemon.state import InForce
from agent.publish import messages
from agent.publish.outbox_ledger import Recovery
from agent.types import CameraStats, StatsSnapshot, WorkerStats


class StatsReporter:
    """Builds and publishes the stats snapshot; remembers which storage losses it has reported."""

    def __init__(
        self,
        in_force: InForce,
        cameras: RunningCameras,
        publisher: SwappablePublisher,
        metrics: MetricsExporter | None,
        started_mono: float,
        workers: Callable[[], Mapping[str, WorkerStats]] | None = None,
    ) -> None:
        self._workers = workers
        self._in_force = in_force
        self._cameras = cameras
        self._publisher = publisher
        self._metrics = metrics
        self._started_mono = started_mono
        self._full_disk = FullDisk(messages.new_msg_id)
        self._reported_loss: Recovery | None = None

    def snapshot(self) -> StatsSnapshot:
        now = time.monotonic()
        cameras: dict[str, CameraStats] = {}
        for name, unit in self._cameras.units().items():
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
        model = self._in_force.model
        return StatsSnapshot(
            version=__version__,
            uptime_s=now - self._started_mono,
            runtime=model.runtime_name,
            model=model.name,
            cameras=cameras,
            publisher=self._publisher.stats(),
            ts_wall=time.time(),
            workers=self._workers() if self._workers is not None else {},
        )

    def publish(self) -> None:
        """Stats message, any new outbox loss, a full-disk anomaly on change, then the exporter."""
        snapshot = self.snapshot()
        self._publisher.send(messages.encode_stats(self._publisher.topics, snapshot))
        self.report_outbox_loss()
        storage = self._full_disk.update(snapshot.publisher.storage, snapshot.publisher.outbox_unstored, time.time())
        if storage is not None:
            self._publisher.send(messages.encode_anomaly(self._publisher.topics, storage))
        if self._metrics is not None:
            self._metrics.update(snapshot)

    def report_outbox_loss(self) -> None:
        """A `storage` anomaly for each loss the outbox found (at start, or a file replaced since)."""
        recovery = self._publisher.outbox_recovery
        if recovery is not None and recovery is not self._reported_loss:
            self._reported_loss = recovery
            anomaly = outbox_loss(recovery, time.time(), messages.new_msg_id)
            self._publisher.send(messages.encode_anomaly(self._publisher.topics, anomaly))
