"""Config-file reloads in the real agent: SIGHUP applies an edited file, a later edit is picked up by
the file watcher without a signal, and a broken edit is rejected while the old config keeps running.
Outcomes are read from the retained config/state on a real mosquitto."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.config.loader import load_config
from agent.remote.document import config_version
from tests.support import assets
from tests.support.broker import MosquittoBroker
from tests.support.remote_device import RemoteDevice, camera

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

WATCH_INTERVAL_S = 0.5


def test_sighup_then_file_watch_then_broken_edit(tmp_path: Path, broker: MosquittoBroker, topic_prefix: str) -> None:
    """SIGHUP applies an edited file; with watch_file on, an unsignalled edit is applied too; a broken
    edit is rejected with the old config still detecting on every camera."""
    device = RemoteDevice.start(
        tmp_path, broker, topic_prefix, {"crossing": camera(assets.TRAFFIC)}, remote={"watch_file": False}
    )
    try:
        device.wait_detections("crossing", 3)
        _sighup_reload(device)
        _watched_edit(device)
        _broken_edit(device)
        _unworkable_edit(device)
    finally:
        device.close()


def _sighup_reload(device: RemoteDevice) -> None:
    """Without the watcher, only the signal reloads: detect_fps changes and watching is switched on."""
    document = device.file_document()
    document["remote_config"].update(watch_file=True, watch_interval_s=WATCH_INTERVAL_S)
    document["cameras"]["crossing"]["detect_fps"] = 3.0
    device.write_file(document)
    expected = config_version(load_config(device.config_path))
    assert expected != device.version
    before = len(device.states())
    device.sighup()
    state = device.next_state(before, None)
    assert (state["status"], state["version"]) == ("applied", expected), state
    running = device.current_config()
    assert running["cameras"]["crossing"]["detect_fps"] == 3.0
    assert running["remote_config"]["watch_file"] is True


def _watched_edit(device: RemoteDevice) -> None:
    """An edit without a signal (a new camera) is applied by the watcher, and the camera detects."""
    started = time.monotonic()
    before = len(device.states())
    document = device.file_document()
    document["cameras"]["walkway"] = camera(assets.PEDESTRIANS)
    device.write_file(document)
    expected = config_version(load_config(device.config_path))
    state = device.next_state(before, None)
    print(f"\nfile watch: edit applied after {device.last_state_mono - started:.2f} s (interval {WATCH_INTERVAL_S} s)")
    assert (state["status"], state["version"]) == ("applied", expected), state
    device.wait_detections("walkway", 3, after_mono=device.last_state_mono)
    assert device.seq_resets("crossing", started) == [], "adding a camera from the file restarted the other one"


def _broken_edit(device: RemoteDevice) -> None:
    """A file that no longer validates is rejected with its errors; both cameras keep detecting."""
    version = device.version
    document = device.file_document()
    document["cameras"]["crossing"]["detect_fps"] = -1
    before = len(device.states())
    device.write_file(document)
    state = device.next_state(before, None)
    assert (state["status"], state["version"]) == ("rejected", version), state
    assert any("cameras.crossing.detect_fps" in error["msg"] for error in state["errors"]), state
    for name in ("crossing", "walkway"):
        device.wait_detections(name, 3, after_mono=device.last_state_mono)
    assert device.get_current("after-broken")["version"] == version


def _unworkable_edit(device: RemoteDevice) -> None:
    """A file that validates but cannot work (a label the model lacks, a missing video) is rejected
    with `file:line: field: message` lines; both cameras keep detecting."""
    version = device.version
    document = device.file_document()
    document["cameras"]["crossing"]["detect_fps"] = 3.0  # the broken edit's -1 is still in the file
    document["cameras"]["crossing"]["objects"] = ["persn"]
    document["cameras"]["walkway"]["source"] = str(device.config_path.parent / "absent.mp4")
    before = len(device.states())
    device.write_file(document)
    state = device.next_state(before, None)
    assert (state["status"], state["version"]) == ("rejected", version), state
    messages = [error["msg"] for error in state["errors"]]
    assert any(
        msg.startswith(f"{device.config_path}:")
        and "cameras.crossing.objects.0: 'persn'" in msg
        and msg.endswith("(did you mean 'person'?)")
        for msg in messages
    ), messages
    assert any("cameras.walkway.source: video file" in msg and "does not exist" in msg for msg in messages), messages
    for name in ("crossing", "walkway"):
        device.wait_detections(name, 3, after_mono=device.last_state_mono)
