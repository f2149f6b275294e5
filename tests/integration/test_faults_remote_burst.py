"""Issue 12, defect 4 on the real agent: a burst of 100 config patches sent back to back. Before, 84
got no answer ("dropped: 16 requests already waiting") and an earlier value stayed in force; now every
request is answered once (applied, superseded or rejected), the last one wins, and a payload that does
not parse is rejected under the request_id it carried."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from agent.remote.protocol import RequestKind
from tests.support import assets
from tests.support.broker import MosquittoBroker
from tests.support.remote_device import STATE_WAIT_S, RemoteDevice, camera, video_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

BURST = 100
BROKEN_AT = 50
BROKEN_ID = "broken-50"
STALL_BASE_S = 30.0  # worker_stall_s: a field applied live, so every patch is a real change


def _patch(index: int) -> bytes:
    return json.dumps({"request_id": f"burst-{index}", "worker_stall_s": STALL_BASE_S + index}).encode()


def test_burst_of_patches_is_answered_and_the_last_one_wins(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str
) -> None:
    """100 patches and one unparsable payload, published without waiting: 101 answers, each request
    exactly once; the parse failure keeps its request_id; superseded ones name the applied request;
    the running config ends at the last patch's value."""
    device = RemoteDevice.start(
        tmp_path, broker, topic_prefix, {"crossing": camera(assets.TRAFFIC)}, allowed_dirs=[video_dir()]
    )
    try:
        device.wait_detections("crossing", 2)
        before = len(device.states())
        topic = device.topics.request(RequestKind.PATCH)
        infos = []
        for index in range(BURST):
            if index == BROKEN_AT:
                payload = f'{{"request_id": "{BROKEN_ID}", "worker_stall_s": '.encode()
                infos.append(device.client.publish(topic, payload, qos=1))
            infos.append(device.client.publish(topic, _patch(index), qos=1))
        for info in infos:
            info.wait_for_publish(STATE_WAIT_S)
        expected = {f"burst-{index}" for index in range(BURST)} | {BROKEN_ID}

        def answered() -> list[dict[str, object]]:
            return [m.json() for m in device.states()[before:]]

        assert device.subscriber.wait_for(
            lambda _msgs: expected <= {s["request_id"] for s in answered()}, STATE_WAIT_S
        ), f"unanswered: {sorted(expected - {s['request_id'] for s in answered()})[:10]}"
        states = answered()
        counts = Counter(str(s["request_id"]) for s in states)
        assert all(counts[request_id] == 1 for request_id in expected), counts.most_common(3)
        by_id = {s["request_id"]: s for s in states}
        broken = by_id[BROKEN_ID]
        assert broken["status"] == "rejected", broken
        assert broken["errors"][0]["loc"] == "<document>"  # type: ignore[index]
        statuses = Counter(str(by_id[f"burst-{i}"]["status"]) for i in range(BURST))
        assert set(statuses) <= {"applied", "superseded"}, statuses
        applied_ids = {f"burst-{i}" for i in range(BURST) if by_id[f"burst-{i}"]["status"] == "applied"}
        for index in range(BURST):
            state = by_id[f"burst-{index}"]
            if state["status"] == "superseded":
                assert state["superseded_by"] in applied_ids, state
        assert by_id[f"burst-{BURST - 1}"]["status"] == "applied"
        assert device.current_config()["worker_stall_s"] == STALL_BASE_S + BURST - 1
        assert device.file_document()["worker_stall_s"] == STALL_BASE_S + BURST - 1
        device.wait_detections("crossing", 2, after_mono=device.subscriber.snapshot()[-1].ts_mono)
        print(f"burst: {len(expected)} requests, answered {len(expected & set(counts))}, statuses {dict(statuses)}")
    finally:
        device.close()
