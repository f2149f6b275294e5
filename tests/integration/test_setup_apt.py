"""tools/apt-get-wait.sh (the apt step of tools/setup.sh and install-service.sh) waits while another
process holds one of apt's real locks, as unattended upgrades do after a fresh boot, instead of failing."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.assets import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

WAIT_SCRIPT = REPO_ROOT / "tools" / "apt-get-wait.sh"
INSTALLED = "mosquitto-clients"  # installed by tools/setup.sh: `install --no-upgrade` of it changes nothing


def run_while_locked(lock: Path, command: list[str]) -> tuple[int, str]:
    """Hold `lock` as apt does (a POSIX fcntl lock; flock(1) takes another kind, which apt ignores),
    start `command`, release the lock once the command has reported it, and return its status and output."""
    with lock.open("a") as held:  # apt creates its lock files the same way if missing
        fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        proc = subprocess.Popen(
            # apt-get writes its "Waiting for cache lock" line to stdout, its errors to stderr
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "APT_LOCK_RETRY_S": "1"},
        )
        assert proc.stdout is not None
        seen = b""
        while f"Could not get lock {lock}".encode() not in seen:
            chunk = os.read(proc.stdout.fileno(), 4096)  # apt redraws its wait line with \r: no readline
            if not chunk:
                break  # it ended without reporting the lock
            seen += chunk
    # The lock is released here; the command may now go on.
    seen += proc.stdout.read()
    return proc.wait(timeout=60), seen.decode(errors="replace")


@pytest.fixture
def apt_install() -> list[str]:
    if os.geteuid() != 0:
        pytest.skip("taking apt's locks needs root")
    if shutil.which("apt-get") is None:
        pytest.skip("not a Debian system (no apt-get)")
    return ["install", "-y", "-q", "--no-upgrade", "--no-install-recommends", INSTALLED]


@pytest.mark.parametrize(
    "lock",
    [
        pytest.param(Path("/var/lib/dpkg/lock-frontend"), id="dpkg-frontend"),  # unattended-upgrade installing
        pytest.param(Path("/var/cache/apt/archives/lock"), id="archives"),  # apt-daily downloading
    ],
)
def test_apt_step_waits_for_a_held_lock(lock: Path, apt_install: list[str]) -> None:
    """With apt's lock held when it starts, the apt step waits for it and then succeeds."""
    status, output = run_while_locked(lock, ["bash", str(WAIT_SCRIPT), *apt_install])
    assert status == 0, output
