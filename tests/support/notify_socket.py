"""Plays systemd's side of the notify protocol for tests: a real AF_UNIX datagram socket that
records every datagram the agent sends (READY, WATCHDOG, STATUS, STOPPING) with its arrival time."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Datagram:
    ts_mono: float
    text: str


class NotifySocket:
    """Plays systemd's side: binds a datagram socket and records what arrives on it."""

    def __init__(self) -> None:
        # AF_UNIX paths are limited to 108 bytes: keep it short rather than under pytest's tmp_path.
        self._dir = Path(tempfile.mkdtemp(prefix="notify-"))
        self.path = self._dir / "sock"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._sock.settimeout(0.2)
        self.received: list[Datagram] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.received.append(Datagram(time.monotonic(), data.decode()))

    def snapshot(self) -> list[Datagram]:
        with self._lock:
            return list(self.received)

    def having(self, field: str, after_mono: float = 0.0) -> list[Datagram]:
        return [d for d in self.snapshot() if d.ts_mono > after_mono and field in d.text.split("\n")]

    def wait_for(self, field: str, count: int, timeout_s: float, after_mono: float = 0.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.having(field, after_mono)) >= count:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._closed.set()
        self._thread.join(2)
        self._sock.close()
        shutil.rmtree(self._dir, ignore_errors=True)
