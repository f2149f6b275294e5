"""agent.cli.summary on payloads shaped like docs/mqtt.md's examples (each validated against its
schema before it is fed): distinct events per label, line totals, anomalies by kind, topics."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.cli.summary import LineTotal, SummaryBuilder, render
from tests.support.mqtt_doc import MQTT_DOC, example_schema, examples
from tests.support.schemas import validate

BASE = "edge-agent/demo"


def _example(schema: str, **changes: Any) -> bytes:
    """The first docs/mqtt.md example of `schema` with `changes`, checked against the schema."""
    first = next(e.payload for e in examples(MQTT_DOC.read_text(encoding="utf-8")) if example_schema(e) == schema)
    payload = {**first, **changes}
    validate(schema, payload)
    return json.dumps(payload).encode()


def _hex(n: int) -> str:
    return f"{n:032x}"


def _fed(messages: list[tuple[str, bytes, bool]]) -> SummaryBuilder:
    builder = SummaryBuilder(BASE)
    for topic, payload, retained in messages:
        builder.add(topic, payload, retained)
    return builder


def test_events_are_counted_once_per_event_id_by_label() -> None:
    """start, update and end of one event count once; two people and a car give person 2, car 1."""
    messages = [
        (f"{BASE}/events", _example("event", type=kind, event_id=_hex(i), label=label, end_ts=None), False)
        for i, label in ((1, "person"), (2, "person"), (3, "car"))
        for kind in ("start", "update")
    ]
    summary = _fed(messages).summary()
    assert summary.events_by_label == {"car": 1, "person": 2}
    assert summary.topics == {f"{BASE}/events": 6}
    assert summary.messages == 6


def test_line_totals_are_the_last_count_and_crossings_are_counted() -> None:
    """The last lines/<line> payload gives the totals; each crossing message is counted per line."""
    line = f"{BASE}/walkway/lines/middle"
    messages = [
        (line + "/crossing", _example("line-crossing", msg_id=_hex(1), direction="a_to_b"), False),
        (line, _example("line-count", a_to_b=1, b_to_a=0), False),
        (line + "/crossing", _example("line-crossing", msg_id=_hex(2), direction="b_to_a"), False),
        (line, _example("line-count", a_to_b=1, b_to_a=1), False),
    ]
    assert _fed(messages).summary().lines == {"walkway/middle": LineTotal(1, 1, 2)}


def test_anomalies_are_counted_once_per_anomaly_id_by_kind() -> None:
    """active then resolved of one anomaly counts once under its kind."""
    messages = [
        (f"{BASE}/anomalies", _example("anomaly", msg_id=_hex(i), anomaly_id=_hex(a), kind=kind), False)
        for i, (a, kind) in enumerate(((7, "tamper_blackout"), (7, "tamper_blackout"), (8, "loitering")))
    ]
    assert _fed(messages).summary().anomalies_by_kind == {"loitering": 1, "tamper_blackout": 1}


def test_retained_state_from_before_is_skipped_and_counted() -> None:
    """A retained total and a retained `offline` (an earlier run) are skipped, not summed."""
    line = f"{BASE}/walkway/lines/middle"
    builder = _fed([(line, _example("line-count", a_to_b=40, b_to_a=30), True), (f"{BASE}/status", b"offline", True)])
    summary = builder.summary()
    assert (summary.retained_skipped, summary.messages, summary.lines, summary.offline) == (2, 0, {}, False)


def test_a_live_offline_marks_the_device_stopped() -> None:
    """`online` then a live `offline` on the device's status topic means the run is over."""
    builder = _fed([(f"{BASE}/status", b"online", False)])
    assert not builder.offline
    builder.add(f"{BASE}/status", b"offline", False)
    assert builder.offline
    assert not _fed([(f"{BASE}/walkway/status", b"offline", False)]).offline  # a camera's, not the device's


def test_undecodable_payloads_are_counted() -> None:
    """A non-JSON event payload is counted as undecodable, not lost silently."""
    summary = _fed([(f"{BASE}/events", b"\xff not json", False)]).summary()
    assert (summary.undecodable, summary.messages, summary.events_by_label) == (1, 1, {})


@pytest.mark.parametrize(("host", "port"), [("127.0.0.1", 1883), ("broker.lan", 8883)])
def test_render_names_every_figure_and_a_ready_subscribe_line(host: str, port: int) -> None:
    """The rendered summary has each label, line, kind and topic, and a mosquitto_sub for the device."""
    line = f"{BASE}/walkway/lines/middle"
    summary = _fed(
        [
            (f"{BASE}/events", _example("event", event_id=_hex(1), label="person"), False),
            (line, _example("line-count", a_to_b=3, b_to_a=4), False),
            (f"{BASE}/anomalies", _example("anomaly", anomaly_id=_hex(2), kind="loitering"), False),
        ]
    ).summary()
    text = render(summary, host, port)
    assert "summary of 3 messages from edge-agent/demo" in text
    for needle in ("person", "walkway/middle", "3 / 4", "loitering", line):
        assert needle in text
    assert text.endswith(f"subscribe: mosquitto_sub -h {host} -p {port} -v -t '{BASE}/#'")
