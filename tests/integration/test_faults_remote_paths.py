"""Issue 12, defect 1 on the real agent: a remote camera source is confined by what will be opened.
`file://` URLs and paths that leave /dev through `..` used to skip the path policy while the capture
thread opened them as files; now each is rejected exactly like the plain path it names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.remote.protocol import RequestKind
from tests.support import assets
from tests.support.broker import MosquittoBroker
from tests.support.remote_device import RemoteDevice, camera, video_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LEAK = "leak"


def test_file_urls_and_dev_escapes_are_rejected_like_the_plain_path(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, broker: MosquittoBroker, topic_prefix: str
) -> None:
    """A private video named by path, file:// URL or /dev/.. is rejected at cameras.leak.source and never
    opened (no message of that camera, no capture log line); a file:// URL inside an allowed dir runs."""
    private = tmp_path_factory.mktemp("private") / "private.mp4"  # outside every allowed directory
    private.symlink_to(assets.video(assets.TRAFFIC))
    device = RemoteDevice.start(
        tmp_path, broker, topic_prefix, {"crossing": camera(assets.TRAFFIC)}, allowed_dirs=[video_dir()]
    )
    try:
        device.wait_detections("crossing", 2)
        sources = [str(private), f"file://{private}", f"/dev/..{private}", "file:///etc/shadow"]
        for index, source in enumerate(sources):
            patch = {"request_id": f"leak-{index}", "cameras": {LEAK: {"source": source, "loop": True}}}
            state, _ = device.request(RequestKind.PATCH, patch)
            assert state["status"] == "rejected", (source, state)
            assert [error["loc"] for error in state["errors"]] == [f"cameras.{LEAK}.source"], state
            assert "outside the directories" in state["errors"][0]["msg"]
        device.wait_detections("crossing", 3, after_mono=device.last_state_mono)  # the agent kept running
        assert not [m.topic for m in device.subscriber.snapshot() if f"/{LEAK}/" in m.topic]
        assert f"camera {LEAK}" not in device.agent.log

        allowed: dict[str, Any] = {"request_id": "allowed", "cameras": {"walk": camera(assets.PEDESTRIANS)}}
        allowed["cameras"]["walk"]["source"] = f"file://{assets.video(assets.PEDESTRIANS)}"
        state, _ = device.request(RequestKind.PATCH, allowed)
        assert state["status"] == "applied", state
        device.wait_detections("walk", 2, after_mono=device.last_state_mono)
    finally:
        device.close()
