"""The HTTP server's guards and API contract, over real sockets: the app under waitress on a free port,
reading a real event store. Token, traversal, methods, headers, sizes, filters and redaction."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from pydantic import ValidationError

from agent.config.loader import load_config_text
from agent.config.outputs import SnapshotConfig
from agent.config.schema import AgentConfig
from agent.config.web import HttpConfig, StorageConfig
from agent.store.writer import EventStore, store_root
from agent.types import CameraStats, PublisherStats, StatsSnapshot
from agent.web.app import create_app
from agent.web.context import WebContext
from agent.web.live import LiveViews
from agent.web.server import WebConfigError, WebServer
from tests.support.store_records import feed_one
from tests.support.web_client import WebClient

TOKEN = "s3cret-token-0123456789"
CONFIG_YAML = f"""
device_id: dev1
mqtt: {{password: hunter2-broker}}
model: {{path: ssd_mobilenet_v1_coco_uint8_300}}
http: {{enabled: true, token: {TOKEN}}}
cameras:
  cam1: {{source: "rtsp://admin:camera-pass@10.0.0.5/stream"}}
"""


def stats() -> StatsSnapshot:
    camera = CameraStats(
        capture_fps=10.0,
        detect_fps=5.0,
        frames=100,
        rate_capped=0,
        overwritten=0,
        reconnects=0,
        online=True,
        offline_s=0.0,
        inference_ms_p50=None,
        inference_ms_p95=None,
        skipped=0,
        starved=0,
    )
    publisher = PublisherStats(
        connected=True,
        outbox_depth=0,
        outbox_oldest_age_s=0.0,
        outbox_evicted=0,
        published=5,
        publish_failures=0,
        fast_dropped=0,
        connect_attempts=1,
    )
    return StatsSnapshot("0.1.0", 12.0, "litert", "ssd.tflite", {"cam1": camera}, publisher, time.time())


def serve(tmp_path: Path, config: AgentConfig) -> WebServer:
    store = EventStore(store_root(tmp_path), StorageConfig(enabled=True), SnapshotConfig())
    store.start()
    feed_one(store, "ev1", time.time() - 60)
    feed_one(store, "ev2", time.time() - 30)
    store.stop()
    store.join(20)
    ctx = WebContext(
        config=lambda: config,
        stats=stats,
        ready=lambda: True,
        metrics_text=None,
        config_state=lambda: {"status": "applied"},
        store_root=store.root,
        store_db=store.db_path,
        live=LiveViews(5.0, 2),
        counters=lambda: {"store_dropped": 0},
    )
    http = config.http.model_copy(update={"port": 0})
    server = WebServer(create_app(ctx, http), http)
    server.start()
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    config = load_config_text(CONFIG_YAML)
    running = serve(tmp_path_factory.mktemp("web"), config)
    yield running
    running.stop()


@pytest.fixture
def client(server: WebServer) -> WebClient:
    return WebClient(server.url, TOKEN)


def test_config_refuses_non_loopback_without_token() -> None:
    """http.enabled on 0.0.0.0 without a token is a config error naming http.host."""
    with pytest.raises(ValidationError, match="not loopback"):
        HttpConfig(enabled=True, host="0.0.0.0")
    assert HttpConfig(enabled=True, host="0.0.0.0", token=TOKEN).token == TOKEN


def test_server_refuses_non_loopback_without_token_even_if_the_model_was_bypassed() -> None:
    """The server checks again where the socket opens."""
    unchecked = HttpConfig.model_construct(enabled=True, host="0.0.0.0", port=0, token=None)
    with pytest.raises(WebConfigError, match="refusing"):
        WebServer(Flask("refusal"), unchecked)


def test_cli_exits_2_naming_the_field(tmp_path: Path) -> None:
    """`edge-agent run` with a non-loopback host and no token exits 2 and says which field."""
    path = tmp_path / "bad.yaml"
    path.write_text(CONFIG_YAML.replace(f"token: {TOKEN}", "host: 0.0.0.0"))
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "run", "--config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "http" in proc.stderr
    assert "token" in proc.stderr


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_missing_or_wrong_token_is_401(server: WebServer, header: str | None) -> None:
    """Without the exact bearer token every path, the page included, is refused."""
    client = WebClient(server.url)
    for path in ("/", "/api/events", "/healthz", "/api/events/ev1/snapshot.jpg"):
        reply = client.request(path, headers={} if header is None else {"Authorization": header})
        assert reply.status == 401, path
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_right_token_reads_events_newest_first(client: WebClient) -> None:
    """With the token, /api/events lists the stored events newest first with the documented fields."""
    events = client.json("/api/events")
    assert [e["id"] for e in events] == ["ev2", "ev1"]
    assert events[0]["has_snapshot"] is True
    assert events[0]["has_clip"] is False
    assert client.json("/api/events?limit=1")[0]["id"] == "ev2"
    assert client.json("/api/events?camera=other") == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/events/..%2F..%2Fevents.sqlite3/snapshot.jpg",
        "/api/events/../../etc/passwd",
        "/api/events/ev1.jpg",
        "/api/events/%2e%2e/snapshot.jpg",
        "/api/cameras/..%2Fcam1/latest.jpg",
        "/static/../../store/events.sqlite3",
        "/static/%2e%2e/app.py",
        "/api/events/ev1/clip.mp4",  # exists, but has no clip
        "/api/cameras/nope/latest.jpg",
    ],
)
def test_traversal_and_unknown_ids_are_404(client: WebClient, path: str) -> None:
    """Ids are validated before any lookup; nothing outside the store or static directory is served."""
    reply = client.request(path)
    assert reply.status in (400, 404), path
    assert b"CREATE TABLE" not in reply.body
    assert b"root:" not in reply.body


@pytest.mark.parametrize("query", ["camera=../x", "limit=0", "limit=abc", "limit=501", "after=nan", "after=soon"])
def test_bad_filters_are_400(client: WebClient, query: str) -> None:
    """A filter that is not a name, a bounded limit or a finite number is a 400 naming it."""
    reply = client.request(f"/api/events?{query}")
    assert reply.status == 400
    assert query.split("=")[0].encode() in reply.body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_api_is_read_only(client: WebClient, method: str) -> None:
    """Only GET and HEAD are served."""
    assert client.request("/api/events", method=method).status == 405


def test_headers_nosniff_csp_and_no_store(client: WebClient) -> None:
    """Every response says nosniff; the page has a CSP; API responses are not cached."""
    page = client.request("/")
    assert page.status == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    api = client.request("/api/events")
    assert api.headers["Cache-Control"] == "no-store"
    assert api.headers["X-Content-Type-Options"] == "nosniff"


def test_oversized_request_is_refused(client: WebClient) -> None:
    """Headers beyond max_request_bytes are refused before any view runs."""
    reply = client.request("/api/events", headers={"X-Padding": "a" * 40_000})
    assert reply.status in (400, 413, 431)


def test_config_is_redacted(client: WebClient) -> None:
    """/api/config shows the config without the broker password, the http token or URL passwords."""
    reply = client.request("/api/config")
    assert reply.status == 200
    for secret in (b"hunter2-broker", TOKEN.encode(), b"camera-pass"):
        assert secret not in reply.body
    assert reply.json()["config"]["cameras"]["cam1"]["source"].startswith("rtsp://admin:***@")
