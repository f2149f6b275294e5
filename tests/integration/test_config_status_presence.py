"""`edge-agent config status` says whether the device is there: a real agent process on real video
with the real model and a real mosquitto; running it reports online, stopped cleanly offline with
the last stats' `ts` as last seen, next to the retained config/state it last reported."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli import fleet as fleet_cli
from tests.support import assets
from tests.support.broker import MosquittoBroker
from tests.support.remote_device import DEVICE, RemoteDevice, camera
from tests.support.schemas import validate
from tests.support.subscriber import Subscriber

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

WAIT_S = 20.0


def _status(
    broker: MosquittoBroker, prefix: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any], str]:
    out = io.StringIO()
    code = fleet_cli.status(broker.host, broker.port, prefix, DEVICE, WAIT_S, out=out)
    [line] = out.getvalue().splitlines()
    return code, json.loads(line), capsys.readouterr().err


def _retained(broker: MosquittoBroker, topic: str) -> Any:
    """The retained payload of `topic` as a fresh subscriber receives it."""
    subscriber = Subscriber(broker.host, broker.port, topic)
    try:
        assert subscriber.wait_for(bool, WAIT_S), f"nothing retained on {topic}"
        return subscriber.snapshot()[0].json()
    finally:
        subscriber.close()


def test_status_reports_online_then_offline_with_last_seen(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Running: applied and online; after a clean stop: applied, offline, last seen = the final stats' ts."""
    device = RemoteDevice.start(tmp_path, broker, topic_prefix, {"crossing": camera(assets.TRAFFIC)})
    stats_topic = f"{topic_prefix}/{DEVICE}/stats"
    try:
        assert device.subscriber.wait_for(lambda ms: any(m.topic == stats_topic for m in ms), WAIT_S)
        code, running, note = _status(broker, topic_prefix, capsys)
        assert code == fleet_cli.EXIT_APPLIED
        assert (running["status"], running["device_status"]) == ("applied", "online")
        assert isinstance(running["last_seen_ts"], float)
        assert note.startswith("device is online")
        assert device.agent.terminate()[0] == 0
    finally:
        device.close()
    final_stats = _retained(broker, stats_topic)
    validate("stats", final_stats)
    code, stopped, note = _status(broker, topic_prefix, capsys)
    assert code == fleet_cli.EXIT_APPLIED
    assert (stopped["status"], stopped["device_status"]) == ("applied", "offline")
    assert stopped["last_seen_ts"] == final_stats["ts"]
    assert stopped["last_seen_ts"] >= running["last_seen_ts"]
    assert stopped["version"] == running["version"]
    assert "device is offline since" in note
    assert "the state below is the last it reported" in note
