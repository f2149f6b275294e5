"""The HTTP server's guards, applied to every request by agent.web.app: read-only methods, the Bearer
token (constant-time compare), bounded requests, and response headers. Runs on waitress's threads."""

from __future__ import annotations

import hmac
import re

from flask import Flask, Response, request

ALLOWED_METHODS = ("GET", "HEAD")
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PAGE_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; script-src 'self'; "
    "style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def valid_id(text: str) -> bool:
    """An event id or camera name as the agent makes them: no separators, no dots, bounded."""
    return ID_PATTERN.match(text) is not None


def install_guards(app: Flask, token: str | None, max_request_bytes: int) -> None:
    """Before each request: method, size and token; after: headers."""
    expected = None if token is None else f"Bearer {token}".encode()

    @app.before_request
    def _guard() -> Response | None:
        if request.method not in ALLOWED_METHODS:
            return Response("read-only API: GET and HEAD only\n", 405, {"Allow": ", ".join(ALLOWED_METHODS)})
        if (request.content_length or 0) > max_request_bytes:
            return Response("request too large\n", 413)
        if expected is not None:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return Response(
                    "missing or wrong bearer token\n", 401, {"WWW-Authenticate": 'Bearer realm="edge-agent"'}
                )
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.path.startswith("/api/") or request.path in ("/healthz", "/readyz", "/metrics"):
            response.headers.setdefault("Cache-Control", "no-store")
        else:
            response.headers["Content-Security-Policy"] = PAGE_CSP
        return response
