"""GET /api/events, /api/events/<id>, its snapshot.jpg and clip.mp4 (Range requests, so <video> seeks),
/api/anomalies and /api/counts, read from the event store with a connection per request (HTTP threads)."""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path

from flask import Blueprint, Response, abort, jsonify, request, send_file

from agent.store import db as store_db
from agent.store import files
from agent.store.rows import EventQuery, EventRow
from agent.web.context import WebContext
from agent.web.security import valid_id

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
COUNTS_WINDOW_S = 86_400.0


def event_json(row: EventRow) -> dict[str, object]:
    return {
        "id": row.event_id,
        "camera": row.camera,
        "label": row.label,
        "sub_label": row.sub_label,
        "start_ts": row.start_ts,
        "end_ts": row.end_ts,
        "score": row.best_score,
        "zones": list(row.zones),
        "has_snapshot": row.snapshot_path is not None,
        "has_clip": row.clip_path is not None,
        "clip_start_ts": row.clip_start_ts,
        "clip_end_ts": row.clip_end_ts,
    }


def _float_arg(name: str) -> float | None:
    text = request.args.get(name)
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        abort(400, f"{name} must be a number (seconds since the epoch), got {text!r}")
    if not math.isfinite(value):
        abort(400, f"{name} must be finite")
    return value


def _name_arg(name: str) -> str | None:
    text = request.args.get(name) or None
    if text is not None and not valid_id(text):
        abort(400, f"{name} must be letters, digits, _ or - (at most 64)")
    return text


def parse_query() -> EventQuery:
    limit_text = request.args.get("limit", str(DEFAULT_LIMIT))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        abort(400, f"limit must be an integer from 1 to {MAX_LIMIT}")
    return EventQuery(
        camera=_name_arg("camera"),
        label=_name_arg("label"),
        after_ts=_float_arg("after"),
        before_ts=_float_arg("before"),
        limit=int(limit_text),
    )


def events_blueprint(ctx: WebContext) -> Blueprint:
    bp = Blueprint("events", __name__)

    def db_path() -> Path:
        if ctx.store_db is None:
            abort(404, "the event store is off (storage.enabled: false)")
        return ctx.store_db

    def one_event(event_id: str) -> EventRow:
        if not valid_id(event_id):
            abort(404)
        with store_db.reader(db_path()) as db:
            row = store_db.get_event(db, event_id)
        if row is None:
            abort(404)
        return row

    def event_file(rel: str | None, mimetype: str) -> Response:
        if rel is None or ctx.store_root is None:
            abort(404)
        path = files.resolve(ctx.store_root, rel)
        if path is None:
            abort(404)
        response = send_file(path, mimetype=mimetype, conditional=True, max_age=3600)
        response.headers["Accept-Ranges"] = "bytes"
        return response

    @bp.get("/api/events")
    def list_events() -> Response:
        query = parse_query()
        with store_db.reader(db_path()) as db:
            rows = store_db.query_events(db, query)
        return jsonify([event_json(row) for row in rows])

    @bp.get("/api/events/<event_id>")
    def get_event(event_id: str) -> Response:
        return jsonify(event_json(one_event(event_id)))

    @bp.get("/api/events/<event_id>/snapshot.jpg")
    def snapshot(event_id: str) -> Response:
        return event_file(one_event(event_id).snapshot_path, "image/jpeg")

    @bp.get("/api/events/<event_id>/clip.mp4")
    def clip(event_id: str) -> Response:
        return event_file(one_event(event_id).clip_path, "video/mp4")

    @bp.get("/api/anomalies")
    def anomalies() -> Response:
        with store_db.reader(db_path()) as db:
            rows = store_db.active_anomalies(db)
        return jsonify(
            [
                {
                    "id": a.anomaly_id,
                    "camera": a.camera,
                    "kind": a.kind,
                    "severity": a.severity,
                    "started_ts": a.started_ts,
                }
                for a in rows
            ]
        )

    @bp.get("/api/counts")
    def counts() -> Response:
        with store_db.reader(db_path()) as db:
            by_label = store_db.counts_by_label(db, time.time() - COUNTS_WINDOW_S)
        return jsonify({"window_s": COUNTS_WINDOW_S, "events_by_label": by_label})

    @bp.errorhandler(sqlite3.Error)
    def _store_unreadable(exc: sqlite3.Error) -> tuple[str, int]:
        return f"event store unreadable: {exc}\n", 503

    return bp
