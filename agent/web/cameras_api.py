"""GET /api/cameras, /api/cameras/<cam>/latest.jpg and /api/cameras/<cam>/mjpeg (boxes, zones and lines
drawn, at most http.mjpeg_fps, encoded only while the viewer is connected). HTTP threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from flask import Blueprint, Response, abort, jsonify

from agent.config.schema import CameraConfig
from agent.web.context import WebContext
from agent.web.live import jpeg_of
from agent.web.security import valid_id

LATEST_WAIT_S = 2.0
MJPEG_WAIT_S = 5.0
BOUNDARY = "frame"


def cameras_blueprint(ctx: WebContext) -> Blueprint:
    bp = Blueprint("cameras", __name__)
    viewers_lock = threading.Lock()

    def camera(name: str) -> CameraConfig:
        cfg = ctx.config().cameras.get(name) if valid_id(name) else None
        if cfg is None:
            abort(404)
        return cfg

    @bp.get("/api/cameras")
    def cameras() -> Response:
        stats = ctx.stats().cameras
        out = []
        for name, cfg in sorted(ctx.config().cameras.items()):
            cam = stats.get(name)
            out.append(
                {
                    "name": name,
                    "enabled": cfg.enabled,
                    "online": bool(cam and cam.online),
                    "capture_fps": cam.capture_fps if cam else 0.0,
                    "detect_fps": cam.detect_fps if cam else 0.0,
                    "zones": sorted(cfg.zones),
                    "lines": sorted(cfg.lines),
                }
            )
        return jsonify(out)

    @bp.get("/api/cameras/<name>/latest.jpg")
    def latest(name: str) -> Response:
        cfg = camera(name)
        picture = ctx.live.next_picture(name, -1, LATEST_WAIT_S)
        if picture is None:
            abort(503, "no frame from this camera yet")
        return Response(jpeg_of(picture, cfg), mimetype="image/jpeg", headers={"Cache-Control": "no-store"})

    @bp.get("/api/cameras/<name>/mjpeg")
    def mjpeg(name: str) -> Response:
        cfg = camera(name)
        slot = ctx.live.slot(name)
        with viewers_lock:
            if ctx.live.watching() >= ctx.live.max_viewers:
                abort(503, "too many live viewers")
            slot.viewers += 1

        def stream() -> Iterator[bytes]:
            seq = -1
            try:
                while True:
                    picture = ctx.live.next_picture(name, seq, MJPEG_WAIT_S)
                    if picture is None or picture.seq == seq:
                        continue  # nothing new (camera idle): keep waiting; a closed socket ends us
                    seq = picture.seq
                    jpeg = jpeg_of(picture, cfg)
                    yield b"--" + BOUNDARY.encode() + b"\r\nContent-Type: image/jpeg\r\n"
                    yield f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n"
            finally:
                with viewers_lock:
                    slot.viewers -= 1

        return Response(
            stream(),
            mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            headers={"Cache-Control": "no-store"},
        )

    return bp
