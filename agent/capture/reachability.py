"""Why a network camera did not open, in the agent's own words: one TCP connect to its host and port.

FFmpeg's messages are silenced (agent.capture.native_logs), so after a failed open of an
RTSP or HTTP source the capture thread asks `explain_unreachable()` whether the port refused,
did not answer, or the host name does not resolve. Called on the camera's capture thread."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
PROBE_TIMEOUT_S = 1.0  # short: the failed open has already waited; this only names the cause


def address_of(url: str) -> tuple[str, int] | None:
    """Host and TCP port of a network camera URL (the scheme's default port if none is given)."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:  # a port that is not a number: FFmpeg's open failed for that reason already
        return None
    if not parts.hostname or port is None:
        return None
    return parts.hostname, port


def explain_unreachable(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """What a TCP connect to the camera's address finds, for the open-failure message; None if the URL has none."""
    address = address_of(url)
    if address is None:
        return None
    host, port = address
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        with socket.create_connection(address, timeout=timeout_s):
            pass
    except socket.gaierror as exc:
        return f"host {host} does not resolve: {exc.strerror}"
    except TimeoutError:
        return f"no answer from {where} within {timeout_s:g} s"
    except OSError as exc:
        return f"{where}: {exc.strerror or exc}"
    return f"{where} accepts connections: check the stream path, the credentials and the codec"
