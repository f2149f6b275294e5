"""Issue 12, defect 6 on the real agent: a remote change of a field read only at start (metrics.enabled)
was reported `applied`; now it is persisted and answered `applied_restart_required` naming the field,
while a live field in the same patch takes effect at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.remote.protocol import RequestKind
from tests.support import assets
from tests.support.broker import MosquittoBroker
from tests.support.remote_device import RemoteDevice, camera, video_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_metrics_enabled_change_is_reported_restart_required(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str
) -> None:
    """metrics.enabled: true with a live worker_stall_s change -> applied_restart_required
    ["metrics.enabled"]; both are persisted, the live one is running, no metrics endpoint is started."""
    device = RemoteDevice.start(
        tmp_path, broker, topic_prefix, {"crossing": camera(assets.TRAFFIC)}, allowed_dirs=[video_dir()]
    )
    try:
        patch = {"request_id": "metrics-on", "metrics": {"enabled": True}, "worker_stall_s": 40.0}
        state, _ = device.request(RequestKind.PATCH, patch)
        assert state["status"] == "applied_restart_required", state
        assert state["restart_required"] == ["metrics.enabled"], state
        assert device.file_document()["metrics"]["enabled"] is True
        assert device.current_config()["worker_stall_s"] == 40.0
        assert "metrics.enabled" in device.agent.log
        live_only, _ = device.request(RequestKind.PATCH, {"request_id": "live-only", "worker_stall_s": 41.0})
        assert live_only["status"] == "applied", live_only
        assert "restart_required" not in live_only
    finally:
        device.close()
