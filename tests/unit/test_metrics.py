"""Prometheus exporter: real HTTP scrapes of a real prometheus_client server, parsed with its own parser."""

from __future__ import annotations

import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from agent.config.metrics import MetricsConfig
from agent.daemon.metrics import MetricsError, MetricsExporter, snapshot_families
from agent.types import CameraStats, PublisherStats, StatsSnapshot

Scrape = dict[tuple[str, frozenset[tuple[str, str]]], float]
HTTP_TIMEOUT_S = 5.0


def camera(frames: int, p50_ms: float | None = 12.5, online: bool = True) -> CameraStats:
    return CameraStats(
        capture_fps=14.5,
        detect_fps=4.75,
        frames=frames,
        rate_capped=5,
        overwritten=2,
        reconnects=2,
        online=online,
        offline_s=31.5,
        inference_ms_p50=p50_ms,
        inference_ms_p95=40.0 if p50_ms is not None else None,
        skipped=300,
        starved=3,
    )


def snapshot(cameras: dict[str, CameraStats], published: int = 900) -> StatsSnapshot:
    publisher = PublisherStats(
        connected=True,
        outbox_depth=12,
        outbox_oldest_age_s=8.25,
        outbox_evicted=5,
        published=published,
        publish_failures=1,
        fast_dropped=44,
        connect_attempts=3,
    )
    return StatsSnapshot("0.1.0", 3600.5, "ai-edge-litert 2.3.0", "ssd.tflite", cameras, publisher, 1750000000.0)


def scrape(port: int) -> Scrape:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=HTTP_TIMEOUT_S) as response:
        text = response.read().decode("utf-8")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def cam(name: str, camera_name: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return (name, frozenset({("camera", camera_name)}))


def plain(name: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return (name, frozenset())


@pytest.fixture
def exporter() -> Iterator[MetricsExporter]:
    server = MetricsExporter(MetricsConfig(enabled=True, bind_address="127.0.0.1", port=0))
    server.start()
    yield server
    server.stop()


def port_of(exporter: MetricsExporter) -> int:
    assert exporter.port is not None
    return exporter.port


def test_scrape_reports_the_snapshot_values(exporter: MetricsExporter) -> None:
    """Every camera and publisher field of the snapshot is served under its edge_agent_ name."""
    exporter.update(snapshot({"gate": camera(1234), "desk": camera(99, online=False)}))
    got = scrape(port_of(exporter))
    expected = {
        cam("edge_agent_camera_capture_fps", "gate"): 14.5,
        cam("edge_agent_camera_detect_fps", "gate"): 4.75,
        cam("edge_agent_camera_frames_total", "gate"): 1234,
        cam("edge_agent_camera_frames_total", "desk"): 99,
        cam("edge_agent_camera_dropped_total", "gate"): 7,
        cam("edge_agent_camera_rate_capped_total", "gate"): 5,
        cam("edge_agent_camera_overwritten_total", "gate"): 2,
        cam("edge_agent_camera_reconnects_total", "gate"): 2,
        cam("edge_agent_camera_online", "gate"): 1,
        cam("edge_agent_camera_online", "desk"): 0,
        cam("edge_agent_camera_offline_seconds_total", "gate"): 31.5,
        cam("edge_agent_camera_inference_p50_seconds", "gate"): 0.0125,
        cam("edge_agent_camera_inference_p95_seconds", "gate"): 0.04,
        cam("edge_agent_camera_skipped_total", "gate"): 300,
        cam("edge_agent_camera_starved_total", "gate"): 3,
        plain("edge_agent_mqtt_connected"): 1,
        plain("edge_agent_mqtt_connect_attempts_total"): 3,
        plain("edge_agent_outbox_depth"): 12,
        plain("edge_agent_outbox_oldest_age_seconds"): 8.25,
        plain("edge_agent_outbox_evicted_total"): 5,
        plain("edge_agent_published_total"): 900,
        plain("edge_agent_publish_failures_total"): 1,
        plain("edge_agent_fast_dropped_total"): 44,
        plain("edge_agent_uptime_seconds"): 3600.5,
    }
    assert {key: got.get(key) for key in expected} == pytest.approx(expected)
    info = [labels for (name, labels), value in got.items() if name == "edge_agent_info" and value == 1]
    assert info == [frozenset({("version", "0.1.0"), ("runtime", "ai-edge-litert 2.3.0"), ("model", "ssd.tflite")})]


def test_camera_removed_from_the_snapshot_disappears(exporter: MetricsExporter) -> None:
    """After an update without a camera, no metric carries that camera's label; the others stay."""
    exporter.update(snapshot({"gate": camera(10), "desk": camera(20)}))
    assert cam("edge_agent_camera_frames_total", "desk") in scrape(port_of(exporter))
    exporter.update(snapshot({"gate": camera(11)}))
    got = scrape(port_of(exporter))
    assert not [key for key in got if ("camera", "desk") in key[1]]
    assert got[cam("edge_agent_camera_frames_total", "gate")] == 11


def test_later_update_replaces_values(exporter: MetricsExporter) -> None:
    """A scrape reports the latest snapshot, not the first."""
    exporter.update(snapshot({"gate": camera(10)}, published=1))
    exporter.update(snapshot({"gate": camera(10)}, published=2))
    assert scrape(port_of(exporter))[plain("edge_agent_published_total")] == 2


def test_unknown_percentile_is_left_out(exporter: MetricsExporter) -> None:
    """A camera with no inference timings yet has no p50/p95 sample instead of a fake value."""
    exporter.update(snapshot({"gate": camera(5, p50_ms=None), "desk": camera(5)}))
    got = scrape(port_of(exporter))
    assert cam("edge_agent_camera_inference_p50_seconds", "gate") not in got
    assert cam("edge_agent_camera_inference_p95_seconds", "gate") not in got
    assert got[cam("edge_agent_camera_inference_p50_seconds", "desk")] == pytest.approx(0.0125)


def test_before_the_first_update_only_process_metrics_are_served(exporter: MetricsExporter) -> None:
    """Until a snapshot arrives there are no edge_agent_ samples, but the endpoint answers."""
    got = scrape(port_of(exporter))
    assert not [name for name, _ in got if name.startswith("edge_agent_")]
    assert plain("process_resident_memory_bytes") in got


def test_exporters_do_not_share_state() -> None:
    """Two exporters in one process serve their own snapshots (private registries)."""
    first = MetricsExporter(MetricsConfig(enabled=True, port=0))
    second = MetricsExporter(MetricsConfig(enabled=True, port=0))
    first.start()
    second.start()
    try:
        first.update(snapshot({"a": camera(1)}))
        second.update(snapshot({"b": camera(2)}))
        assert cam("edge_agent_camera_frames_total", "b") not in scrape(port_of(first))
        assert scrape(port_of(second))[cam("edge_agent_camera_frames_total", "b")] == 2
    finally:
        first.stop()
        second.stop()


def test_stop_closes_the_endpoint() -> None:
    """After stop() the port no longer answers, and a second stop() is harmless."""
    server = MetricsExporter(MetricsConfig(enabled=True, port=0))
    server.start()
    port = port_of(server)
    server.stop()
    server.stop()
    assert server.port is None
    with pytest.raises(urllib.error.URLError):
        scrape(port)


def test_busy_port_is_a_metrics_error() -> None:
    """A port already in use gives a MetricsError naming the port and the setting to change."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        server = MetricsExporter(MetricsConfig(enabled=True, port=port))
        with pytest.raises(MetricsError, match=rf"port {port}.*metrics\.port"):
            server.start()


def test_missing_prometheus_client_is_a_metrics_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enabling metrics without prometheus-client installed fails at construction with the install command."""
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # makes `import prometheus_client` raise
    with pytest.raises(MetricsError, match=r"pip install 'edge-vision-agent\[metrics\]'"):
        MetricsExporter(MetricsConfig(enabled=True))


def test_every_family_name_is_prefixed_and_unique() -> None:
    """Family names are distinct, so prefixing never produces a clash."""
    families = snapshot_families(snapshot({"gate": camera(1)}))
    names = [family.name for family in families]
    assert len(names) == len(set(names))
    assert all(family.doc for family in families)


def test_metrics_config_defaults_are_off_and_loopback() -> None:
    """By default the endpoint is disabled and, when enabled, listens on loopback only."""
    cfg = MetricsConfig()
    assert (cfg.enabled, cfg.bind_address) == (False, "127.0.0.1")
    assert 1 <= cfg.port <= 65535


def test_metrics_config_documents_every_field() -> None:
    """Every MetricsConfig field has a description."""
    assert all(field.description for field in MetricsConfig.model_fields.values())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"bind_address": "localhost"}, "IPv4 or IPv6 address"),
        ({"bind_address": "0.0.0.0; rm -rf /"}, "IPv4 or IPv6 address"),
        ({"port": 70000}, "less than or equal to 65535"),
        ({"port": -1}, "greater than or equal to 0"),
        ({"path": "/metrics"}, "Extra inputs are not permitted"),
    ],
)
def test_metrics_config_rejects_bad_values(overrides: dict[str, object], message: str) -> None:
    """Host names, out-of-range ports and unknown keys are config errors."""
    with pytest.raises(ValidationError, match=message):
        MetricsConfig.model_validate(overrides)


def test_metrics_config_accepts_ipv6_any() -> None:
    """An IPv6 literal is a valid bind address."""
    assert MetricsConfig(bind_address="::").bind_address == "::"
