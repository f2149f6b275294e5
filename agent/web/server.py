"""Runs the Flask app under waitress on its own threads (one listener, `http.threads` workers), started
and stopped by the main thread. Refuses a non-loopback address without a token (checked again here,
not only in the config model, because this is where the socket opens)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from agent.config.web import HttpConfig, is_loopback
from agent.errors import AgentError

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 2.0


class WebConfigError(AgentError):
    """The HTTP server cannot start as configured (no token off loopback, port in use)."""


class WebServer:
    def __init__(self, app: Flask, config: HttpConfig) -> None:
        if not is_loopback(config.host) and config.token is None:
            raise WebConfigError(
                f"http.host {config.host} is not loopback and http.token is not set: refusing to serve the API "
                "to the network without a token"
            )
        from waitress.server import create_server

        try:
            self._server = create_server(
                app,
                host=config.host,
                port=config.port,
                threads=config.threads,
                max_request_header_size=config.max_request_bytes,
                max_request_body_size=config.max_request_bytes,
                channel_timeout=30,
                ident="edge-agent",
                clear_untrusted_proxy_headers=True,
            )
        except OSError as exc:
            raise WebConfigError(
                f"http: cannot listen on {config.host} port {config.port}: {exc.strerror or exc}; "
                "choose another http.port or set http.enabled: false"
            ) from exc
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)
        self.host = config.host

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        self._thread.start()
        log.info("web page and API: %s", self.url)

    def stop(self) -> None:
        self._server.close()
        self._thread.join(STOP_TIMEOUT_S)
