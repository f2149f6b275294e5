"""The Flask application: the page at /, health and readiness, /metrics, /api/status, /api/config and
the event and camera blueprints, behind the guards of agent.web.security. Built once on the main
thread; its views run on waitress's threads (agent.web.server)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from flask import Flask, Response, jsonify, send_from_directory

from agent.config.web import HttpConfig
from agent.remote.document import redact
from agent.web.cameras_api import cameras_blueprint
from agent.web.context import WebContext
from agent.web.events_api import events_blueprint
from agent.web.security import install_guards

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(ctx: WebContext, config: HttpConfig) -> Flask:
    app = Flask(__name__, static_folder=str(STATIC_DIR), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    install_guards(app, config.token, config.max_request_bytes)
    app.register_blueprint(events_blueprint(ctx))
    app.register_blueprint(cameras_blueprint(ctx))

    @app.get("/")
    def page() -> Response:
        return send_from_directory(STATIC_DIR, "index.html", max_age=0)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status_json(ctx))

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        ready = ctx.ready()
        return jsonify({"ready": ready}), 200 if ready else 503

    @app.get("/metrics")
    def metrics() -> Response:
        if ctx.metrics_text is None:
            return Response("metrics unavailable: prometheus-client is not installed\n", 404)
        return Response(ctx.metrics_text(), mimetype="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/api/status")
    def status() -> Response:
        return jsonify(status_json(ctx))

    @app.get("/api/config")
    def config_view() -> Response:
        return jsonify({"config": redact(ctx.config()), "state": ctx.config_state()})

    return app


def status_json(ctx: WebContext) -> dict[str, object]:
    """Device, cameras and broker now (GET /healthz and /api/status)."""
    snap = ctx.stats()
    publisher = snap.publisher
    return {
        "status": "running",
        "device_id": ctx.config().device_id,
        "version": snap.version,
        "uptime_s": snap.uptime_s,
        "model": snap.model,
        "runtime": snap.runtime,
        "broker": {
            "connected": publisher.connected,
            "outbox_depth": publisher.outbox_depth,
            "published": publisher.published,
        },
        "storage": dataclasses.asdict(publisher.storage),
        "cameras": {
            name: {"online": cam.online, "capture_fps": cam.capture_fps, "detect_fps": cam.detect_fps}
            for name, cam in sorted(snap.cameras.items())
        },
        "store": ctx.store_db is not None,
        "local": ctx.counters(),
        "live_viewers": ctx.live.watching(),
    }
