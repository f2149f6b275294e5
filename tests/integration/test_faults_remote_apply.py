"""Issue 12, defect 5 on the real agent: a remote config with 200 file cameras was accepted and its apply
starved the watchdog for 69.7 s. Now remote_config.max_cameras (16 by default) rejects it naming the
field and the count, and a remote config cannot raise the limit; the running camera is untouched."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.remote.protocol import RequestKind
from tests.support import assets
from tests.support.broker import MosquittoBroker
from tests.support.notify_socket import NotifySocket
from tests.support.remote_device import RemoteDevice, camera, video_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

MANY = 200


def test_camera_limit_rejects_a_big_apply_and_cannot_be_raised_remotely(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str
) -> None:
    """200 cameras -> rejected at `cameras` with "201 enabled cameras exceed ... (16)"; raising
    max_cameras remotely -> rejected at remote_config.max_cameras; lowering it is applied; the
    running camera keeps detecting and was never restarted."""
    device = RemoteDevice.start(
        tmp_path, broker, topic_prefix, {"crossing": camera(assets.TRAFFIC)}, allowed_dirs=[video_dir()]
    )
    try:
        device.wait_detections("crossing", 2)
        version = device.version
        many = {f"cam{i:03d}": camera(assets.PEDESTRIANS) for i in range(MANY)}
        state, _ = device.request(RequestKind.PATCH, {"request_id": "many", "cameras": many})
        assert state["status"] == "rejected", state
        assert state["errors"] == [
            {"loc": "cameras", "msg": f"{MANY + 1} enabled cameras exceed remote_config.max_cameras (16)"}
        ]
        assert state["version"] == version

        raise_limit = {"request_id": "raise", "remote_config": {"max_cameras": 500}, "cameras": many}
        state, _ = device.request(RequestKind.PATCH, raise_limit)
        assert state["status"] == "rejected", state
        assert [e["loc"] for e in state["errors"]] == ["remote_config.max_cameras"], state

        state, _ = device.request(RequestKind.PATCH, {"request_id": "lower", "remote_config": {"max_cameras": 4}})
        assert state["status"] == "applied", state
        assert device.file_document()["remote_config"]["max_cameras"] == 4
        device.wait_detections("crossing", 3, after_mono=device.last_state_mono)
        assert device.seq_resets("crossing") == []
        assert not [m.topic for m in device.subscriber.snapshot() if "/cam0" in m.topic]
    finally:
        device.close()


BIG = 48  # within an on-disk max_cameras of 64: an apply of many seconds on this machine
MEMORY_WAIT_S = 15.0  # the removed lanes drain and the late trims run (agent.daemon.reconcile.LATE_TRIMS_S)
WATCHDOG_USEC = 6_000_000  # WatchdogSec=6: pings every 2 s; a gap of 3 s would be half of it


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def _longest_gap(times: list[float]) -> float:
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def test_big_apply_keeps_the_watchdog_fed_and_memory_returns(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str
) -> None:
    """With max_cameras 64 on disk, adding 48 cameras is applied on the config thread: WATCHDOG pings
    never pause for half of WatchdogSec, the running camera keeps detecting without a restart, and
    after the 48 are removed RSS is back within half of what they added."""
    notify = NotifySocket()
    env = {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    device = RemoteDevice.start(
        tmp_path,
        broker,
        topic_prefix,
        {"crossing": camera(assets.TRAFFIC)},
        allowed_dirs=[video_dir()],
        remote={"max_cameras": 64},
        env=env,
    )
    try:
        device.wait_detections("crossing", 3)
        pid = device.agent.proc.pid
        baseline = _rss_kib(pid)
        started = time.monotonic()
        cameras = {f"cam{i:02d}": camera(assets.PEDESTRIANS) for i in range(BIG)}
        state, apply_s = device.request(RequestKind.PATCH, {"request_id": "big", "cameras": cameras})
        assert state["status"] == "applied", state
        device.wait_detections("crossing", 3, after_mono=device.last_state_mono)
        peak = _rss_kib(pid)
        removal = {name: None for name in cameras}
        state, remove_s = device.request(RequestKind.PATCH, {"request_id": "small", "cameras": removal})
        assert state["status"] == "applied", state
        ended = device.last_state_mono
        bound = baseline + 0.5 * (peak - baseline)
        returned = wait_until(lambda: _rss_kib(pid) < bound, MEMORY_WAIT_S)
        after = _rss_kib(pid)
        pings = [d.ts_mono for d in notify.having("WATCHDOG=1") if started - 2.5 <= d.ts_mono <= ended]
        crossing = [m.ts_mono for m in device.detections("crossing") if started <= m.ts_mono <= ended]
        gap = _longest_gap([started, *pings, ended])
        print(
            f"big apply: {BIG} cameras in {apply_s:.1f} s, removed in {remove_s:.1f} s; longest WATCHDOG gap "
            f"{gap:.2f} s; crossing's longest detection gap {_longest_gap([started, *crossing, ended]):.2f} s; "
            f"RSS baseline {baseline // 1024} MiB, peak {peak // 1024} MiB, after removal {after // 1024} MiB"
        )
        assert gap < WATCHDOG_USEC / 1e6 / 2, f"watchdog silent for {gap:.2f} s during the apply"
        assert device.seq_resets("crossing") == []
        assert returned, (
            f"RSS baseline {baseline} KiB, peak {peak} KiB, still {after} KiB {MEMORY_WAIT_S} s after removal"
        )
        device.wait_detections("crossing", 3, after_mono=ended)
    finally:
        device.close()
        notify.close()
