"""The README demo's path: tools/watch.py --summary --until-offline beside the real agent on the
real walkway video with the real model and a real mosquitto. The watcher ends on the agent's
`offline`, and its summary's figures equal the counts of the messages actually received."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from agent.cli.summary import LineTotal, Summary, render
from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.subscriber import Subscriber

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

WATCH = assets.REPO_ROOT / "tools" / "watch.py"
RUN_TIMEOUT_S = 150.0
WAIT_S = 30.0
LINE = {"a": [0.5, 0.05], "b": [0.5, 0.95], "objects": ["person"]}  # config/demo.yaml's line


def _wait_for_file(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        assert proc.poll() is None, f"watch.py exited early: {proc.communicate()}"
        assert time.monotonic() < deadline, "watch.py did not subscribe"
        time.sleep(0.05)


def _expected(base: str, watch_out: str, truth: Subscriber) -> Summary:
    """The summary recomputed from the messages: topics from watch.py's own per-message lines,
    events, anomalies and lines (QoS 1) from an independent subscriber."""
    topics = Counter(line.split(": ", 1)[0] for line in watch_out.splitlines() if line.startswith(base + "/"))
    events = {m.json()["event_id"]: m.json()["label"] for m in truth.on("/events")}
    anomalies = {m.json()["anomaly_id"]: m.json()["kind"] for m in truth.on("/anomalies")}
    crossings = truth.on("/walkway/lines/middle/crossing")
    totals = [m.json() for m in truth.snapshot() if m.topic == f"{base}/walkway/lines/middle"]
    lines = {"walkway/middle": LineTotal(totals[-1]["a_to_b"], totals[-1]["b_to_a"], len(crossings))} if totals else {}
    return Summary(
        base=base,
        messages=sum(topics.values()),
        retained_skipped=0,
        undecodable=0,
        events_by_label=dict(sorted(Counter(events.values()).items())),
        lines=lines,
        anomalies_by_kind=dict(sorted(Counter(anomalies.values()).items())),
        topics=dict(sorted(topics.items())),
        offline=True,
    )


def test_watch_summary_equals_what_was_received(tmp_path: Path, broker: MosquittoBroker, topic_prefix: str) -> None:
    """The watcher exits by itself after the agent's offline, with a summary equal to the received counts."""
    walkway = {"source": str(assets.video(assets.PEDESTRIANS)), "objects": ["person"], "lines": {"middle": LINE}}
    config = write_config(tmp_path / "agent.yaml", base_config(tmp_path, broker, topic_prefix, {"walkway": walkway}))
    base = f"{topic_prefix}/dev1"
    ready = tmp_path / "watch.ready"
    truth = Subscriber(broker.host, broker.port, f"{base}/#")
    watch = subprocess.Popen(
        [sys.executable, str(WATCH), "--host", broker.host, "--port", str(broker.port), "--topic", f"{base}/#",
         "--summary", "--until-offline", "--ready-file", str(ready)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_file(ready, watch)
        agent = AgentProcess(config)
        try:
            assert agent.wait(RUN_TIMEOUT_S) == 0, agent.log
        finally:
            agent.close()
        out, err = watch.communicate(timeout=WAIT_S)
        assert watch.returncode == 0, err
        assert truth.wait_for(lambda ms: any(m.topic == f"{base}/status" and m.payload == b"offline" for m in ms))
        expected = _expected(base, out, truth)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.communicate()
        truth.close()
    assert expected.events_by_label.get("person", 0) > 0, out[-2000:]
    assert expected.topics[f"{base}/events"] > 0
    assert render(expected, broker.host, broker.port) in out, out[-4000:]
