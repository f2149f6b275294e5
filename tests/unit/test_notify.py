"""The notifier speaks sd_notify to a real AF_UNIX datagram socket, and is silent without one."""

import os
import socket
from pathlib import Path

from agent.daemon.notify import SystemdNotifier


def _receiver(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    return sock


def test_sends_ready_watchdog_stopping(tmp_path: Path) -> None:
    """READY, WATCHDOG and STOPPING arrive as datagrams with STATUS lines."""
    path = tmp_path / "notify.sock"
    receiver = _receiver(path)
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "4000000"})
    notifier.ready("2 cameras online")
    notifier.watchdog()
    notifier.stopping()
    messages = [receiver.recv(4096).decode() for _ in range(3)]
    assert messages[0] == "READY=1\nSTATUS=2 cameras online"
    assert messages[1] == "WATCHDOG=1"
    assert messages[2].startswith("STOPPING=1")
    assert notifier.watchdog_interval_s == 4.0
    notifier.close()
    receiver.close()


def test_watchdog_for_another_pid_is_ignored() -> None:
    """WATCHDOG_USEC meant for another process does not enable pings here."""
    notifier = SystemdNotifier({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid() + 1)})
    assert notifier.watchdog_interval_s is None


def test_without_socket_is_noop() -> None:
    """No NOTIFY_SOCKET: nothing is sent and nothing fails."""
    notifier = SystemdNotifier({})
    notifier.ready("x")
    assert not notifier.enabled
    assert notifier.failures == 0


def test_unreachable_socket_is_counted(tmp_path: Path) -> None:
    """A socket path with no listener counts failures instead of raising."""
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "absent.sock")})
    notifier.watchdog()
    notifier.watchdog()
    assert notifier.failures == 2
