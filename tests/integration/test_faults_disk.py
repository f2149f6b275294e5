"""A full state_dir (issue 12, defect 2): a real 2 MB tmpfs, the real agent, video and mosquitto.

The broker is down while the agent fills its outbox, then a filler file takes the rest of the
space. A reload must not crash; once the broker is back new events must flow and the outbox
drain; and an agent started on the full disk must come up and deliver."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.publish.outbox import FILE_NAME
from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.faults import print_figures, wait_outbox
from tests.support.subscriber import Received, Subscriber

pytestmark = pytest.mark.integration

TMPFS_SIZE = "2m"
FILL_CHUNK = 64 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted for this test (root needed); unmounted afterwards."""
    mount_point = tmp_path / "state"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        why = f"cannot mount a tmpfs (root needed): {done.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path, name: str) -> int:
    """Write `name` until the filesystem refuses; returns the bytes written."""
    written = 0
    with (directory / name).open("ab") as handle:
        try:
            while True:
                handle.write(bytes(FILL_CHUNK))
                handle.flush()
                written += FILL_CHUNK
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return written


def cameras(extra: bool = False) -> dict[str, Any]:
    cams: dict[str, Any] = {"walk": {"source": str(assets.video(assets.PEDESTRIANS)), "loop": True}}
    if extra:
        cams["crossing"] = {"source": str(assets.video(assets.TRAFFIC)), "loop": True}
    return cams


def agent_config(tmp_path: Path, broker: MosquittoBroker, prefix: str, extra: bool = False) -> dict[str, Any]:
    # Saved snapshots: one more writer under state_dir that must survive the full disk.
    snapshots = {"enabled": True, "save": True, "max_width_px": 320, "max_height_px": 240}
    return base_config(tmp_path, broker, prefix, cameras(extra), snapshots=snapshots)


def wait_log(agent: AgentProcess, text: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in agent.log:
            return True
        if agent.proc.poll() is not None:
            return False
        time.sleep(0.2)
    return text in agent.log


def events_since(messages: list[Received], since_wall: float) -> list[dict[str, Any]]:
    return [m.json() for m in messages if m.topic.endswith("/events") and m.json()["ts"] >= since_wall]


def stats(messages: list[Received]) -> list[dict[str, Any]]:
    return [m.json() for m in messages if m.topic.endswith("/stats")]


@pytest.mark.timeout(300)
def test_full_state_dir_neither_crashes_nor_loses_uncounted(
    tmp_path: Path, small_disk: Path, private_broker: MosquittoBroker, topic_prefix: str, agents: list[AgentProcess]
) -> None:
    """Reload on a full disk keeps running; after the broker returns new events arrive and the outbox
    drains; a restart on the full disk comes up and delivers; stats report the storage state."""
    # The subscriber's session outlives the outage (a persisting broker), so what the agent sends the
    # moment it reconnects (its held `storage` anomaly first) waits for the subscriber, however the
    # two reconnects race.
    persistence = tmp_path / "broker-db"
    persistence.mkdir()
    private_broker.extra_config = f"user root\npersistence true\npersistence_location {persistence}/\n"
    private_broker.start()
    sub = Subscriber(private_broker.host, private_broker.port, f"{topic_prefix}/#", session_id=f"sub-{topic_prefix}")
    try:
        private_broker.stop()
        config_path = write_config(tmp_path / "agent.yaml", agent_config(tmp_path, private_broker, topic_prefix))
        agent = AgentProcess(config_path)
        agents.append(agent)
        assert wait_outbox(small_disk, lambda s: len(s.rows) >= 3, 90).rows, agent.log
        filler = fill(small_disk, "filler")
        assert wait_log(agent, "out of space", 60), agent.log

        write_config(config_path, agent_config(tmp_path, private_broker, topic_prefix, extra=True))
        agent.proc.send_signal(signal.SIGHUP)
        assert wait_log(agent, "config applied", 60), agent.log  # discovery's state file could not be written
        assert agent.proc.poll() is None, agent.log

        back_wall = time.time()
        private_broker.start()
        assert sub.wait_for(lambda ms: len(events_since(ms, back_wall)) >= 2, 25), agent.log
        events_25s = len(events_since(sub.snapshot(), back_wall))
        assert sub.wait_for(lambda ms: any(s["publisher"]["outbox_depth"] == 0 for s in stats(ms)), 60), agent.log
        assert sub.wait_for(lambda ms: any(s["publisher"]["storage"]["write_failures"] > 0 for s in stats(ms)), 10)
        code, _ = agent.terminate()
        assert code == 0, agent.log
        received = sub.snapshot()
    finally:
        sub.close()
    anomalies = [m.json() for m in received if m.topic.endswith("/anomalies")]
    assert any(a["kind"] == "storage" and a["details"]["problem"] == "full" for a in anomalies), anomalies

    refill = fill(small_disk, "filler2")
    assert refill > 0  # acknowledged rows gave their space back (the filler had taken every byte)
    sub = Subscriber(private_broker.host, private_broker.port, f"{topic_prefix}/#")
    try:
        restart_wall = time.time()
        second = AgentProcess(config_path)
        agents.append(second)
        assert sub.wait_for(lambda ms: len(events_since(ms, restart_wall)) >= 2, 60), second.log
        code, _ = second.terminate()
        assert code == 0, second.log
    finally:
        sub.close()
    # A full disk (SQLite may say "disk I/O error" growing the -shm) is not a corrupt file: kept, not moved.
    assert not list(small_disk.glob(f"{FILE_NAME}.corrupt-*")), second.log
    assert "lost because" not in second.log, second.log
    assert "Traceback" not in agent.log + second.log  # every failed write is handled where it happens
    print_figures(
        "full_state_dir",
        filler_bytes=filler,
        reload_survived=True,
        events_within_25s_of_broker_return=events_25s,
        refill_bytes=refill,
        restart_on_full_disk_exit=code,
    )
