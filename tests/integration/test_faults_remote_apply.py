"""Issue 12, defect 5 on the real agent: a remote config with 200 file cameras was accepted and its apply
starved the watchdog for 69.7 s. Now remote_config.max_cameras (16 by default) rejects it naming the
field and the count, and a remote config cannot raise the limit; the running camera is untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.remote.protocol import RequestKind
from tests.support import assets
from tests.support.broker import MosquittoBroker
from tests.support.remote_device import RemoteDevice, camera, video_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

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
