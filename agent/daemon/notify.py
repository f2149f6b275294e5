"""systemd notify protocol (sd_notify) spoken directly over the NOTIFY_SOCKET datagram socket.

Called from the main thread only (agent.daemon.lifecycle and watchdog). Without NOTIFY_SOCKET every call is a
no-op, so the same binary runs in a terminal, in tests and under systemd."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends READY/WATCHDOG/STATUS/STOPPING datagrams to the service manager."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address: str | None = None
        if address:
            # A leading '@' names a Linux abstract socket, spelled with a NUL byte.
            self._address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        watchdog_for_us = not pid or pid == str(os.getpid())
        self.watchdog_interval_s: float | None = int(usec) / 1e6 if usec.isdigit() and watchdog_for_us else None
        self._socket: socket.socket | None = None
        self.failures = 0

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def ready(self, status: str) -> None:
        self._send(f"READY=1\nSTATUS={status}")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def status(self, status: str) -> None:
        self._send(f"STATUS={status}")

    def stopping(self) -> None:
        self._send("STOPPING=1\nSTATUS=stopping")

    def _send(self, text: str) -> None:
        if self._address is None:
            return
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(text.encode(), self._address)
        except OSError as exc:
            self.failures += 1
            if self.failures in (1, 10, 100) or self.failures % 1000 == 0:
                log.warning("sd_notify to %s failed (%d failures so far): %s", self._address, self.failures, exc)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
