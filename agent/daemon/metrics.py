"""Optional Prometheus exporter: serves the latest StatsSnapshot as `edge_agent_*` metrics.

agent.daemon.stats (main thread) calls `update()`; prometheus_client's own daemon thread converts
the latest snapshot at scrape time (a camera gone from it is gone from the output). Each
exporter has a private CollectorRegistry; prometheus-client is imported lazily."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from agent.config.metrics import MetricsConfig
from agent.errors import AgentError
from agent.types import CameraStats, PublisherStats, StatsSnapshot

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector, CollectorRegistry

log = logging.getLogger(__name__)

PREFIX = "edge_agent_"
CAMERA_LABEL = "camera"
MS_PER_S = 1000.0
STOP_TIMEOUT_S = 2.0
THREAD_NAME = "metrics-http"
INSTALL_HINT = "pip install 'edge-vision-agent[metrics]' (or prometheus-client) into the agent's venv"

T = TypeVar("T")


class MetricsError(AgentError):
    """The metrics endpoint cannot run: prometheus-client missing, or the port unusable."""


class Kind(Enum):
    GAUGE = "gauge"
    COUNTER = "counter"


@dataclass(frozen=True, slots=True)
class MetricSpec(Generic[T]):
    """One metric read from a stats record; `value` returning None leaves the sample out."""

    name: str
    kind: Kind
    doc: str
    value: Callable[[T], float | None]


@dataclass(frozen=True, slots=True)
class Sample:
    labels: tuple[str, ...]
    value: float


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family as exposed: `name` without the prefix (and, for counters, without _total)."""

    name: str
    kind: Kind
    doc: str
    label_names: tuple[str, ...]
    samples: tuple[Sample, ...]


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / MS_PER_S


CAMERA_METRICS: tuple[MetricSpec[CameraStats], ...] = (
    MetricSpec("camera_capture_fps", Kind.GAUGE, "Frames per second read from the camera.", lambda c: c.capture_fps),
    MetricSpec("camera_detect_fps", Kind.GAUGE, "Detector runs per second for the camera.", lambda c: c.detect_fps),
    MetricSpec("camera_frames", Kind.COUNTER, "Frames read from the camera.", lambda c: c.frames),
    MetricSpec(
        "camera_dropped",
        Kind.COUNTER,
        "Frames read that the detector never took: camera_rate_capped plus camera_overwritten.",
        lambda c: c.dropped,
    ),
    MetricSpec(
        "camera_rate_capped",
        Kind.COUNTER,
        "Frames passed over because detect_fps allowed no detection yet (expected when the camera is faster).",
        lambda c: c.rate_capped,
    ),
    MetricSpec(
        "camera_overwritten",
        Kind.COUNTER,
        "Frames superseded while the camera was due for detection: analysis fell behind.",
        lambda c: c.overwritten,
    ),
    MetricSpec("camera_reconnects", Kind.COUNTER, "Times the camera stream was reopened.", lambda c: c.reconnects),
    MetricSpec("camera_online", Kind.GAUGE, "1 while the camera delivers frames, else 0.", lambda c: float(c.online)),
    MetricSpec("camera_offline_seconds", Kind.COUNTER, "Seconds the camera has been offline.", lambda c: c.offline_s),
    MetricSpec("camera_online_seconds", Kind.COUNTER, "Seconds the camera has been online.", lambda c: c.online_s),
    MetricSpec(
        "camera_inference_p50_seconds",
        Kind.GAUGE,
        "Median detector run time over recent runs.",
        lambda c: _seconds(c.inference_ms_p50),
    ),
    MetricSpec(
        "camera_inference_p95_seconds",
        Kind.GAUGE,
        "95th percentile detector run time over recent runs.",
        lambda c: _seconds(c.inference_ms_p95),
    ),
    MetricSpec(
        "camera_skipped",
        Kind.COUNTER,
        "Frames for which the motion gate made the detector run unnecessary.",
        lambda c: c.skipped,
    ),
    MetricSpec(
        "camera_starved",
        Kind.COUNTER,
        "Times the camera waited more than one interval for the detector.",
        lambda c: c.starved,
    ),
)

PUBLISHER_METRICS: tuple[MetricSpec[PublisherStats], ...] = (
    MetricSpec(
        "mqtt_connected", Kind.GAUGE, "1 while connected to the MQTT broker, else 0.", lambda p: float(p.connected)
    ),
    MetricSpec(
        "mqtt_connect_attempts", Kind.COUNTER, "Connection attempts to the MQTT broker.", lambda p: p.connect_attempts
    ),
    MetricSpec("outbox_depth", Kind.GAUGE, "Durable messages waiting in the outbox.", lambda p: p.outbox_depth),
    MetricSpec(
        "outbox_oldest_age_seconds",
        Kind.GAUGE,
        "Age of the oldest undelivered durable message.",
        lambda p: p.outbox_oldest_age_s,
    ),
    MetricSpec(
        "outbox_evicted",
        Kind.COUNTER,
        "Durable messages evicted undelivered (outbox limits); kept across restarts.",
        lambda p: p.outbox_evicted,
    ),
    MetricSpec(
        "outbox_unstored",
        Kind.COUNTER,
        "Durable messages dropped because state_dir was full and the memory hold overflowed.",
        lambda p: p.outbox_unstored,
    ),
    MetricSpec(
        "storage_degraded",
        Kind.GAUGE,
        "1 while writes under state_dir fail for lack of space, else 0.",
        lambda p: float(p.storage.degraded),
    ),
    MetricSpec(
        "storage_free_bytes", Kind.GAUGE, "Bytes free on the filesystem of state_dir.", lambda p: p.storage.free_bytes
    ),
    MetricSpec(
        "storage_write_failures",
        Kind.COUNTER,
        "Writes under state_dir that failed since start.",
        lambda p: p.storage.write_failures,
    ),
    MetricSpec("published", Kind.COUNTER, "Messages published to the broker.", lambda p: p.published),
    MetricSpec(
        "publish_failures", Kind.COUNTER, "Publish calls the MQTT client refused.", lambda p: p.publish_failures
    ),
    MetricSpec(
        "fast_dropped",
        Kind.COUNTER,
        "QoS 0 messages (detections, snapshots) dropped while disconnected.",
        lambda p: p.fast_dropped,
    ),
)


def snapshot_families(snapshot: StatsSnapshot) -> list[Family]:
    """Every metric family of one snapshot. Pure: no clock, no I/O."""
    families = [
        Family(
            "info",
            Kind.GAUGE,
            "Agent version, inference runtime and model; always 1.",
            ("version", "runtime", "model"),
            (Sample((snapshot.version, snapshot.runtime, snapshot.model), 1.0),),
        ),
        Family("uptime_seconds", Kind.GAUGE, "Seconds since the agent started.", (), (Sample((), snapshot.uptime_s),)),
    ]
    cameras = sorted(snapshot.cameras.items())
    for spec in CAMERA_METRICS:
        values = [(name, spec.value(stats)) for name, stats in cameras]
        samples = tuple(Sample((name,), float(value)) for name, value in values if value is not None)
        families.append(Family(spec.name, spec.kind, spec.doc, (CAMERA_LABEL,), samples))
    for pub_spec in PUBLISHER_METRICS:
        value = pub_spec.value(snapshot.publisher)
        present = () if value is None else (Sample((), float(value)),)
        families.append(Family(pub_spec.name, pub_spec.kind, pub_spec.doc, (), present))
    return families


class _SnapshotCollector:
    """Builds prometheus_client metric families from the latest snapshot at scrape time."""

    def __init__(self) -> None:
        # Replaced whole by update() and read whole by collect(): a reference swap needs no lock.
        self.latest: StatsSnapshot | None = None

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snapshot = self.latest
        if snapshot is None:
            return
        for family in snapshot_families(snapshot):
            factory = CounterMetricFamily if family.kind is Kind.COUNTER else GaugeMetricFamily
            metric = factory(PREFIX + family.name, family.doc, labels=list(family.label_names))
            for sample in family.samples:
                metric.add_metric(list(sample.labels), sample.value)
            yield metric


class MetricsExporter:
    """The HTTP endpoint. Raises MetricsError at construction when prometheus-client is missing."""

    def __init__(self, cfg: MetricsConfig) -> None:
        try:
            from prometheus_client import CollectorRegistry
            from prometheus_client.process_collector import ProcessCollector
        except ImportError as exc:
            raise MetricsError(
                f"metrics.enabled is true but prometheus-client is not installed: {INSTALL_HINT}"
            ) from exc
        self._cfg = cfg
        self._collector = _SnapshotCollector()
        self._registry: CollectorRegistry = CollectorRegistry(auto_describe=False)
        self._registry.register(cast("Collector", self._collector))
        ProcessCollector(registry=self._registry)  # process_* memory, CPU and file descriptors
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        """The port actually listened on (useful with port 0), or None before start()."""
        return None if self._server is None else int(self._server.server_address[1])

    def start(self) -> None:
        """Listen on bind_address:port and serve scrapes from a daemon thread of prometheus_client."""
        from prometheus_client import start_http_server

        if self._server is not None:
            return
        address, port = self._cfg.bind_address, self._cfg.port
        try:
            self._server, self._thread = start_http_server(port, addr=address, registry=self._registry)
        except OSError as exc:
            raise MetricsError(
                f"metrics: cannot listen on {address} port {port}: {exc.strerror or exc}; "
                "choose another metrics.port or metrics.bind_address, or set metrics.enabled: false"
            ) from exc
        self._thread.name = THREAD_NAME
        log.info("metrics: serving http://%s:%d/metrics", address, self.port)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format (the web server's /metrics; any thread)."""
        from prometheus_client import generate_latest

        return bytes(generate_latest(self._registry))

    def update(self, snapshot: StatsSnapshot) -> None:
        """Make `snapshot` what the next scrape reports (cameras absent from it disappear)."""
        self._collector.latest = snapshot

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(STOP_TIMEOUT_S)
